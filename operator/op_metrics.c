#include "op_metrics.h"

#include <stdio.h>
#include <string.h>

#include "common/units.h"
#include "kube/kube_util.h"

/* controller-runtime's reconcile time buckets. */
static const double reconcile_bounds[OP_METRICS_NBUCKETS] = {
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
    kube_histogram_observe(reconcile_bounds, OP_METRICS_NBUCKETS, m->buckets, &m->count, &m->sum,
                           seconds);
    pthread_mutex_unlock(&m->lock);
}

void op_metrics_write_header(struct hbuf *out, const char *name, const char *type, const char *help)
{
    hbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void op_metrics_write_histogram(struct hbuf *out, const char *name, const char *labels,
                                const double *bounds, const unsigned long long *buckets, size_t n,
                                double sum, unsigned long long count)
{
    const char *sep = labels[0] ? "," : "";
    char num[40];
    /* Bounds and sums are written as the Prometheus Go client writes them. */
    for (size_t i = 0; i < n; i++) {
        ho11y_float_format(bounds[i], false, num, sizeof(num));
        hbuf_addf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num, buckets[i]);
    }
    hbuf_addf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, count);
    ho11y_float_format(sum, false, num, sizeof(num));
    if (labels[0])
        hbuf_addf(out, "%s_sum{%s} %s\n%s_count{%s} %llu\n", name, labels, num, name, labels,
                  count);
    else
        hbuf_addf(out, "%s_sum %s\n%s_count %llu\n", name, num, name, count);
}

void op_metrics_write(struct op_metrics *m, const char *controller, struct hbuf *out)
{
    op_metrics_write_header(out, "controller_runtime_reconcile_total", "counter",
                            "Total number of reconciliations per controller");
    for (int i = 0; i < OP_METRICS_NRESULTS; i++)
        hbuf_addf(out, "controller_runtime_reconcile_total{controller=\"%s\",result=\"%s\"} %llu\n",
                  controller, result_names[i], atomic_load(&m->results[i]));
    op_metrics_write_header(out, "controller_runtime_reconcile_errors_total", "counter",
                            "Total number of reconciliation errors per controller");
    hbuf_addf(out, "controller_runtime_reconcile_errors_total{controller=\"%s\"} %llu\n",
              controller, atomic_load(&m->errors));
    op_metrics_write_header(out, "controller_runtime_reconcile_time_seconds", "histogram",
                            "Length of time per reconciliation per controller");
    char labels[256];
    snprintf(labels, sizeof(labels), "controller=\"%s\"", controller);
    pthread_mutex_lock(&m->lock);
    op_metrics_write_histogram(out, "controller_runtime_reconcile_time_seconds", labels,
                               reconcile_bounds, m->buckets, OP_METRICS_NBUCKETS, m->sum, m->count);
    pthread_mutex_unlock(&m->lock);
}
