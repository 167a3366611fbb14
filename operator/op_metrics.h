/*
 * Reconcile counters and the reconcile time histogram, with controller-runtime's names and
 * buckets, and the pieces every family of /metrics shares (HELP and TYPE lines, histograms),
 * written in the Prometheus text format 0.0.4. Thread-safe.
 */
#ifndef HO11Y_OP_METRICS_H
#define HO11Y_OP_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "common/buf.h"

#define OP_METRICS_NBUCKETS 40

enum op_metrics_result {
    OP_METRICS_SUCCESS,
    OP_METRICS_ERROR,
    OP_METRICS_REQUEUE,
    OP_METRICS_REQUEUE_AFTER,
    OP_METRICS_NRESULTS
};

struct op_metrics {
    atomic_ullong results[OP_METRICS_NRESULTS];
    atomic_ullong errors;
    pthread_mutex_t lock;
    unsigned long long buckets[OP_METRICS_NBUCKETS]; /* cumulative */
    unsigned long long count;
    double sum;
};

/** Prepares the counters; the caller owns the storage. */
void op_metrics_init(struct op_metrics *m);
/** Releases the lock; NULL is a no-op. */
void op_metrics_cleanup(struct op_metrics *m);
/** Counts one reconcile with its result and duration. */
void op_metrics_observe(struct op_metrics *m, enum op_metrics_result result, double seconds);
/** Appends the controller_runtime_reconcile_* families for controller name to out. */
void op_metrics_write(struct op_metrics *m, const char *controller, struct hbuf *out);

/**
 * Appends the "# HELP name help" and "# TYPE name type" lines that open a family. All strings
 * are borrowed; help must not contain a newline or a backslash. Thread-safe.
 */
void op_metrics_write_header(struct hbuf *out, const char *name, const char *type,
                             const char *help);
/**
 * Appends the samples of one histogram: name_bucket{labels,le="bound"} for each of the n
 * bounds (ascending), where buckets[i] counts the observations <= bounds[i] (cumulative, as the
 * text format wants them), le="+Inf" with count, then name_sum and name_count. labels is a
 * label list without braces (`controller="topology"`) or "". No HELP or TYPE lines. Everything
 * is borrowed; thread-safe as long as the caller keeps the arrays still.
 */
void op_metrics_write_histogram(struct hbuf *out, const char *name, const char *labels,
                                const double *bounds, const unsigned long long *buckets, size_t n,
                                double sum, unsigned long long count);

#endif
