/*
 * An OTLP/HTTP JSON trace receiver for `ho11yctl run` (libmicrohttpd, 127.0.0.1 only).
 *
 * It accepts `POST /v1/traces` with an ExportTraceServiceRequest in the OTLP JSON encoding (hex
 * ids, integer enums, 64-bit integers as strings or numbers, unknown fields ignored), keeps the
 * spans in a trace_set (cli/traces.h) and hands out finished traces. Request bodies are bounded
 * (413 past the bound); a body that is not such a request gets 400 with a google.rpc.Status;
 * spans that break the encoding rules (bad ids) are refused one by one and reported in
 * partialSuccess. Other paths answer 404, other methods 405, compressed bodies 415.
 *
 * The server runs on its own thread; every function here may be called from any thread.
 */
#ifndef HO11Y_CLI_OTLP_RECV_H
#define HO11Y_CLI_OTLP_RECV_H

#include <stddef.h>
#include <stdint.h>

#include "cli/traces.h"
#include "common/error.h"

#define OTLP_RECV_DEFAULT_MAX_BODY ((size_t)16 << 20)

struct otlp_recv;

struct otlp_recv_stats {
    uint64_t requests;       /* export requests answered 200 */
    uint64_t bad_requests;   /* answered 400, 413 or 415 */
    uint64_t spans;          /* spans accepted */
    uint64_t spans_refused;  /* spans refused for bad ids (partialSuccess) */
    uint64_t spans_dropped;  /* accepted but dropped at a bound of the trace set */
    uint64_t traces_pending; /* traces not yet handed out */
};

/**
 * Starts a receiver on 127.0.0.1 at an ephemeral port, with request bodies of at most max_body
 * bytes (0 = OTLP_RECV_DEFAULT_MAX_BODY). On HO11Y_OK *out is the receiver (free it with
 * otlp_recv_stop); otherwise a message is in err.
 */
enum ho11y_err otlp_recv_start(size_t max_body, struct otlp_recv **out, char *err, size_t errlen);

/** The port the receiver listens on. */
unsigned otlp_recv_port(const struct otlp_recv *r);

/**
 * Takes the finished traces (see traces_take) as of now: complete ones quiet for quiet_ns,
 * rootless ones quiet for orphan_ns, or every trace held when all is set. *out is a new array
 * the caller frees, together with each trace (trace_free). Returns the number of traces.
 */
size_t otlp_recv_take(struct otlp_recv *r, int64_t quiet_ns, int64_t orphan_ns, int all,
                      struct trace ***out);

/** A snapshot of the counters. */
void otlp_recv_stats(struct otlp_recv *r, struct otlp_recv_stats *out);

/** Stops the server (requests in progress are finished first) and frees everything. NULL ok. */
void otlp_recv_stop(struct otlp_recv *r);

/**
 * Parses one ExportTraceServiceRequest body and adds its spans to set at monotonic time now_ns.
 * *refused counts the spans skipped for bad ids (a message about the first is put in err).
 * Returns HO11Y_PARSE (nothing added, message in err) when the body is not such a request.
 * Borrowed arguments; not thread-safe for the same set.
 */
enum ho11y_err otlp_recv_parse(const char *body, size_t len, struct trace_set *set, int64_t now_ns,
                               size_t *refused, char *err, size_t errlen);

/** Monotonic time in nanoseconds (the clock the trace set's quiet periods use). */
int64_t otlp_recv_now(void);

#endif
