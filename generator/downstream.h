/*
 * Downstream calls of one request, run on the loop threads (loop.h): URL calls with libcurl
 * (connection reuse, timeouts, both propagation headers, a CLIENT span each) and DUMMY calls
 * (a timer, an INTERNAL span with the size and duration), in slot order or all at once, after
 * the configured latency. A failing call (DNS, refused, timeout, TLS) becomes an error on its
 * span and the request goes on. Per-call log lines and metrics follow upstream ho11y.
 * HO11Y_CONNECT_TO (config.h) changes where a call connects, never its URL or its span.
 */
#ifndef HO11Y_GENERATOR_DOWNSTREAM_H
#define HO11Y_GENERATOR_DOWNSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "generator/config.h"
#include "generator/exporter.h"
#include "generator/instruments.h"
#include "generator/trace.h"

struct gen_call_ctx {
    uint8_t trace_id[GEN_TRACE_ID_LEN];
    uint8_t parent_id[GEN_SPAN_ID_LEN]; /* the request's SERVER span */
    const char *tracestate;             /* forwarded when non-empty */
    const char *xray_extra;             /* unknown X-Amzn-Trace-Id pairs to forward */
    const char *xray_id;                /* "1-..." for log lines and exemplars */
    int64_t latency_ns;                 /* waited before the calls */
    bool call_downstreams;              /* false: only wait (failed requests) */
    void (*done)(void *arg);            /* runs on a loop thread when everything ended */
    void *arg;
};

struct gen_downstream;

/**
 * Creates the engine with nloops loop threads. cfg, exp and ins are kept (not owned) and must
 * outlive the engine. NULL if a loop cannot start.
 */
struct gen_downstream *gen_downstream_new(const struct gen_config *cfg, struct gen_exporter *exp,
                                          struct gen_instruments *ins, unsigned nloops);

/** True when a request with this configuration waits for anything (calls or latency). */
bool gen_downstream_configured(const struct gen_config *cfg);

/**
 * Starts the work for one request. ctx and the strings it points to are borrowed until
 * ctx->done runs. Thread-safe.
 */
void gen_downstream_run(struct gen_downstream *ds, const struct gen_call_ctx *ctx);

/** Requests whose done callback has not run yet. Thread-safe. */
unsigned gen_downstream_in_flight(struct gen_downstream *ds);

/** Stops the loops (aborting anything still running) and frees the engine. NULL: no-op. */
void gen_downstream_free(struct gen_downstream *ds);

#endif
