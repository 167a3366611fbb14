#include "op_events.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/constants.h"
#include "common/alloc.h"
#include "common/doc.h"
#include "common/hash.h"
#include "common/log.h"
#include "kube/kube_util.h"

#define DEDUP_WINDOW_MS (10 * 60 * 1000)
#define DEDUP_MAX       4096
/* Leaves room for "." and 16 hex digits in a 253-character name. */
#define NAME_PREFIX_MAX 200
#define DIGEST_LEN      OP_DIGEST_LEN

_Static_assert(DIGEST_LEN >= sizeof(size_t), "a digest's first bytes serve as the hash");

/*
 * An event this process sent, stored inline in an open-addressing table: with a thousand
 * Topologies the table holds two thousand of these, so a slot is 24 bytes of fixed-size digests
 * rather than the uid|type|reason|message key, the Event's name and the uid. The key digest is
 * the start of the SHA-256 that also names the Event (so the name is made again from the
 * Topology's name); the uid digest (the Topology's uid folded) finds a deleted Topology's
 * events. Two different events whose 64-bit digests collide would share a count: a chance of
 * 2^-64 per pair.
 */
struct seen {
    unsigned char key[DIGEST_LEN];
    unsigned char uid[DIGEST_LEN];
    uint32_t count;  /* 0: the slot is free */
    uint32_t last_s; /* kube_now_ms() / 1000 when last sent */
};

struct op_events {
    char *component;
    char *instance;
    pthread_mutex_t lock;
    struct seen *slots; /* linear probing; cap is a power of two, at most 3/4 full */
    size_t cap, n;
    unsigned long long created, patched;
};

struct op_events *op_events_new(const char *component, const char *instance)
{
    struct op_events *ev = xcalloc(1, sizeof(*ev));
    ev->component = xstrdup(component);
    ev->instance = xstrdup(instance);
    pthread_mutex_init(&ev->lock, NULL);
    return ev;
}

void op_events_free(struct op_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_destroy(&ev->lock);
    free(ev->slots);
    free(ev->component);
    free(ev->instance);
    free(ev);
}

/* SHA-256 of data: the hex digits (65 bytes) and its first DIGEST_LEN bytes. */
static void digest_of(const char *data, char hex[65], unsigned char digest[DIGEST_LEN])
{
    ho11y_sha256_hex(data, strlen(data), hex);
    for (int i = 0; i < DIGEST_LEN; i++)
        digest[i] =
            (unsigned char)(ho11y_hex_digit(hex[2 * i]) << 4 | ho11y_hex_digit(hex[2 * i + 1]));
}

static uint32_t now_s(void)
{
    return (uint32_t)(kube_now_ms() / 1000);
}

/* The digests are uniformly distributed, so their first bytes serve as the hash. */
static size_t slot_home(const struct op_events *ev, const unsigned char key[DIGEST_LEN])
{
    size_t h = 0;
    memcpy(&h, key, sizeof(h));
    return h & (ev->cap - 1);
}

/* The slot holding key, or the free slot where it would go; cap must be non-zero. */
static struct seen *slot_find(const struct op_events *ev, const unsigned char key[DIGEST_LEN])
{
    size_t i = slot_home(ev, key);
    while (ev->slots[i].count && memcmp(ev->slots[i].key, key, DIGEST_LEN) != 0)
        i = (i + 1) & (ev->cap - 1);
    return &ev->slots[i];
}

/* Rebuilds the table with cap slots, leaving out entries drop says to (drop may be NULL). */
static void slots_rebuild(struct op_events *ev, size_t cap,
                          int (*drop)(const struct seen *s, const void *ud), const void *ud)
{
    struct seen *old = ev->slots;
    size_t old_cap = ev->cap;
    ev->slots = xcalloc(cap, sizeof(*ev->slots));
    ev->cap = cap;
    ev->n = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].count || (drop && drop(&old[i], ud)))
            continue;
        *slot_find(ev, old[i].key) = old[i];
        ev->n++;
    }
    free(old);
}

/* Empties slot s, moving later entries of its probe run back so that every entry stays
 * reachable from its home slot (deletion without tombstones in linear probing). */
static void slot_remove(struct op_events *ev, struct seen *s)
{
    size_t mask = ev->cap - 1, hole = (size_t)(s - ev->slots), j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!ev->slots[j].count)
            break;
        size_t home = slot_home(ev, ev->slots[j].key);
        /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            ev->slots[hole] = ev->slots[j];
            hole = j;
        }
    }
    memset(&ev->slots[hole], 0, sizeof(ev->slots[hole]));
    ev->n--;
}

static int drop_uid(const struct seen *s, const void *ud)
{
    return memcmp(s->uid, ud, DIGEST_LEN) == 0;
}

/* Stores what was sent under key; the caller holds the lock. */
static void seen_put(struct op_events *ev, const unsigned char key[DIGEST_LEN],
                     const unsigned char uid[DIGEST_LEN], long long count)
{
    if (ev->cap == 0 || (ev->n + 1) * 4 > ev->cap * 3)
        slots_rebuild(ev, ev->cap ? ev->cap * 2 : 64, NULL, NULL);
    struct seen *s = slot_find(ev, key);
    if (!s->count)
        ev->n++;
    memcpy(s->key, key, DIGEST_LEN);
    memcpy(s->uid, uid, DIGEST_LEN);
    s->count = count > UINT32_MAX ? UINT32_MAX : count < 1 ? 1 : (uint32_t)count;
    s->last_s = now_s();
    if (ev->n > DEDUP_MAX) {
        struct seen *oldest = NULL;
        for (size_t i = 0; i < ev->cap; i++) {
            if (ev->slots[i].count && (!oldest || ev->slots[i].last_s < oldest->last_s))
                oldest = &ev->slots[i];
        }
        slot_remove(ev, oldest);
    }
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
static char *event_name(const struct op_topology *t, const char hex[65])
{
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
    /* Event.count is an int32: whatever the answer holds is kept within it. */
    long long count = doc_number_ll(c, 1);
    *stored = count < 1 ? 1 : count > INT32_MAX ? INT32_MAX : count;
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
    char hex[65], now[32], err[1024];
    unsigned char digest[DIGEST_LEN], uid_digest[DIGEST_LEN];
    digest_of(key, hex, digest);
    op_uid_fold(&t->id, uid_digest);
    free(key);
    char *name = event_name(t, hex);
    long long count = 0;
    enum ho11y_err result;
    kube_time_format(time(NULL), now, sizeof(now));

    pthread_mutex_lock(&ev->lock);
    if (ev->cap) {
        const struct seen *s = slot_find(ev, digest);
        if (s->count && (int64_t)(now_s() - s->last_s) * 1000 < DEDUP_WINDOW_MS)
            count = (long long)s->count + 1;
    }
    pthread_mutex_unlock(&ev->lock);

    if (count) {
        /* The fast path: this process sent the event recently. */
        result = event_bump(conn, t->ns, name, count, now, err, sizeof(err));
        if (result != HO11Y_NOTFOUND)
            goto done;
        /* The Event expired (TTL) or was deleted: create it again. */
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
            count = stored < INT32_MAX ? stored + 1 : stored;
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
        seen_put(ev, digest, uid_digest, count);
        pthread_mutex_unlock(&ev->lock);
    }
    free(name);
    return result;
}

void op_events_forget(struct op_events *ev, const struct op_uid *uid)
{
    unsigned char uid_digest[DIGEST_LEN];
    op_uid_fold(uid, uid_digest);
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < ev->cap; i++) {
        if (ev->slots[i].count && drop_uid(&ev->slots[i], uid_digest)) {
            slots_rebuild(ev, ev->cap, drop_uid, uid_digest);
            break;
        }
    }
    pthread_mutex_unlock(&ev->lock);
}

void op_events_counts(struct op_events *ev, unsigned long long *created,
                      unsigned long long *patched)
{
    pthread_mutex_lock(&ev->lock);
    *created = ev->created;
    *patched = ev->patched;
    pthread_mutex_unlock(&ev->lock);
}
