#include "op_leader.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/doc.h"
#include "common/log.h"
#include "kube/kube_util.h"

struct op_leader {
    struct kube_client *client;
    struct kube_conn *conn;
    char *ns, *name, *identity;
    int64_t lease_ms, renew_ms, retry_ms;
    void (*on_change)(void *ud, int leading);
    void *ud;

    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int leading;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    cJSON *observed;       /* the Lease as last read or written */
    char *observed_spec;   /* its spec, printed, to notice changes */
    int64_t observed_ms;   /* local time by which the spec last changed (see observe) */
    int64_t poll_ms;       /* local time of the last read of the Lease */
    int64_t expiry_ms;     /* when someone else's lease runs out, by our clock */
    int64_t last_renew_ms; /* our last successful renewal */
};

enum ho11y_err op_leader_check_timings(int64_t lease_ms, int64_t renew_ms, int64_t retry_ms,
                                       char *err, size_t errlen)
{
    if (lease_ms <= renew_ms) {
        snprintf(err, errlen,
                 "--leader-elect-lease-duration must be longer than --leader-elect-renew-deadline");
        return HO11Y_INVAL;
    }
    if (renew_ms * 10 <= retry_ms * 12) {
        snprintf(err, errlen,
                 "--leader-elect-renew-deadline must be longer than 1.2 x "
                 "--leader-elect-retry-period");
        return HO11Y_INVAL;
    }
    if (retry_ms < 100 || lease_ms < 1000) {
        snprintf(err, errlen,
                 "--leader-elect-lease-duration must be at least 1s and "
                 "--leader-elect-retry-period at least 100ms");
        return HO11Y_INVAL;
    }
    return HO11Y_OK;
}

enum ho11y_err op_leader_new(struct kube_client *client, const struct op_leader_opts *opts,
                             struct op_leader **out, char *err, size_t errlen)
{
    *out = NULL;
    enum ho11y_err r = op_leader_check_timings(opts->lease_duration_ms, opts->renew_deadline_ms,
                                               opts->retry_period_ms, err, errlen);
    if (r)
        return r;
    struct op_leader *l = xcalloc(1, sizeof(*l));
    l->client = client;
    l->ns = xstrdup(opts->ns);
    l->name = xstrdup(opts->name);
    l->identity = xstrdup(opts->identity);
    l->lease_ms = opts->lease_duration_ms;
    l->renew_ms = opts->renew_deadline_ms;
    l->retry_ms = opts->retry_period_ms;
    l->on_change = opts->on_change;
    l->ud = opts->ud;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    *out = l;
    return HO11Y_OK;
}

const char *op_leader_name(const struct op_leader *l)
{
    return l->name;
}

int op_leader_is_leader(struct op_leader *l)
{
    return atomic_load(&l->leading);
}

static int nap(struct op_leader *l, int64_t ms)
{
    return kube_nap(&l->lock, &l->cond, &l->stop, ms);
}

static const char *holder_of(const cJSON *lease)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(lease, "spec"), "holderIdentity");
    return cJSON_IsString(h) ? h->valuestring : "";
}

/*
 * Adopts the Lease as read at local time read_ms (after a previous read at prev_ms, 0 for
 * none). A change seen now happened after the previous read, so that read's time starts the
 * holder's lease duration: the expiry never depends on the holder's clock, and a successor
 * takes over within the lease duration of the last renewal. This is safe because a holder that
 * cannot renew stops leading after the renew deadline, which is shorter than the lease duration
 * minus one retry period.
 */
static void observe(struct op_leader *l, cJSON *lease, int64_t read_ms, int64_t prev_ms)
{
    char *spec = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(lease, "spec"));
    if (!l->observed_spec || !spec || strcmp(spec, l->observed_spec) != 0) {
        free(l->observed_spec);
        l->observed_spec = spec;
        spec = NULL;
        l->observed_ms = prev_ms ? prev_ms : read_ms;
    }
    free(spec);
    cJSON_Delete(l->observed);
    l->observed = lease;
}

/* A request never outlives our renew deadline while we lead, so that we stop leading on time. */
static long req_timeout(struct op_leader *l)
{
    int64_t t = l->renew_ms / 2 > 1000 ? l->renew_ms / 2 : 1000;
    if (atomic_load(&l->leading)) {
        int64_t left = l->last_renew_ms + l->renew_ms - kube_now_ms();
        if (left < t)
            t = left > 100 ? left : 100;
    }
    return (long)t;
}

static void set_spec(cJSON *spec, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(spec, key))
        cJSON_ReplaceItemInObjectCaseSensitive(spec, key, v);
    else
        cJSON_AddItemToObject(spec, key, v);
}

/* Writes lease (PUT, or POST when create) and adopts the answer. */
static enum ho11y_err write_lease(struct op_leader *l, cJSON *lease, int create)
{
    char err[1024];
    char *body = cJSON_PrintUnformatted(lease);
    struct kube_req req = {.verb = create ? "POST" : "PUT",
                           .res = &kube_res_leases,
                           .ns = l->ns,
                           .name = create ? NULL : l->name,
                           .body = body,
                           .body_len = strlen(body),
                           .timeout_ms = req_timeout(l),
                           .no_retry = 1,
                           .no_throttle = 1};
    struct kube_resp resp;
    enum ho11y_err r = kube_conn_do(l->conn, &req, &resp, err, sizeof(err));
    free(body);
    if (r) {
        if (r != HO11Y_CONFLICT && r != HO11Y_EXISTS && r != HO11Y_CANCELLED)
            LOG_WARN("Lease %s/%s not written: %s", l->ns, l->name, err);
        return r;
    }
    cJSON *got = cJSON_ParseWithLength(resp.body, resp.body_len);
    if (got)
        observe(l, got, kube_now_ms(), 0);
    return HO11Y_OK;
}

static cJSON *new_lease(struct op_leader *l)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1");
    cJSON_AddStringToObject(o, "kind", "Lease");
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(m, "name", l->name);
    cJSON_AddStringToObject(m, "namespace", l->ns);
    cJSON_AddObjectToObject(o, "spec");
    return o;
}

/* client-go's tryAcquireOrRenew. Returns 1 when we hold the lease afterwards. */
static int try_acquire_or_renew(struct op_leader *l)
{
    char now[40];
    kube_microtime_now(now, sizeof(now));
    int64_t t = kube_now_ms();
    /* Fast path: we lead and our record is still the latest we saw. */
    if (atomic_load(&l->leading) && l->observed) {
        cJSON *lease = cJSON_Duplicate(l->observed, 1);
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
        set_spec(spec, "renewTime", cJSON_CreateString(now));
        enum ho11y_err r = write_lease(l, lease, 0);
        cJSON_Delete(lease);
        if (!r)
            return 1;
        if (r == HO11Y_CANCELLED)
            return 0;
    }
    char err[1024];
    int64_t prev = l->poll_ms;
    l->poll_ms = t;
    struct kube_req get = {.verb = "GET",
                           .res = &kube_res_leases,
                           .ns = l->ns,
                           .name = l->name,
                           .timeout_ms = req_timeout(l),
                           .no_retry = 1,
                           .no_throttle = 1};
    struct kube_resp resp;
    enum ho11y_err r = kube_conn_do(l->conn, &get, &resp, err, sizeof(err));
    if (r == HO11Y_NOTFOUND) {
        cJSON *lease = new_lease(l);
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
        cJSON_AddStringToObject(spec, "holderIdentity", l->identity);
        /* NOLINTNEXTLINE(bugprone-integer-division): the Lease field is an integer */
        cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (double)(l->lease_ms / 1000));
        cJSON_AddStringToObject(spec, "acquireTime", now);
        cJSON_AddStringToObject(spec, "renewTime", now);
        cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
        r = write_lease(l, lease, 1);
        cJSON_Delete(lease);
        return r == HO11Y_OK;
    }
    if (r) {
        if (r != HO11Y_CANCELLED)
            LOG_WARN("Lease %s/%s not read: %s", l->ns, l->name, err);
        return 0;
    }
    cJSON *lease = cJSON_ParseWithLength(resp.body, resp.body_len);
    if (!lease)
        return 0;
    observe(l, lease, t, prev);
    const char *holder = holder_of(lease);
    const cJSON *spec0 = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(spec0, "leaseDurationSeconds");
    /* The field is an int32; a value beyond that range is held at its bounds. */
    long long dur_s = doc_number_ll(dur, 0);
    dur_s = dur_s > INT32_MAX ? INT32_MAX : dur_s < INT32_MIN ? INT32_MIN : dur_s;
    int64_t dur_ms = cJSON_IsNumber(dur) ? (int64_t)dur_s * 1000 : l->lease_ms;
    int mine = strcmp(holder, l->identity) == 0;
    if (holder[0] && !mine && l->observed_ms + dur_ms > t) {
        l->expiry_ms = l->observed_ms + dur_ms;
        return 0; /* someone else holds a valid lease */
    }
    cJSON *w = cJSON_Duplicate(lease, 1);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(w, "spec");
    if (!spec)
        spec = cJSON_AddObjectToObject(w, "spec");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
    double transitions = cJSON_IsNumber(tr) ? tr->valuedouble : 0;
    set_spec(spec, "holderIdentity", cJSON_CreateString(l->identity));
    /* NOLINTNEXTLINE(bugprone-integer-division): the Lease field is an integer */
    set_spec(spec, "leaseDurationSeconds", cJSON_CreateNumber((double)(l->lease_ms / 1000)));
    set_spec(spec, "renewTime", cJSON_CreateString(now));
    if (!mine) {
        set_spec(spec, "acquireTime", cJSON_CreateString(now));
        set_spec(spec, "leaseTransitions", cJSON_CreateNumber(transitions + 1));
    }
    r = write_lease(l, w, 0);
    cJSON_Delete(w);
    return r == HO11Y_OK;
}

/* The callers log why leadership ends: a lease not renewed in time, or a clean stop. */
static void set_leading(struct op_leader *l, int leading)
{
    if (atomic_exchange(&l->leading, leading) == leading)
        return;
    if (leading)
        LOG_INFO("Became leader: lease %s/%s held by %s", l->ns, l->name, l->identity);
    if (l->on_change)
        l->on_change(l->ud, leading);
}

static void release(struct op_leader *l)
{
    if (!l->observed || strcmp(holder_of(l->observed), l->identity) != 0)
        return;
    char now[40];
    kube_microtime_now(now, sizeof(now));
    cJSON *lease = cJSON_Duplicate(l->observed, 1);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
    set_spec(spec, "leaseDurationSeconds", cJSON_CreateNumber(1));
    set_spec(spec, "renewTime", cJSON_CreateString(now));
    set_spec(spec, "acquireTime", cJSON_CreateString(now));
    if (!write_lease(l, lease, 0))
        LOG_INFO("Released lease %s/%s", l->ns, l->name);
    cJSON_Delete(lease);
}

static void *leader_main(void *arg)
{
    struct op_leader *l = arg;
    LOG_INFO("Waiting for lease %s/%s as %s", l->ns, l->name, l->identity);
    while (!atomic_load(&l->stop)) {
        if (!atomic_load(&l->leading)) {
            if (try_acquire_or_renew(l)) {
                l->last_renew_ms = kube_now_ms();
                set_leading(l, 1);
                continue;
            }
            /* Retry with jitter (up to half a period, so that a released lease is taken over
             * within two retry periods), and right when the holder's lease runs out. */
            int64_t wait = l->retry_ms + (int64_t)kube_rand_below((uint64_t)(l->retry_ms / 2));
            int64_t until_expiry = l->expiry_ms - kube_now_ms() + 20;
            if (l->expiry_ms && until_expiry > 0 && until_expiry < wait)
                wait = until_expiry;
            l->expiry_ms = 0;
            if (nap(l, wait))
                break;
            continue;
        }
        if (nap(l, l->retry_ms))
            break;
        /* Renew, retrying every retry period until the renew deadline. */
        for (;;) {
            if (try_acquire_or_renew(l)) {
                l->last_renew_ms = kube_now_ms();
                break;
            }
            if (atomic_load(&l->stop))
                break;
            if (kube_now_ms() - l->last_renew_ms >= l->renew_ms) {
                LOG_ERROR("Lease %s/%s not renewed within %lld ms", l->ns, l->name,
                          (long long)l->renew_ms);
                set_leading(l, 0);
                return NULL; /* no new campaign: the process exits (see on_change) */
            }
            int64_t left = l->renew_ms - (kube_now_ms() - l->last_renew_ms);
            if (nap(l, left < l->retry_ms ? left : l->retry_ms))
                break;
        }
    }
    return NULL;
}

enum ho11y_err op_leader_start(struct op_leader *l)
{
    if (l->started)
        return HO11Y_OK;
    l->conn = kube_conn_new(l->client, NULL);
    if (pthread_create(&l->thread, NULL, leader_main, l) != 0) {
        kube_conn_free(l->conn);
        l->conn = NULL;
        return HO11Y_INTERNAL;
    }
    l->started = 1;
    return HO11Y_OK;
}

void op_leader_stop(struct op_leader *l)
{
    if (!l->started)
        return;
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->stop, 1);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    if (atomic_load(&l->leading)) {
        LOG_INFO("Stopped leading: lease %s/%s", l->ns, l->name);
        set_leading(l, 0);
        release(l);
    }
    kube_conn_free(l->conn);
    l->conn = NULL;
    l->started = 0;
}

void op_leader_free(struct op_leader *l)
{
    if (!l)
        return;
    op_leader_stop(l);
    cJSON_Delete(l->observed);
    free(l->observed_spec);
    free(l->ns);
    free(l->name);
    free(l->identity);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}
