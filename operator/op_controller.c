#include "op_controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/constants.h"
#include "common/alloc.h"
#include "common/log.h"
#include "kube/kube_util.h"
#include "op_internal.h"
#include "op_status.h"

/* Status-only changes of children (a Deployment's replica counts) wait this long, so that
 * several of them are handled by one reconcile and one status write. */
#define STATUS_COALESCE_MS 250

const struct kube_resource *const op_kind_resource[OP_KIND_COUNT] = {
    &kube_res_serviceaccounts, &kube_res_configmaps, &kube_res_services, &kube_res_deployments};
const char *const op_kind_name[OP_KIND_COUNT] = {"ServiceAccount", "ConfigMap", "Service",
                                                 "Deployment"};

int op_kind_of(const char *kind)
{
    for (int i = 0; kind && i < OP_KIND_COUNT; i++)
        if (strcmp(kind, op_kind_name[i]) == 0)
            return i;
    return -1;
}

void op_child_key(char *out, size_t outlen, enum op_kind kind, const char *ns, const char *name)
{
    snprintf(out, outlen, "%s/%s/%s", op_kind_name[kind], ns, name);
}

/* ---- informer callbacks ---- */

static void *trim_topology(void *ud, const cJSON *obj, size_t head)
{
    return op_topology_trim(obj, head);
}

static int same_topology(const void *a, const void *b)
{
    return op_topology_same(a, b);
}

/* Whether status (compact JSON) is the one this process wrote last for key. */
static int own_status(struct op_controller *ctl, const char *key, const char *status)
{
    if (!status)
        return 0;
    cJSON *st = cJSON_Parse(status);
    unsigned char d[OP_DIGEST_LEN];
    op_digest_all(st, d);
    cJSON_Delete(st);
    pthread_mutex_lock(&ctl->state_lock);
    struct op_topo_state *s = kube_map_get(&ctl->states, key);
    int own = s && s->status_written && memcmp(s->status_digest, d, OP_DIGEST_LEN) == 0;
    pthread_mutex_unlock(&ctl->state_lock);
    return own;
}

static void on_topology(void *ud, const char *key, const void *old_rec, const void *new_rec)
{
    struct op_controller *ctl = ud;
    const struct op_topology *o = old_rec, *n = new_rec;
    if (o && n && strcmp(o->json, n->json) == 0 && o->deleting == n->deleting &&
        o->generation == n->generation && strcmp(o->uid, n->uid) == 0) {
        /* Only the status changed: usually our own write coming back. */
        char *status = op_topology_status_text(n);
        int own = own_status(ctl, key, status);
        free(status);
        if (own)
            return;
        kube_queue_add_after(ctl->queue, key, STATUS_COALESCE_MS);
        return;
    }
    kube_queue_add(ctl->queue, key);
}

static void *trim_child(void *ud, const cJSON *obj, size_t head)
{
    return op_child_trim(obj, head);
}

static int same_child(const void *a, const void *b)
{
    return op_child_same(a, b);
}

/* "ns/owner" of the child under key ("ns/name") into out; 0 when no Topology controls it. */
static int owner_key(char *out, size_t outlen, const char *key, const struct op_child *c)
{
    const char *owner = c ? op_child_owner_name(c) : NULL;
    const char *slash = strchr(key, '/');
    if (!owner || !slash)
        return 0;
    snprintf(out, outlen, "%.*s/%s", (int)(slash - key), key, owner);
    return 1;
}

/* Whether the child record n is what its Topology (tkey) last verified for child key ck. */
static int verified_matches(struct op_controller *ctl, const char *tkey, const char *ck,
                            const struct op_child *n)
{
    struct op_verified v;
    return op__verified_get(ctl, tkey, ck, &v) && !v.deleted && op__verified_uid_is(&v, &n->uid) &&
           memcmp(v.live, n->digest, OP_DIGEST_LEN) == 0;
}

static void on_child(void *ud, const char *key, const void *old_rec, const void *new_rec)
{
    struct op_child_source *src = ud;
    struct op_controller *ctl = src->ctl;
    const struct op_child *o = old_rec, *n = new_rec;
    char ck[512], otkey[512], ntkey[512];
    snprintf(ck, sizeof(ck), "%s/%s", op_kind_name[src->kind], key); /* "Kind/ns/name" */
    int o_owned = owner_key(otkey, sizeof(otkey), key, o);
    int n_owned = owner_key(ntkey, sizeof(ntkey), key, n);
    int owner_changed = o_owned && (!n_owned || strcmp(otkey, ntkey) != 0);
    /* What the old owner verified no longer holds once the object is gone or not its own. */
    if (owner_changed)
        op__verified_forget(ctl, otkey, ck, &o->uid);
    int status_only =
        o && n && memcmp(o->digest, n->digest, OP_DIGEST_LEN) == 0 && o->deleting == n->deleting;
    /* Our own create or update coming back through the watch: nothing to apply, only the
     * readiness it may carry, so it is coalesced like a status change. */
    if (n_owned && !status_only && !n->deleting && verified_matches(ctl, ntkey, ck, n))
        status_only = 1;
    int64_t delay = status_only ? STATUS_COALESCE_MS : 0;
    if (n_owned)
        kube_queue_add_after(ctl->queue, ntkey, delay);
    if (owner_changed)
        kube_queue_add_after(ctl->queue, otkey, delay);
    /* Topologies waiting for this name (a conflict) look again. */
    char *waiting = NULL;
    pthread_mutex_lock(&ctl->state_lock);
    waiting = xstrdup(kube_map_get(&ctl->conflicts, ck));
    pthread_mutex_unlock(&ctl->state_lock);
    for (char *p = waiting; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        kube_queue_add_after(ctl->queue, p, delay);
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(waiting);
}

struct op_controller *op_controller_new(struct kube_client *client,
                                        const struct op_controller_opts *opts)
{
    struct op_controller *ctl = xcalloc(1, sizeof(*ctl));
    ctl->client = client;
    ctl->ns = opts->ns && opts->ns[0] ? xstrdup(opts->ns) : NULL;
    ctl->workers = opts->workers > 0 ? opts->workers : 1;
    ctl->generator_image = xstrdup(opts->generator_image);
    ctl->collector_image = xstrdup(opts->collector_image);
    ctl->pull_policy = xstrdup(opts->pull_policy);
    ctl->identity = xstrdup(opts->identity ? opts->identity : "ho11y-operator");
    ctl->queue = kube_queue_new();
    ctl->events = op_events_new(TOPO_MANAGED_BY_VALUE, ctl->identity);
    op_metrics_init(&ctl->metrics);
    pthread_mutex_init(&ctl->state_lock, NULL);
    kube_map_init(&ctl->states);
    kube_map_init(&ctl->conflicts);
    pthread_mutex_init(&ctl->lead_lock, NULL);
    pthread_cond_init(&ctl->lead_cond, NULL);

    ctl->topology_ops = (struct kube_informer_ops){
        .trim = trim_topology, .same = same_topology, .on_change = on_topology, .ud = ctl};
    struct kube_informer_opts io = {.name = "topologies",
                                    .res = &kube_res_topologies,
                                    .ns = ctl->ns,
                                    .ops = &ctl->topology_ops};
    ctl->topologies = kube_informer_new(client, &io);
    for (int k = 0; k < OP_KIND_COUNT; k++) {
        ctl->sources[k] = (struct op_child_source){ctl, (enum op_kind)k};
        ctl->child_ops[k] = (struct kube_informer_ops){
            .trim = trim_child, .same = same_child, .on_change = on_child, .ud = &ctl->sources[k]};
        struct kube_informer_opts co = {.name = op_kind_resource[k]->plural,
                                        .res = op_kind_resource[k],
                                        .ns = ctl->ns,
                                        .label_selector =
                                            TOPO_LABEL_MANAGED_BY "=" TOPO_MANAGED_BY_VALUE,
                                        .ops = &ctl->child_ops[k]};
        ctl->children[k] = kube_informer_new(client, &co);
    }
    return ctl;
}

/* ---- workers ---- */

struct enqueue_ctx {
    struct kube_queue *q;
};

static int enqueue_all(void *ud, const char *key, const void *rec)
{
    kube_queue_add(((struct enqueue_ctx *)ud)->q, key);
    return 0;
}

static enum op_metrics_result metrics_result(enum op_result r)
{
    switch (r) {
    case OP_RESULT_SUCCESS:
        return OP_METRICS_SUCCESS;
    case OP_RESULT_REQUEUE_AFTER:
        return OP_METRICS_REQUEUE_AFTER;
    default:
        return OP_METRICS_ERROR;
    }
}

/* Waits until this process leads (returns 1) or the controller stops (returns 0). */
static int wait_leading(struct op_controller *ctl)
{
    pthread_mutex_lock(&ctl->lead_lock);
    while (!ctl->leading && !ctl->stopping)
        pthread_cond_wait(&ctl->lead_cond, &ctl->lead_lock);
    int ok = !ctl->stopping;
    pthread_mutex_unlock(&ctl->lead_lock);
    return ok;
}

static int is_leading(struct op_controller *ctl)
{
    pthread_mutex_lock(&ctl->lead_lock);
    int l = ctl->leading && !ctl->stopping;
    pthread_mutex_unlock(&ctl->lead_lock);
    return l;
}

static void *worker_main(void *arg)
{
    struct op_controller *ctl = arg;
    struct kube_conn *conn = kube_conn_new(ctl->client, &ctl->cancel);
    while (wait_leading(ctl)) {
        char *key = kube_queue_get_timeout(ctl->queue, 500);
        if (!key) {
            if (kube_queue_shutting_down(ctl->queue))
                break;
            continue;
        }
        if (!is_leading(ctl)) {
            /* Leadership went while we waited: the next leader takes the key over. */
            kube_queue_done(ctl->queue, key);
            free(key);
            continue;
        }
        atomic_fetch_add(&ctl->in_flight, 1);
        int64_t t0 = kube_now_ms(), after = 0;
        enum op_result r = op_reconcile(ctl, conn, key, &after);
        double secs = (double)(kube_now_ms() - t0) / 1000.0;
        op_metrics_observe(&ctl->metrics, metrics_result(r), secs);
        if (atomic_load(&ctl->cancel)) {
            /* Aborted: leadership lost or a hard stop; nothing is retried here. */
        } else if (r == OP_RESULT_SUCCESS) {
            kube_queue_forget(ctl->queue, key);
        } else if (r == OP_RESULT_REQUEUE_AFTER) {
            kube_queue_forget(ctl->queue, key);
            kube_queue_add_after(ctl->queue, key, after);
        } else {
            int64_t d = kube_queue_add_rate_limited_min(ctl->queue, key, after);
            LOG_DEBUG("Reconcile of topology %s failed; retrying in %lld ms", key, (long long)d);
        }
        LOG_DEBUG("Reconciled topology %s in %.3f s", key, secs);
        log_ctx_clear(); /* set by op_reconcile */
        kube_queue_done(ctl->queue, key);
        atomic_fetch_sub(&ctl->in_flight, 1);
        free(key);
    }
    kube_conn_free(conn);
    return NULL;
}

enum ho11y_err op_controller_start(struct op_controller *ctl)
{
    if (ctl->started)
        return HO11Y_OK;
    if (kube_informer_start(ctl->topologies))
        return HO11Y_INTERNAL;
    for (int k = 0; k < OP_KIND_COUNT; k++)
        if (kube_informer_start(ctl->children[k]))
            return HO11Y_INTERNAL;
    ctl->threads = xcalloc((size_t)ctl->workers, sizeof(pthread_t));
    for (int i = 0; i < ctl->workers; i++)
        if (pthread_create(&ctl->threads[i], NULL, worker_main, ctl) != 0)
            return HO11Y_INTERNAL;
    ctl->started = 1;
    return HO11Y_OK;
}

void op_controller_set_leading(struct op_controller *ctl, int leading)
{
    pthread_mutex_lock(&ctl->lead_lock);
    int was = ctl->leading, stopping = ctl->stopping;
    ctl->leading = leading;
    if (leading && !was)
        atomic_store(&ctl->cancel, 0);
    if (!leading && was)
        atomic_store(&ctl->cancel, 1); /* abort the requests in flight at once */
    pthread_cond_broadcast(&ctl->lead_cond);
    pthread_mutex_unlock(&ctl->lead_lock);
    if (leading && !was) {
        struct enqueue_ctx ec = {ctl->queue};
        kube_informer_foreach(ctl->topologies, enqueue_all, &ec);
        LOG_INFO("Started reconciling (%zu topologies)", kube_informer_count(ctl->topologies));
    } else if (!leading && was && !stopping) {
        LOG_WARN("Stopped reconciling: leadership lost");
    }
}

size_t op_controller_resync(struct op_controller *ctl)
{
    pthread_mutex_lock(&ctl->lead_lock);
    int leading = ctl->leading && !ctl->stopping;
    pthread_mutex_unlock(&ctl->lead_lock);
    if (!leading)
        return 0;
    struct enqueue_ctx ec = {ctl->queue};
    kube_informer_foreach(ctl->topologies, enqueue_all, &ec);
    return kube_informer_count(ctl->topologies);
}

int op_controller_synced(struct op_controller *ctl, char *why, size_t whylen)
{
    int ok = 1;
    size_t n = 0;
    if (why && whylen)
        why[0] = '\0';
    struct kube_informer *all[1 + OP_KIND_COUNT] = {ctl->topologies};
    for (int k = 0; k < OP_KIND_COUNT; k++)
        all[k + 1] = ctl->children[k];
    for (int i = 0; i < 1 + OP_KIND_COUNT; i++) {
        if (kube_informer_synced(all[i]))
            continue;
        ok = 0;
        if (why && n < whylen) {
            int w =
                snprintf(why + n, whylen - n, "%s%s", n ? ", " : "", kube_informer_name(all[i]));
            if (w > 0)
                n += (size_t)w;
        }
    }
    return ok;
}

int op_controller_wait_synced(struct op_controller *ctl, int64_t timeout_ms)
{
    int64_t end = kube_now_ms() + timeout_ms;
    while (!op_controller_synced(ctl, NULL, 0)) {
        if (kube_now_ms() >= end)
            return 0;
        usleep(20000);
    }
    return 1;
}

struct postponed_ctx {
    struct kube_queue *q;
    unsigned n;
};

/* Counts the states with a postponed status write, and enqueues their keys when q is set. */
static int find_postponed(void *ud, const char *key, void *value)
{
    struct postponed_ctx *pc = ud;
    const struct op_topo_state *s = value;
    if (s->status_postponed) {
        if (pc->q)
            kube_queue_add(pc->q, key);
        pc->n++;
    }
    return 0;
}

static unsigned count_postponed(struct op_controller *ctl, struct kube_queue *enqueue_to)
{
    struct postponed_ctx pc = {enqueue_to, 0};
    pthread_mutex_lock(&ctl->state_lock);
    kube_map_foreach(&ctl->states, find_postponed, &pc);
    pthread_mutex_unlock(&ctl->state_lock);
    return pc.n;
}

/*
 * Before a leader stops: the status changes that only wait for their progress interval (see
 * write_status) are written now, rather than left to the next leader, which may never come.
 * A write that fails is retried as usual (backoff); the wait ends when every one is written,
 * when leadership goes, or at end (kube_now_ms), and says what was left unwritten.
 */
static void flush_postponed(struct op_controller *ctl, int64_t end)
{
    atomic_store(&ctl->flushing, 1);
    unsigned n = count_postponed(ctl, ctl->queue), left = n;
    if (!n)
        return;
    LOG_INFO("Writing %u postponed status change%s before stopping", n, n == 1 ? "" : "s");
    while (left && is_leading(ctl) && kube_now_ms() < end) {
        usleep(10000);
        left = count_postponed(ctl, NULL);
    }
    if (left)
        LOG_WARN("%u of %u postponed status changes not written before stopping%s", left, n,
                 is_leading(ctl) ? " (time is up)" : " (leadership lost)");
}

void op_controller_stop(struct op_controller *ctl, int64_t drain_ms)
{
    if (!ctl->started)
        return;
    /* The flush has up to half the drain time; the reconciles in flight then have the rest. */
    int64_t start = kube_now_ms(), end = start + drain_ms;
    if (drain_ms > 0 && is_leading(ctl))
        flush_postponed(ctl, start + drain_ms / 2);
    pthread_mutex_lock(&ctl->lead_lock);
    ctl->stopping = 1;
    pthread_cond_broadcast(&ctl->lead_cond);
    pthread_mutex_unlock(&ctl->lead_lock);
    kube_queue_shutdown(ctl->queue);
    while (atomic_load(&ctl->in_flight) > 0 && kube_now_ms() < end)
        usleep(10000);
    if (atomic_load(&ctl->in_flight) > 0) {
        LOG_WARN("Reconciles still running after %lld ms; aborting them", (long long)drain_ms);
        atomic_store(&ctl->cancel, 1);
    }
    for (int i = 0; i < ctl->workers; i++)
        pthread_join(ctl->threads[i], NULL);
    free(ctl->threads);
    ctl->threads = NULL;
    /* Every watch is told first, then each is waited for: they wind down together. */
    kube_informer_stop_async(ctl->topologies);
    for (int k = 0; k < OP_KIND_COUNT; k++)
        kube_informer_stop_async(ctl->children[k]);
    kube_informer_stop(ctl->topologies);
    for (int k = 0; k < OP_KIND_COUNT; k++)
        kube_informer_stop(ctl->children[k]);
    atomic_store(&ctl->flushing, 0);
    ctl->started = 0;
}

static void free_state(void *p)
{
    op__state_free(p);
}

void op_controller_free(struct op_controller *ctl)
{
    if (!ctl)
        return;
    op_controller_stop(ctl, 0);
    kube_informer_free(ctl->topologies);
    for (int k = 0; k < OP_KIND_COUNT; k++)
        kube_informer_free(ctl->children[k]);
    kube_queue_free(ctl->queue);
    op_events_free(ctl->events);
    op_metrics_cleanup(&ctl->metrics);
    kube_map_cleanup(&ctl->states, free_state);
    kube_map_cleanup(&ctl->conflicts, free);
    pthread_mutex_destroy(&ctl->state_lock);
    pthread_mutex_destroy(&ctl->lead_lock);
    pthread_cond_destroy(&ctl->lead_cond);
    free(ctl->ns);
    free(ctl->generator_image);
    free(ctl->collector_image);
    free(ctl->pull_policy);
    free(ctl->identity);
    free(ctl);
}

/* ---- metrics ---- */

struct topo_counts {
    unsigned long long n[6];
};

static const char *const topo_conditions[6] = {"Ready",        "NotReady", "InvalidSpec",
                                               "NameConflict", "ApiError", "Unknown"};

static int count_topology(void *ud, const char *key, const void *rec)
{
    struct topo_counts *tc = ud;
    const struct op_topology *t = rec;
    char *status = op_topology_status_text(t);
    cJSON *st = status ? cJSON_Parse(status) : NULL;
    free(status);
    int rec_true = 0, ready_true = 0;
    const char *reason = NULL;
    int idx = 5;
    if (op_status_condition(st, "Reconciled", &rec_true, &reason)) {
        if (!rec_true && strcmp(reason, "InvalidSpec") == 0)
            idx = 2;
        else if (!rec_true && strcmp(reason, "NameConflict") == 0)
            idx = 3;
        else if (!rec_true)
            idx = 4;
        else if (op_status_condition(st, "Ready", &ready_true, NULL) && ready_true)
            idx = 0;
        else
            idx = 1;
    }
    tc->n[idx]++;
    cJSON_Delete(st);
    return 0;
}

struct rest_ctx {
    struct hbuf *out;
    const char *host;
    const char *family; /* of the duration histograms */
};

static void write_rest_stat(void *ud, const char *method, long code, unsigned long long count)
{
    const struct rest_ctx *rc = ud;
    if (code)
        hbuf_addf(rc->out,
                  "rest_client_requests_total{code=\"%ld\",host=\"%s\",method=\"%s\"} %llu\n", code,
                  rc->host, method, count);
    else
        hbuf_addf(rc->out,
                  "rest_client_requests_total{code=\"<error>\",host=\"%s\",method=\"%s\"} %llu\n",
                  rc->host, method, count);
}

static void write_rest_duration(void *ud, const char *method, const unsigned long long *buckets,
                                double sum, unsigned long long count)
{
    const struct rest_ctx *rc = ud;
    char labels[512];
    snprintf(labels, sizeof(labels), "host=\"%s\",verb=\"%s\"", rc->host, method);
    op_metrics_write_histogram(rc->out, rc->family, labels, kube_client_duration_bounds, buckets,
                               KUBE_CLIENT_NBUCKETS, sum, count);
}

#define QUEUE_LABELS "controller=\"topology\",name=\"topology\""

/* The work queue's families, client-go's workqueue metrics with controller-runtime's labels. */
static void write_queue_metrics(struct op_controller *ctl, struct hbuf *out)
{
    struct kube_queue_stats qs;
    kube_queue_get_stats(ctl->queue, &qs);
    op_metrics_write_header(out, "workqueue_depth", "gauge", "Current depth of workqueue");
    hbuf_addf(out, "workqueue_depth{" QUEUE_LABELS "} %llu\n", (unsigned long long)qs.depth);
    op_metrics_write_header(out, "workqueue_adds_total", "counter",
                            "Total number of adds handled by workqueue");
    hbuf_addf(out, "workqueue_adds_total{" QUEUE_LABELS "} %llu\n", (unsigned long long)qs.adds);
    op_metrics_write_header(out, "workqueue_retries_total", "counter",
                            "Total number of retries handled by workqueue");
    hbuf_addf(out, "workqueue_retries_total{" QUEUE_LABELS "} %llu\n",
              (unsigned long long)qs.retries);
    op_metrics_write_header(out, "workqueue_queue_duration_seconds", "histogram",
                            "How long in seconds an item stays in workqueue before being "
                            "requested");
    op_metrics_write_histogram(out, "workqueue_queue_duration_seconds", QUEUE_LABELS,
                               kube_queue_bounds, qs.queued.buckets, KUBE_QUEUE_NBUCKETS,
                               qs.queued.sum, qs.queued.count);
    op_metrics_write_header(out, "workqueue_work_duration_seconds", "histogram",
                            "How long in seconds processing an item from workqueue takes");
    op_metrics_write_histogram(out, "workqueue_work_duration_seconds", QUEUE_LABELS,
                               kube_queue_bounds, qs.worked.buckets, KUBE_QUEUE_NBUCKETS,
                               qs.worked.sum, qs.worked.count);
    op_metrics_write_header(out, "workqueue_unfinished_work_seconds", "gauge",
                            "How many seconds of work has been done that is in progress and "
                            "hasn't been observed by work_duration. Large values indicate stuck "
                            "threads. One can deduce the number of stuck threads by observing "
                            "the rate at which this increases.");
    hbuf_addf(out, "workqueue_unfinished_work_seconds{" QUEUE_LABELS "} %.9g\n", qs.unfinished_s);
    op_metrics_write_header(out, "workqueue_longest_running_processor_seconds", "gauge",
                            "How many seconds has the longest running processor for workqueue "
                            "been running.");
    hbuf_addf(out, "workqueue_longest_running_processor_seconds{" QUEUE_LABELS "} %.9g\n",
              qs.longest_s);
}

void op_controller_write_metrics(struct op_controller *ctl, struct hbuf *out)
{
    op_metrics_write(&ctl->metrics, "topology", out);
    op_metrics_write_header(out, "controller_runtime_max_concurrent_reconciles", "gauge",
                            "Maximum number of concurrent reconciles per controller");
    hbuf_addf(out, "controller_runtime_max_concurrent_reconciles{controller=\"topology\"} %d\n",
              ctl->workers);
    /* The workers between taking a key and being done with it, as controller-runtime counts. */
    op_metrics_write_header(out, "controller_runtime_active_workers", "gauge",
                            "Number of currently used workers per controller");
    hbuf_addf(out, "controller_runtime_active_workers{controller=\"topology\"} %d\n",
              atomic_load(&ctl->in_flight));
    write_queue_metrics(ctl, out);
    struct rest_ctx rc = {out, kube_client_host(ctl->client),
                          "rest_client_request_duration_seconds"};
    op_metrics_write_header(out, "rest_client_requests_total", "counter",
                            "Number of HTTP requests, partitioned by status code, method, and "
                            "host.");
    kube_client_stats(ctl->client, write_rest_stat, &rc);
    op_metrics_write_header(out, "rest_client_request_duration_seconds", "histogram",
                            "Request latency in seconds. Broken down by verb, and host.");
    kube_client_durations(ctl->client, write_rest_duration, &rc);
    rc.family = "rest_client_rate_limiter_duration_seconds";
    op_metrics_write_header(out, rc.family, "histogram",
                            "Client side rate limiter latency in seconds. Broken down by verb, and "
                            "host.");
    kube_client_rate_limiter_durations(ctl->client, write_rest_duration, &rc);
    struct topo_counts tc = {{0}};
    kube_informer_foreach(ctl->topologies, count_topology, &tc);
    hbuf_adds(out, "# HELP ho11y_operator_topologies Topologies by condition\n"
                   "# TYPE ho11y_operator_topologies gauge\n");
    for (int i = 0; i < 6; i++)
        hbuf_addf(out, "ho11y_operator_topologies{condition=\"%s\"} %llu\n", topo_conditions[i],
                  tc.n[i]);
    unsigned long long created, patched;
    op_events_counts(ctl->events, &created, &patched);
    hbuf_addf(out,
              "# HELP ho11y_operator_events_total Events recorded on Topologies\n"
              "# TYPE ho11y_operator_events_total counter\n"
              "ho11y_operator_events_total{action=\"create\"} %llu\n"
              "ho11y_operator_events_total{action=\"patch\"} %llu\n",
              created, patched);
}
