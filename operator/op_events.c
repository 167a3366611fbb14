#include "op_events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/constants.h"
#include "common/alloc.h"
#include "common/hash.h"
#include "common/log.h"
#include "kube/kube_map.h"
#include "kube/kube_util.h"

#define DEDUP_WINDOW_MS (10 * 60 * 1000)
#define DEDUP_MAX       4096
/* Leaves room for "." and 16 hex digits in a 253-character name. */
#define NAME_PREFIX_MAX 200

struct seen {
    char *name; /* the Event object's name */
    char *uid;  /* the Topology's uid */
    long long count;
    int64_t last_ms;
    char first[32];
};

struct op_events {
    char *component;
    char *instance;
    pthread_mutex_t lock;
    struct kube_map seen; /* uid|type|reason|message -> struct seen */
    unsigned long long created, patched;
};

static void seen_free(void *p)
{
    struct seen *s = p;
    if (s) {
        free(s->name);
        free(s->uid);
        free(s);
    }
}

struct op_events *op_events_new(const char *component, const char *instance)
{
    struct op_events *ev = xcalloc(1, sizeof(*ev));
    ev->component = xstrdup(component);
    ev->instance = xstrdup(instance);
    pthread_mutex_init(&ev->lock, NULL);
    kube_map_init(&ev->seen);
    return ev;
}

void op_events_free(struct op_events *ev)
{
    if (!ev)
        return;
    kube_map_cleanup(&ev->seen, seen_free);
    pthread_mutex_destroy(&ev->lock);
    free(ev->component);
    free(ev->instance);
    free(ev);
}

struct oldest_ctx {
    const char *key;
    int64_t ms;
};

static int find_oldest(void *ud, const char *key, void *value)
{
    struct oldest_ctx *o = ud;
    struct seen *s = value;
    if (!o->key || s->last_ms < o->ms) {
        o->key = key;
        o->ms = s->last_ms;
    }
    return 0;
}

static char *create_body(struct op_events *ev, const struct op_topology *t, const char *name,
                         const char *type, const char *reason, const char *message, const char *now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "Event");
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "namespace", t->ns);
    cJSON *io = cJSON_AddObjectToObject(o, "involvedObject");
    cJSON_AddStringToObject(io, "apiVersion", TOPO_API_VERSION);
    cJSON_AddStringToObject(io, "kind", TOPO_KIND);
    cJSON_AddStringToObject(io, "name", t->name);
    cJSON_AddStringToObject(io, "namespace", t->ns);
    cJSON_AddStringToObject(io, "uid", t->uid);
    cJSON_AddStringToObject(o, "reason", reason);
    /* Event messages are limited to 1 KiB by the events.k8s.io API. */
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", message);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddStringToObject(o, "type", type);
    cJSON *src = cJSON_AddObjectToObject(o, "source");
    cJSON_AddStringToObject(src, "component", ev->component);
    cJSON_AddStringToObject(o, "firstTimestamp", now);
    cJSON_AddStringToObject(o, "lastTimestamp", now);
    cJSON_AddNumberToObject(o, "count", 1);
    cJSON_AddStringToObject(o, "reportingComponent", ev->component);
    cJSON_AddStringToObject(o, "reportingInstance", ev->instance);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/*
 * The Event's name: the Topology's name, then a hash of what makes two events the same (the
 * Topology's uid, type, reason and message). A restarted operator, or a new leader, then finds
 * the Event an earlier run created for the same thing and counts on it instead of creating
 * another.
 */
static char *event_name(const struct op_topology *t, const char *key)
{
    char hex[65];
    ho11y_sha256_hex(key, strlen(key), hex);
    /* Object names are at most 253 characters; the CRD limits Topology names far below this
     * prefix, and a shortened prefix must still end with an alphanumeric character. */
    int n = (int)strlen(t->name);
    if (n > NAME_PREFIX_MAX) {
        n = NAME_PREFIX_MAX;
        while (n > 1 && (t->name[n - 1] == '-' || t->name[n - 1] == '.'))
            n--;
    }
    return xasprintf("%.*s.%.16s", n, t->name, hex);
}

static enum ho11y_err event_create(struct op_events *ev, struct kube_conn *conn,
                                   const struct op_topology *t, const char *name, const char *type,
                                   const char *reason, const char *message, const char *now,
                                   char *err, size_t errlen)
{
    char *body = create_body(ev, t, name, type, reason, message, now);
    struct kube_req req = {.verb = "POST",
                           .res = &kube_res_events,
                           .ns = t->ns,
                           .body = body,
                           .body_len = strlen(body)};
    struct kube_resp resp;
    enum ho11y_err result = kube_conn_do(conn, &req, &resp, err, errlen);
    free(body);
    return result;
}

/*
 * Patches the Event name with body (strategic merge); stored (optional) receives the count the
 * answer carries (1 when absent or not a number).
 */
static enum ho11y_err event_patch(struct kube_conn *conn, const char *ns, const char *name,
                                  const char *body, long long *stored, char *err, size_t errlen)
{
    struct kube_req req = {.verb = "PATCH",
                           .res = &kube_res_events,
                           .ns = ns,
                           .name = name,
                           .body = body,
                           .body_len = strlen(body),
                           .content_type = "application/strategic-merge-patch+json"};
    struct kube_resp resp;
    enum ho11y_err result = kube_conn_do(conn, &req, &resp, err, errlen);
    if (result || !stored)
        return result;
    cJSON *o = cJSON_ParseWithLength(resp.body, resp.body_len);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "count");
    *stored = cJSON_IsNumber(c) && c->valuedouble >= 1 ? (long long)c->valuedouble : 1;
    cJSON_Delete(o);
    return HO11Y_OK;
}

/* A repeat of the same event: count and lastTimestamp. */
static enum ho11y_err event_bump(struct kube_conn *conn, const char *ns, const char *name,
                                 long long count, const char *now, char *err, size_t errlen)
{
    char *body = xasprintf("{\"count\":%lld,\"lastTimestamp\":\"%s\"}", count, now);
    enum ho11y_err result = event_patch(conn, ns, name, body, NULL, err, errlen);
    free(body);
    return result;
}

enum ho11y_err op_events_record(struct op_events *ev, struct kube_conn *conn,
                                const struct op_topology *t, const char *type, const char *reason,
                                const char *message)
{
    char *key = xasprintf("%s|%s|%s|%s", t->uid, type, reason, message);
    char now[32], err[1024];
    char *name = NULL;
    long long count = 0;
    enum ho11y_err result;
    kube_time_format(time(NULL), now, sizeof(now));

    pthread_mutex_lock(&ev->lock);
    struct seen *s = kube_map_get(&ev->seen, key);
    if (s && kube_now_ms() - s->last_ms < DEDUP_WINDOW_MS) {
        name = xstrdup(s->name);
        count = s->count + 1;
    }
    pthread_mutex_unlock(&ev->lock);

    if (name) {
        /* The fast path: this process sent the event recently. */
        result = event_bump(conn, t->ns, name, count, now, err, sizeof(err));
        if (result != HO11Y_NOTFOUND)
            goto done;
        /* The Event expired (TTL) or was deleted: create it again. */
    } else {
        name = event_name(t, key);
    }
    count = 1;
    result = event_create(ev, conn, t, name, type, reason, message, now, err, sizeof(err));
    if (result == HO11Y_EXISTS) {
        /*
         * Sent before by an earlier run, or longer ago than this process remembers. The stored
         * count is read from the answer to a patch of lastTimestamp rather than with a get, so
         * that events need no more permissions than client-go's recorder (create, patch).
         */
        long long stored = 0;
        char *body = xasprintf("{\"lastTimestamp\":\"%s\"}", now);
        result = event_patch(conn, t->ns, name, body, &stored, err, sizeof(err));
        free(body);
        if (result == HO11Y_OK) {
            count = stored + 1;
            result = event_bump(conn, t->ns, name, count, now, err, sizeof(err));
        } else if (result == HO11Y_NOTFOUND) {
            /* It expired in between. */
            result = event_create(ev, conn, t, name, type, reason, message, now, err, sizeof(err));
        }
    }
done:
    if (result) {
        LOG_WARN("Event %s %s on topology %s/%s not recorded: %s", type, reason, t->ns, t->name,
                 err);
    } else {
        pthread_mutex_lock(&ev->lock);
        if (count == 1)
            ev->created++;
        else
            ev->patched++;
        struct seen *n = xcalloc(1, sizeof(*n));
        n->name = name;
        name = NULL;
        n->uid = xstrdup(t->uid);
        n->count = count;
        n->last_ms = kube_now_ms();
        seen_free(kube_map_put(&ev->seen, key, n));
        if (ev->seen.count > DEDUP_MAX) {
            struct oldest_ctx o = {NULL, 0};
            kube_map_foreach(&ev->seen, find_oldest, &o);
            if (o.key) {
                char *k = xstrdup(o.key);
                seen_free(kube_map_del(&ev->seen, k));
                free(k);
            }
        }
        pthread_mutex_unlock(&ev->lock);
    }
    free(name);
    free(key);
    return result;
}

struct forget_ctx {
    const char *uid;
    char **keys;
    size_t n, cap;
};

static int collect_uid(void *ud, const char *key, void *value)
{
    struct forget_ctx *f = ud;
    struct seen *s = value;
    if (strcmp(s->uid, f->uid) == 0) {
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 8;
            f->keys = xrealloc(f->keys, f->cap * sizeof(char *));
        }
        f->keys[f->n++] = xstrdup(key);
    }
    return 0;
}

void op_events_forget(struct op_events *ev, const char *uid)
{
    struct forget_ctx f = {uid, NULL, 0, 0};
    pthread_mutex_lock(&ev->lock);
    kube_map_foreach(&ev->seen, collect_uid, &f);
    for (size_t i = 0; i < f.n; i++) {
        seen_free(kube_map_del(&ev->seen, f.keys[i]));
        free(f.keys[i]);
    }
    pthread_mutex_unlock(&ev->lock);
    free(f.keys);
}

void op_events_counts(struct op_events *ev, unsigned long long *created,
                      unsigned long long *patched)
{
    pthread_mutex_lock(&ev->lock);
    *created = ev->created;
    *patched = ev->patched;
    pthread_mutex_unlock(&ev->lock);
}
