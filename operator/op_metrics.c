#include "op_metrics.h"

#include <string.h>

/* controller-runtime's reconcile time buckets. */
static const double bounds[OP_METRICS_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2,    2.5, 3,    3.5, 4,    4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};

static const char *const result_names[OP_METRICS_NRESULTS] = {"success", "error", "requeue",
                                                              "requeue_after"};

void op_metrics_init(struct op_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void op_metrics_cleanup(struct op_metrics *m)
{
    if (m)
        pthread_mutex_destroy(&m->lock);
}

void op_metrics_observe(struct op_metrics *m, enum op_metrics_result result, double seconds)
{
    atomic_fetch_add(&m->results[result], 1);
    if (result == OP_METRICS_ERROR)
        atomic_fetch_add(&m->errors, 1);
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < OP_METRICS_NBUCKETS; i++)
        if (seconds <= bounds[i])
            m->buckets[i]++;
    m->count++;
    m->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void op_metrics_write(struct op_metrics *m, const char *controller, struct hbuf *out)
{
    hbuf_adds(out, "# HELP controller_runtime_reconcile_total Total number of reconciliations "
                   "per controller\n# TYPE controller_runtime_reconcile_total counter\n");
    for (int i = 0; i < OP_METRICS_NRESULTS; i++)
        hbuf_addf(out, "controller_runtime_reconcile_total{controller=\"%s\",result=\"%s\"} %llu\n",
                  controller, result_names[i], atomic_load(&m->results[i]));
    hbuf_addf(out,
              "# HELP controller_runtime_reconcile_errors_total Total number of reconciliation "
              "errors per controller\n# TYPE controller_runtime_reconcile_errors_total counter\n"
              "controller_runtime_reconcile_errors_total{controller=\"%s\"} %llu\n",
              controller, atomic_load(&m->errors));
    hbuf_adds(out, "# HELP controller_runtime_reconcile_time_seconds Length of time per "
                   "reconciliation per controller\n"
                   "# TYPE controller_runtime_reconcile_time_seconds histogram\n");
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < OP_METRICS_NBUCKETS; i++)
        hbuf_addf(out,
                  "controller_runtime_reconcile_time_seconds_bucket{controller=\"%s\",le=\"%g\"} "
                  "%llu\n",
                  controller, bounds[i], m->buckets[i]);
    hbuf_addf(out,
              "controller_runtime_reconcile_time_seconds_bucket{controller=\"%s\",le=\"+Inf\"} "
              "%llu\n"
              "controller_runtime_reconcile_time_seconds_sum{controller=\"%s\"} %.6f\n"
              "controller_runtime_reconcile_time_seconds_count{controller=\"%s\"} %llu\n",
              controller, m->count, controller, m->sum, controller, m->count);
    pthread_mutex_unlock(&m->lock);
}
