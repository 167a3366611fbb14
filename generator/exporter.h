/*
 * The span exporter: a bounded in-memory queue of spans (packed copies, or their JSON while the
 * exporter is behind) and one background thread that sends them as OTLP/HTTP JSON batches.
 *
 * Submitting never blocks: when the queue is full the span is dropped and counted. The thread
 * sends a batch when batch_max spans are queued or when delay has passed since the last export.
 * 429, 502, 503, 504 and transport failures are retried with exponential back-off and jitter
 * (honouring Retry-After) until the batch's export timeout runs out; 413 splits the batch; any
 * other status (400 included) drops it. partialSuccess.rejectedSpans is counted as rejected.
 *
 * Metrics (registered in the registry given to gen_exporter_new): ho11y_spans_created_total,
 * ho11y_spans_exported_total, ho11y_spans_rejected_total, ho11y_spans_dropped_total{reason},
 * ho11y_export_requests_total{status}, ho11y_export_errors_total{status},
 * ho11y_export_queue_spans, ho11y_export_queue_capacity_spans.
 */
#ifndef HO11Y_GENERATOR_EXPORTER_H
#define HO11Y_GENERATOR_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generator/metrics.h"
#include "generator/trace.h"

struct gen_exporter_options {
    bool enabled;               /* false: submit is a no-op and no thread runs */
    const char *url;            /* http(s) URL of /v1/traces */
    const char *const *headers; /* "Name: value" strings */
    size_t nheaders;
    const char *ca_file;        /* NULL = system CAs */
    size_t queue_max;           /* spans */
    size_t batch_max;           /* spans per request */
    int64_t delay_ns;           /* longest wait before a partial batch is sent */
    int64_t export_timeout_ns;  /* budget for one batch, retries included */
    int64_t request_timeout_ns; /* one HTTP request */
    const char *batch_prefix;   /* from otlp_batch_prefix */
    size_t batch_prefix_len;
};

struct gen_exporter_stats {
    uint64_t created, exported, rejected;
    uint64_t dropped_queue_full, dropped_export_failed, dropped_shutdown;
    uint64_t queued;
};

struct gen_exporter;

/**
 * Creates the exporter and starts its thread (when enabled). Options are copied. Returns NULL
 * if the thread cannot start. reg is kept (not owned) for the exporter's lifetime.
 */
struct gen_exporter *gen_exporter_new(const struct gen_exporter_options *opts,
                                      struct metrics_registry *reg);

/** Whether spans are exported at all (callers skip encoding otherwise). Thread-safe. */
bool gen_exporter_enabled(const struct gen_exporter *exp);

/**
 * Queues a copy of a span (packed, see trace.h, and encoded as OTLP JSON when its batch is
 * sent; encoded at once while half the queue is waiting); the span is only borrowed. Never blocks;
 * false when dropped (queue full, exporter disabled or shut down). Thread-safe.
 */
bool gen_exporter_submit_span(struct gen_exporter *exp, const struct gen_span *span);

/**
 * Sends what is queued, giving up after timeout_ns (what is left is counted as dropped with
 * reason "shutdown"), and stops the thread. Later submissions are dropped. Call once.
 */
void gen_exporter_shutdown(struct gen_exporter *exp, int64_t timeout_ns);

/** A snapshot of the counters. Thread-safe. */
void gen_exporter_stats(struct gen_exporter *exp, struct gen_exporter_stats *out);

/** Frees the exporter (shutting it down first with no time to flush if needed). NULL: no-op. */
void gen_exporter_free(struct gen_exporter *exp);

#endif
