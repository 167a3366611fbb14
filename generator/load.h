/*
 * Load mode: GET requests to one URL at a fixed open-loop rate. Request i is due at
 * start + i / rate on the monotonic clock, whatever happened to the earlier ones; when
 * `concurrency` requests are already in flight a due request is skipped and counted rather
 * than delayed (which would quietly lower the rate). With a request count, exactly that many
 * are sent: a due request then waits for a free slot instead (the count is what was asked for,
 * so a slow target lowers the rate, which the latency shows). Latency is measured from the due
 * time either way.
 *
 * Metrics: ho11y_load_requests_total{status_code}, ho11y_load_errors_total{reason},
 * ho11y_load_skipped_total, ho11y_load_target_rate, ho11y_load_achieved_rate (sent per second
 * over the last 10 s), ho11y_load_in_flight, ho11y_load_request_duration_seconds.
 */
#ifndef HO11Y_GENERATOR_LOAD_H
#define HO11Y_GENERATOR_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "generator/metrics.h"

struct gen_load_options {
    const char *target;   /* copied */
    double rate;          /* requests per second */
    unsigned concurrency; /* in-flight bound */
    int64_t duration_ns;  /* 0 = until stopped */
    uint64_t requests;    /* send exactly this many, then stop; 0 = no count */
    int64_t timeout_ns;   /* one request */
    /* CURLOPT_CONNECT_TO entries (HO11Y_CONNECT_TO), copied; NULL when nconnect_to is 0 */
    char *const *connect_to;
    size_t nconnect_to;
};

struct gen_load_stats {
    uint64_t sent, completed, errors, skipped;
};

struct gen_load;

/** Starts the driver on its own thread; reg is kept (not owned). NULL if it cannot start. */
struct gen_load *gen_load_start(const struct gen_load_options *opts, struct metrics_registry *reg);

/** A snapshot of the counters. Thread-safe. */
void gen_load_stats(struct gen_load *l, struct gen_load_stats *out);

/**
 * Stops sending, waits up to timeout_ns for requests in flight, aborts the rest and frees the
 * driver. NULL is a no-op.
 */
void gen_load_stop(struct gen_load *l, int64_t timeout_ns);

#endif
