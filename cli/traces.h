/*
 * Assembling spans into traces for `ho11yctl run`, and printing a trace as an indented tree.
 *
 * Spans come in any order and from several processes (each service exports its own batches),
 * so a trace is only known to be complete by waiting: it is finished when its root SERVER span
 * (a SERVER span without a parent) has arrived and no span of the trace arrived for a quiet
 * period since. A trace whose root never comes (its root span was dropped, or a request was
 * sent straight to an inner service that then died) is handed out as incomplete after a longer
 * wait, or at the end of the run.
 *
 * Everything held is bounded: at most TRACES_MAX_SPANS spans in total and TRACES_MAX_TRACE_SPANS
 * per trace; spans past a bound are counted as dropped. A trace_set is not thread-safe: the
 * receiver (otlp_recv.h) serialises access to it.
 */
#ifndef HO11Y_CLI_TRACES_H
#define HO11Y_CLI_TRACES_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define TRACES_MAX_SPANS       200000
#define TRACES_MAX_TRACE_SPANS 4096

/* OTLP span kinds and status codes (the wire numbering). */
enum { TRACES_KIND_INTERNAL = 1, TRACES_KIND_SERVER = 2, TRACES_KIND_CLIENT = 3 };
enum { TRACES_STATUS_UNSET = 0, TRACES_STATUS_OK = 1, TRACES_STATUS_ERROR = 2 };

/** One received span, with what the tree shows. Strings are owned by the span. */
struct trace_span {
    char trace_id[33];  /* lower-case hex */
    char span_id[17];   /* lower-case hex */
    char parent_id[17]; /* "" for a root span */
    char *service;      /* resource service.name; never NULL ("?" when absent) */
    char *name;         /* never NULL */
    char *url;          /* url.full or http.url; NULL when absent */
    char *status_message;
    int kind;
    int status;
    long http_code; /* http.response.status_code or http.status_code; 0 when absent */
    int64_t start_ns, end_ns;
};

/** A trace handed out by traces_take: spans in arrival order. Free with trace_free. */
struct trace {
    char trace_id[33];
    struct trace_span *spans;
    size_t nspans;
    size_t dropped; /* spans past TRACES_MAX_TRACE_SPANS */
    int complete;   /* the root SERVER span arrived */
    /* internal bookkeeping */
    int64_t first_mono, last_mono;
    struct trace *next;
};

struct trace_set;

/** A new, empty set. Never NULL; free with traces_free. */
struct trace_set *traces_new(void);

/** Frees the set and every trace still in it. NULL is a no-op. */
void traces_free(struct trace_set *s);

/**
 * Adds one span, received at monotonic time now_ns. The set takes the span's strings (span is
 * left zeroed); when a bound is reached the span is freed and counted as dropped instead.
 */
void traces_add(struct trace_set *s, struct trace_span *span, int64_t now_ns);

/**
 * Removes and returns (through *out, a new array the caller frees together with each trace) the
 * traces that are finished at monotonic time now_ns: complete ones quiet for quiet_ns, and
 * rootless ones quiet for orphan_ns (returned with complete = 0). With all set, every trace is
 * returned. Traces come out ordered by the start time of their earliest span. Returns the count.
 */
size_t traces_take(struct trace_set *s, int64_t now_ns, int64_t quiet_ns, int64_t orphan_ns,
                   int all, struct trace ***out);

/** Spans added so far, and spans dropped at a bound. */
void traces_counts(const struct trace_set *s, uint64_t *received, uint64_t *dropped);

/** Number of traces held (not yet taken). */
size_t traces_pending(const struct trace_set *s);

/** Frees a trace returned by traces_take. NULL is a no-op. */
void trace_free(struct trace *t);

/*
 * Returns a short label for a CLIENT span's URL (e.g. the name of the local service listening
 * there), or NULL to show the URL itself. The result is borrowed for the duration of the call.
 */
typedef const char *(*trace_url_label_fn)(void *arg, const char *url);

/**
 * Appends the trace as text: a header line
 *     trace 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx: N spans, E errors, D ms
 * (with ", incomplete: no root span" when it is one), then one line per span, indented by two
 * spaces per level below the header, children ordered by start time:
 *     SERVICE: NAME [server|client|internal] STATUS D ms
 * NAME is the span name; for a CLIENT span "GET" becomes "GET <label or URL>". STATUS is the
 * HTTP code when there is one, followed by " error" for an ERROR span, or "ok" / "error"
 * without a code; an error's message follows in parentheses. A span whose parent is not in the
 * trace is shown at the top level. label may be NULL. Returns HO11Y_LIMIT when out is full.
 */
enum ho11y_err trace_format(const struct trace *t, trace_url_label_fn label, void *label_arg,
                            struct hbuf *out);

/** True when the span is an error: status ERROR, or an HTTP code of 400 or more. */
int trace_span_failed(const struct trace_span *sp);

#endif
