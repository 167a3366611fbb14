/*
 * Reconcile counters and the reconcile time histogram, with controller-runtime's names and
 * buckets, written in the Prometheus text format. Thread-safe.
 */
#ifndef HO11Y_OP_METRICS_H
#define HO11Y_OP_METRICS_H

#include <pthread.h>
#include <stdatomic.h>

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
    unsigned long long buckets[OP_METRICS_NBUCKETS];
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

#endif
