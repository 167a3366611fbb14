/*
 * GET / as upstream ho11y answers it, independent of the HTTP server library: read the trace
 * context, open the SERVER span, throttle (429), inject failures (a code from the list, empty
 * body, no downstream calls), else count and log the invocation, run the downstream calls and
 * answer {"traceId":"1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"}.
 */
#ifndef HO11Y_GENERATOR_HANDLER_H
#define HO11Y_GENERATOR_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "generator/config.h"
#include "generator/downstream.h"
#include "generator/exporter.h"
#include "generator/instruments.h"

/* What the server knows about the request; every string is borrowed for the call only. */
struct gen_request_info {
    const char *traceparent; /* header values, NULL when absent */
    const char *tracestate;
    const char *xray;
    const char *user_agent;
    const char *peer_addr; /* client IP as text, or NULL */
    unsigned peer_port;
    unsigned local_port;
};

struct gen_handler;
struct gen_request;

/**
 * Creates the handler. cfg, exp, ins and ds are kept (not owned) and outlive it; ds may be NULL
 * when gen_downstream_configured(cfg) is false.
 */
struct gen_handler *gen_handler_new(const struct gen_config *cfg, struct gen_exporter *exp,
                                    struct gen_instruments *ins, struct gen_downstream *ds);
/** Frees the handler (NULL: no-op). */
void gen_handler_free(struct gen_handler *h);

/**
 * Starts answering one GET /: reads the context, decides the status, counts and logs it.
 * Returns the request (owned by the caller until gen_handler_finish). When *wait is false the
 * response is ready; otherwise the caller calls gen_handler_run. Thread-safe.
 */
struct gen_request *gen_handler_begin(struct gen_handler *h, const struct gen_request_info *info,
                                      bool *wait);

/**
 * Runs the waiting part (latency, downstream calls); resume(resume_arg) runs once, on another
 * thread, when the response is ready. Thread-safe.
 */
void gen_handler_run(struct gen_handler *h, struct gen_request *r, void (*resume)(void *),
                     void *resume_arg);

/** The HTTP status to send (valid once the response is ready). */
int gen_request_status(const struct gen_request *r);

/** The body to send ("" with length 0 for failures); borrowed until gen_handler_finish. */
const char *gen_request_body(const struct gen_request *r, size_t *len);

/** Ends the SERVER span (exporting it), records the duration, and frees r. Thread-safe. */
void gen_handler_finish(struct gen_handler *h, struct gen_request *r);

#endif
