#include "kube_informer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "kube_map.h"
#include "kube_stream.h"
#include "kube_util.h"

#define BACKOFF_INITIAL_MS 800
#define BACKOFF_MAX_MS     30000
#define BACKOFF_RESET_MS   120000
#define WATCH_MIN_S        300
#define WATCH_MAX_S        600

/* The cache maps each key to the caller's record and nothing else, entry and record in one
 * block: with ten thousand objects every allocation per object counts. A relist compares records
 * (ops->same) instead of keeping each object's resourceVersion. */

struct kube_informer {
    char *name;
    const struct kube_resource *res;
    char *ns;
    char *selector;
    unsigned page_size;
    size_t max_object;
    const struct kube_informer_ops *ops;
    struct kube_client *client;
    struct kube_conn *conn;

    pthread_rwlock_t lock;
    struct kube_map map; /* key -> record (never NULL) */

    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int synced;
    pthread_mutex_t sleep_lock;
    pthread_cond_t sleep_cond;

    pthread_mutex_t stats_lock;
    struct kube_informer_stats stats;

    char *rv; /* the last resourceVersion seen (informer thread only) */
    int64_t backoff_ms;
    int64_t healthy_since;
};

char *kube_object_key(const cJSON *obj)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
    if (!cJSON_IsString(name) || !name->valuestring[0])
        return NULL;
    if (cJSON_IsString(ns) && ns->valuestring[0])
        return xasprintf("%s/%s", ns->valuestring, name->valuestring);
    return xstrdup(name->valuestring);
}

struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o)
{
    struct kube_informer *inf = xcalloc(1, sizeof(*inf));
    inf->name = xstrdup(o->name ? o->name : o->res->plural);
    inf->res = o->res;
    inf->ns = xstrdup(o->ns);
    inf->selector = xstrdup(o->label_selector);
    inf->page_size = o->page_size ? o->page_size : 500;
    inf->max_object = o->max_object ? o->max_object : 4u << 20;
    inf->ops = o->ops;
    inf->client = c;
    pthread_rwlock_init(&inf->lock, NULL);
    kube_map_init(&inf->map);
    pthread_mutex_init(&inf->sleep_lock, NULL);
    pthread_cond_init(&inf->sleep_cond, NULL);
    pthread_mutex_init(&inf->stats_lock, NULL);
    return inf;
}

const char *kube_informer_name(const struct kube_informer *inf)
{
    return inf->name;
}

int kube_informer_synced(struct kube_informer *inf)
{
    return atomic_load(&inf->synced);
}

static void bump(struct kube_informer *inf, unsigned long *field)
{
    pthread_mutex_lock(&inf->stats_lock);
    (*field)++;
    pthread_mutex_unlock(&inf->stats_lock);
}

void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out)
{
    pthread_mutex_lock(&inf->stats_lock);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->stats_lock);
}

/* The cache entry for obj (borrowed) under key, its record made by trim in the same block; NULL
 * when trim declines the object. */
static struct kube_map_entry *entry_make(struct kube_informer *inf, const char *key,
                                         const cJSON *obj)
{
    size_t head = kube_map_head_size(key);
    char *rec = inf->ops->trim(inf->ops->ud, obj, head);
    return rec ? kube_map_entry_init(rec - head, key) : NULL;
}

/* Whether rec, made from an object listed again, holds what old holds. */
static int same_rec(const struct kube_informer *inf, const void *old, const void *rec)
{
    return old && inf->ops->same && inf->ops->same(old, rec);
}

/* Sleeps ms unless stopped first; returns non-zero when stopped. */
static int nap(struct kube_informer *inf, int64_t ms)
{
    return kube_nap(&inf->sleep_lock, &inf->sleep_cond, &inf->stop, ms);
}

/* Waits out the current backoff (doubling it, with jitter) after an error. */
static int back_off(struct kube_informer *inf)
{
    int64_t now = kube_now_ms();
    if (inf->healthy_since && now - inf->healthy_since > BACKOFF_RESET_MS)
        inf->backoff_ms = 0;
    inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : BACKOFF_INITIAL_MS;
    if (inf->backoff_ms > BACKOFF_MAX_MS)
        inf->backoff_ms = BACKOFF_MAX_MS;
    int64_t wait = inf->backoff_ms + (int64_t)kube_rand_below((uint64_t)inf->backoff_ms);
    inf->healthy_since = 0;
    return nap(inf, wait);
}

/* ---- list ---- */

/*
 * A list is applied to the cache as it arrives, item by item, rather than built beside it and
 * swapped in: a relist after a 410 then holds one cache, not two (about 1.7 MB at 1,000
 * Topologies). What the list saw is kept as the addresses of the records it left in the cache
 * (exact: none of them can be the address of a record that was there before and not listed,
 * as those are still allocated); once the list is complete, the entries it did not see are
 * deleted. A list that fails half way leaves the cache with the objects it replaced (newer than
 * what they replaced) and deletes nothing.
 */
struct seen_recs {
    const void **p;
    size_t n, cap;
};

static void seen_add(struct seen_recs *sr, const void *rec)
{
    if (sr->n == sr->cap) {
        sr->cap = sr->cap ? sr->cap * 2 : 256;
        sr->p = xrealloc(sr->p, sr->cap * sizeof(*sr->p));
    }
    sr->p[sr->n++] = rec;
}

static int ptr_cmp(const void *a, const void *b)
{
    const void *const *pa = a, *const *pb = b;
    uintptr_t x = (uintptr_t)*pa, y = (uintptr_t)*pb;
    return x < y ? -1 : x > y;
}

/* Whether rec was seen; sr must be sorted. */
static int seen_has(const struct seen_recs *sr, const void *rec)
{
    return sr->n && bsearch(&rec, sr->p, sr->n, sizeof(*sr->p), ptr_cmp) != NULL;
}

struct list_ctx {
    struct kube_informer *inf;
    struct seen_recs *seen;
    struct kube_list_scan scan;
    enum ho11y_err item_error;
};

/* Puts e (for key) in the cache unless the cached record is the same, and notifies a change;
 * returns the record the cache holds for key afterwards. */
static const void *cache_put(struct kube_informer *inf, const char *key, struct kube_map_entry *e)
{
    /* Only this thread writes the map, so reading it unlocked here is safe. */
    void *cur = kube_map_get(&inf->map, key);
    /* An unchanged object notifies nothing: a relist after a 410 then wakes no one. */
    if (same_rec(inf, cur, e->value)) {
        free(e);
        return cur;
    }
    pthread_rwlock_wrlock(&inf->lock);
    struct kube_map_entry *old = kube_map_link(&inf->map, e);
    pthread_rwlock_unlock(&inf->lock);
    inf->ops->on_change(inf->ops->ud, key, old ? old->value : NULL, e->value);
    free(old);
    return e->value;
}

static enum ho11y_err list_item(void *ud, const char *json, size_t len)
{
    struct list_ctx *lc = ud;
    struct kube_informer *inf = lc->inf;
    cJSON *obj = cJSON_ParseWithLength(json, len);
    char *key = obj ? kube_object_key(obj) : NULL;
    if (!key) {
        cJSON_Delete(obj);
        LOG_WARN("List of %s: skipped an item without metadata.name", inf->name);
        return HO11Y_OK;
    }
    struct kube_map_entry *e = entry_make(inf, key, obj);
    cJSON_Delete(obj);
    if (e)
        seen_add(lc->seen, cache_put(inf, key, e));
    free(key);
    return HO11Y_OK;
}

static enum ho11y_err list_data(void *ud, const char *data, size_t len)
{
    struct list_ctx *lc = ud;
    return kube_list_scan_feed(&lc->scan, data, len, list_item, lc);
}

/* One complete paged list into the cache; seen gets the addresses of the records the list left
 * in it, *rv the list's resourceVersion. A continue token the server no longer knows (410, as
 * after a compaction) starts the list again at once as one request without limit, as
 * client-go's pager does (FullListIfExpired): it has no token to expire, and its items are
 * applied as they arrive, so it costs no more memory. The pages already applied stay in the
 * cache and are listed again; seen and *rv start afresh, so a deletion between the two
 * attempts is still found. */
static enum ho11y_err list_all(struct kube_informer *inf, struct seen_recs *seen, char **rv)
{
    enum ho11y_err result = HO11Y_OK;
    char *cont = NULL;
    char limit[16];
    char err[1024];
    int unpaged = 0;
    snprintf(limit, sizeof(limit), "%u", inf->page_size);
    *rv = NULL;
    for (;;) {
        struct kube_param params[3];
        size_t n = 0;
        if (!unpaged)
            params[n++] = (struct kube_param){"limit", limit};
        if (inf->selector)
            params[n++] = (struct kube_param){"labelSelector", inf->selector};
        if (cont)
            params[n++] = (struct kube_param){"continue", cont};
        struct list_ctx lc = {inf, seen, {0}, HO11Y_OK};
        kube_list_scan_init(&lc.scan, inf->max_object);
        struct kube_req req = {.verb = "GET",
                               .res = inf->res,
                               .ns = inf->ns,
                               .params = params,
                               .nparams = n,
                               .timeout_ms = 120000,
                               .on_data = list_data,
                               .ud = &lc};
        struct kube_resp resp;
        result = kube_conn_do(inf->conn, &req, &resp, err, sizeof(err));
        char *page_rv = NULL, *next = NULL;
        if (!result && kube_list_scan_finish(&lc.scan, &page_rv, &next)) {
            snprintf(err, sizeof(err), "list %s: malformed list response", inf->name);
            result = HO11Y_PARSE;
        } else if (result == HO11Y_PARSE || result == HO11Y_LIMIT) {
            snprintf(err, sizeof(err), "list %s: malformed list response (%s)", inf->name,
                     ho11y_err_message(result));
        }
        kube_list_scan_cleanup(&lc.scan);
        if (result == HO11Y_GONE && cont) {
            LOG_INFO("List of %s: the continue token expired (%s); listing again, whole", inf->name,
                     err);
            bump(inf, &inf->stats.expired);
            unpaged = 1;
            free(page_rv);
            free(next);
            free(cont);
            cont = NULL;
            free(*rv);
            *rv = NULL;
            seen->n = 0;
            continue;
        }
        free(cont);
        cont = next;
        if (result) {
            free(page_rv);
            if (result != HO11Y_CANCELLED)
                LOG_ERROR("List of %s failed: %s", inf->name, err);
            break;
        }
        if (!*rv)
            *rv = page_rv;
        else
            free(page_rv);
        if (!cont)
            break;
    }
    free(cont);
    if (!result && !*rv) {
        LOG_ERROR("List of %s failed: the answer has no metadata.resourceVersion", inf->name);
        result = HO11Y_PARSE;
    }
    if (result) {
        free(*rv);
        *rv = NULL;
    }
    return result;
}

struct gone_ctx {
    const struct seen_recs *seen;
    char **keys;
    size_t n, cap;
};

static int collect_gone(void *ud, const char *key, void *value)
{
    struct gone_ctx *gc = ud;
    if (seen_has(gc->seen, value))
        return 0;
    if (gc->n == gc->cap) {
        gc->cap = gc->cap ? gc->cap * 2 : 16;
        gc->keys = xrealloc(gc->keys, gc->cap * sizeof(*gc->keys));
    }
    gc->keys[gc->n++] = xstrdup(key);
    return 0;
}

static enum ho11y_err relist(struct kube_informer *inf)
{
    struct seen_recs seen = {NULL, 0, 0};
    char *rv = NULL;
    enum ho11y_err result = list_all(inf, &seen, &rv);
    if (result) {
        bump(inf, &inf->stats.errors);
        free(seen.p);
        return result;
    }
    /* What the cache holds and the list did not show was deleted while nobody watched. */
    if (seen.n > 1) /* an empty list leaves seen.p NULL, which qsort must not get */
        qsort(seen.p, seen.n, sizeof(*seen.p), ptr_cmp);
    struct gone_ctx gc = {&seen, NULL, 0, 0};
    kube_map_foreach(&inf->map, collect_gone, &gc);
    for (size_t i = 0; i < gc.n; i++) {
        pthread_rwlock_wrlock(&inf->lock);
        struct kube_map_entry *old = kube_map_unlink(&inf->map, gc.keys[i]);
        pthread_rwlock_unlock(&inf->lock);
        if (old)
            inf->ops->on_change(inf->ops->ud, gc.keys[i], old->value, NULL);
        free(old);
        free(gc.keys[i]);
    }
    free(gc.keys);
    free(seen.p);
    free(inf->rv);
    inf->rv = rv;
    bump(inf, &inf->stats.lists);
    if (!atomic_exchange(&inf->synced, 1))
        LOG_INFO("Cache of %s synced: %zu objects at resourceVersion %s", inf->name, inf->map.count,
                 rv);
    else
        LOG_INFO("Relisted %s: %zu objects at resourceVersion %s", inf->name, inf->map.count, rv);
    return HO11Y_OK;
}

/* ---- watch ---- */

struct watch_ctx {
    struct kube_informer *inf;
    struct kube_lines lines;
    unsigned long events;
    int gone;   /* a 410 ERROR event arrived */
    int failed; /* an ERROR event or a malformed line */
    char err[512];
};

static void apply_event(struct kube_informer *inf, struct kube_event *ev)
{
    char *key = kube_object_key(ev->object);
    if (!key)
        return;
    struct kube_map_entry *e = NULL, *old;
    if (ev->type != KUBE_EVENT_DELETED)
        e = entry_make(inf, key, ev->object);
    pthread_rwlock_wrlock(&inf->lock);
    old = e ? kube_map_link(&inf->map, e) : kube_map_unlink(&inf->map, key);
    pthread_rwlock_unlock(&inf->lock);
    if (old || e)
        inf->ops->on_change(inf->ops->ud, key, old ? old->value : NULL, e ? e->value : NULL);
    free(old);
    free(key);
}

static enum ho11y_err watch_line(void *ud, const char *line, size_t len)
{
    struct watch_ctx *wc = ud;
    struct kube_informer *inf = wc->inf;
    struct kube_event ev;
    if (kube_event_decode(line, len, &ev, wc->err, sizeof(wc->err))) {
        wc->failed = 1;
        return HO11Y_PARSE;
    }
    wc->events++;
    if (ev.type == KUBE_EVENT_ERROR) {
        if (ev.code == 410 || strcmp(ev.reason, "Expired") == 0 || strcmp(ev.reason, "Gone") == 0)
            wc->gone = 1;
        else
            wc->failed = 1;
        snprintf(wc->err, sizeof(wc->err), "%ld %s: %s", ev.code, ev.reason, ev.message);
        kube_event_cleanup(&ev);
        return HO11Y_CANCELLED; /* the server ends the stream after an ERROR anyway */
    }
    if (ev.rv) {
        free(inf->rv);
        inf->rv = xstrdup(ev.rv);
    }
    if (ev.type != KUBE_EVENT_BOOKMARK) {
        apply_event(inf, &ev);
        bump(inf, &inf->stats.events);
    }
    kube_event_cleanup(&ev);
    return HO11Y_OK;
}

static enum ho11y_err watch_data(void *ud, const char *data, size_t len)
{
    struct watch_ctx *wc = ud;
    return kube_lines_feed(&wc->lines, data, len, watch_line, wc);
}

/* One watch request. HO11Y_OK when the server ended it normally, HO11Y_GONE for a relist. */
static enum ho11y_err watch_once(struct kube_informer *inf)
{
    char timeout[16], err[1024];
    unsigned secs = WATCH_MIN_S + (unsigned)kube_rand_below(WATCH_MAX_S - WATCH_MIN_S);
    snprintf(timeout, sizeof(timeout), "%u", secs);
    struct kube_param params[5];
    size_t n = 0;
    params[n++] = (struct kube_param){"allowWatchBookmarks", "true"};
    if (inf->selector)
        params[n++] = (struct kube_param){"labelSelector", inf->selector};
    params[n++] = (struct kube_param){"resourceVersion", inf->rv};
    params[n++] = (struct kube_param){"timeoutSeconds", timeout};
    params[n++] = (struct kube_param){"watch", "true"};
    struct watch_ctx wc = {.inf = inf};
    kube_lines_init(&wc.lines, inf->max_object + 1024);
    struct kube_req req = {.verb = "GET",
                           .res = inf->res,
                           .ns = inf->ns,
                           .params = params,
                           .nparams = n,
                           .timeout_ms = (long)(secs + 30) * 1000,
                           .on_data = watch_data,
                           .ud = &wc};
    struct kube_resp resp;
    int64_t started = kube_now_ms();
    bump(inf, &inf->stats.watches);
    enum ho11y_err result = kube_conn_do(inf->conn, &req, &resp, err, sizeof(err));
    if (!result)
        kube_lines_finish(&wc.lines, watch_line, &wc);
    kube_lines_cleanup(&wc.lines);
    if (atomic_load(&inf->stop))
        return HO11Y_CANCELLED;
    if (wc.gone || result == HO11Y_GONE) {
        LOG_INFO("Watch of %s expired (%s); relisting", inf->name, wc.gone ? wc.err : err);
        bump(inf, &inf->stats.expired);
        return HO11Y_GONE;
    }
    if (wc.failed) {
        LOG_WARN("Watch of %s failed: %s", inf->name, wc.err);
        bump(inf, &inf->stats.errors);
        return HO11Y_HTTP;
    }
    if (result == HO11Y_TIMEOUT && resp.code >= 200 && resp.code < 300) {
        /* Our own deadline passed on a silent stream: restart it. */
        LOG_DEBUG("Watch of %s timed out on the client side; restarting", inf->name);
        return HO11Y_OK;
    }
    if (result) {
        LOG_WARN("Watch of %s failed: %s", inf->name, err);
        bump(inf, &inf->stats.errors);
        return result;
    }
    if (!wc.events && kube_now_ms() - started < 1000) {
        /* client-go's "very short watch": the server closes at once; do not spin. */
        LOG_WARN("Watch of %s closed immediately without events", inf->name);
        return HO11Y_NET;
    }
    LOG_DEBUG("Watch of %s ended after %lu events; restarting from %s", inf->name, wc.events,
              inf->rv);
    return HO11Y_OK;
}

static void *informer_main(void *arg)
{
    struct kube_informer *inf = arg;
    int need_list = 1;
    while (!atomic_load(&inf->stop)) {
        if (need_list) {
            enum ho11y_err r = relist(inf);
            if (r == HO11Y_CANCELLED)
                break;
            if (r) {
                if (back_off(inf))
                    break;
                continue;
            }
            need_list = 0;
            if (!inf->healthy_since)
                inf->healthy_since = kube_now_ms();
        }
        enum ho11y_err r = watch_once(inf);
        if (r == HO11Y_CANCELLED)
            break;
        if (r == HO11Y_GONE) {
            need_list = 1;
            continue;
        }
        if (r) {
            if (back_off(inf))
                break;
            continue;
        }
        if (!inf->healthy_since)
            inf->healthy_since = kube_now_ms();
    }
    return NULL;
}

enum ho11y_err kube_informer_start(struct kube_informer *inf)
{
    if (inf->started)
        return HO11Y_OK;
    atomic_store(&inf->stop, 0);
    inf->conn = kube_conn_new(inf->client, &inf->stop);
    if (pthread_create(&inf->thread, NULL, informer_main, inf) != 0) {
        kube_conn_free(inf->conn);
        inf->conn = NULL;
        return HO11Y_INTERNAL;
    }
    inf->started = 1;
    return HO11Y_OK;
}

void kube_informer_stop_async(struct kube_informer *inf)
{
    if (!inf->started)
        return;
    pthread_mutex_lock(&inf->sleep_lock);
    atomic_store(&inf->stop, 1);
    pthread_cond_broadcast(&inf->sleep_cond);
    pthread_mutex_unlock(&inf->sleep_lock);
}

void kube_informer_stop(struct kube_informer *inf)
{
    if (!inf->started)
        return;
    kube_informer_stop_async(inf);
    pthread_join(inf->thread, NULL);
    kube_conn_free(inf->conn);
    inf->conn = NULL;
    inf->started = 0;
}

void kube_informer_free(struct kube_informer *inf)
{
    if (!inf)
        return;
    kube_informer_stop(inf);
    kube_map_cleanup(&inf->map, NULL);
    pthread_rwlock_destroy(&inf->lock);
    pthread_mutex_destroy(&inf->sleep_lock);
    pthread_cond_destroy(&inf->sleep_cond);
    pthread_mutex_destroy(&inf->stats_lock);
    free(inf->name);
    free(inf->ns);
    free(inf->selector);
    free(inf->rv);
    free(inf);
}

int kube_informer_get(struct kube_informer *inf, const char *key,
                      int (*fn)(void *ud, const void *rec), void *ud)
{
    int r = -1;
    pthread_rwlock_rdlock(&inf->lock);
    const void *rec = kube_map_get(&inf->map, key);
    if (rec)
        r = fn(ud, rec);
    pthread_rwlock_unlock(&inf->lock);
    return r;
}

struct foreach_ctx {
    int (*fn)(void *ud, const char *key, const void *rec);
    void *ud;
};

static int foreach_cb(void *ud, const char *key, void *value)
{
    struct foreach_ctx *fc = ud;
    return fc->fn(fc->ud, key, value);
}

int kube_informer_foreach(struct kube_informer *inf,
                          int (*fn)(void *ud, const char *key, const void *rec), void *ud)
{
    struct foreach_ctx fc = {fn, ud};
    pthread_rwlock_rdlock(&inf->lock);
    int r = kube_map_foreach(&inf->map, foreach_cb, &fc);
    pthread_rwlock_unlock(&inf->lock);
    return r;
}

size_t kube_informer_count(struct kube_informer *inf)
{
    pthread_rwlock_rdlock(&inf->lock);
    size_t n = inf->map.count;
    pthread_rwlock_unlock(&inf->lock);
    return n;
}
