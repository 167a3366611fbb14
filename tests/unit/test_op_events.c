/*
 * The Event recorder (op_events) against a small core/v1 Events API on a local HTTP server
 * (libmicrohttpd) that keeps Events by name as the API server does: a second create of a name is
 * 409 AlreadyExists, a patch of a missing name 404, a patch's count is stored and answered back.
 * Every request is logged before it is answered, so the cases assert on what the recorder sent:
 * a first event is a create, a repeat a patch of the count; the table of events sent keeps at
 * most 4096 and forgets the least recently sent one first; op_events_forget forgets one
 * Topology's events and no other's.
 */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/constants.h"
#include "common/alloc.h"
#include "kube/kube_client.h"
#include "kube/kube_map.h"
#include "kube/kube_util.h"
#include "op_cache.h"
#include "op_events.h"
#include "test.h"
#include "test_httpd.h"

/* The recorder's table size (DEDUP_MAX in op_events.c), which its contract does not name. */
#define EVENTS_REMEMBERED 4096
#define EVENTS_PATH       "/api/v1/namespaces/"

struct logged {
    char method[8];
    char *path;
    char *content_type; /* "" when absent */
    char *body;         /* "" when absent */
    unsigned code;      /* the answer's status */
};

struct server {
    struct test_httpd http;
    pthread_mutex_t lock;
    struct logged *log;
    size_t nlog, cap;
    struct kube_map events; /* Event name -> long long count (malloc) */
};

static struct server srv;

/* ---- the server ---- */

static char *status_body(unsigned code, const char *reason, const char *message)
{
    return xasprintf("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                     "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%u}",
                     message, reason, code);
}

static char *event_body(const char *ns, const char *name, long long count)
{
    return xasprintf("{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
                     "\"namespace\":\"%s\",\"resourceVersion\":\"7\"},\"count\":%lld}",
                     name, ns, count);
}

/*
 * What the Events API answers; *body is a fresh string. url is
 * /api/v1/namespaces/<ns>/events[/<name>]. Called with the server's lock held.
 */
static unsigned events_api(const char *method, const char *url, const char *upload, char **body)
{
    char ns[128], name[300] = "";
    const char *p = url + strlen(EVENTS_PATH);
    const char *slash = strchr(p, '/');
    if (strncmp(url, EVENTS_PATH, strlen(EVENTS_PATH)) != 0 || !slash ||
        (size_t)(slash - p) >= sizeof(ns) || strncmp(slash, "/events", 7) != 0 ||
        (slash[7] != '\0' && slash[7] != '/')) {
        *body = xstrdup("404 page not found\n");
        return 404;
    }
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - p), p);
    if (slash[7] == '/')
        snprintf(name, sizeof(name), "%s", slash + 8);
    cJSON *in = cJSON_Parse(upload);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(in, "count");
    unsigned code;
    if (strcmp(method, "POST") == 0 && !name[0]) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(in, "metadata");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(meta, "name");
        if (!cJSON_IsString(n) || !cJSON_IsNumber(count)) {
            *body = status_body(422, "Invalid", "name and count are required");
            code = 422;
        } else if (kube_map_has(&srv.events, n->valuestring)) {
            char *msg = xasprintf("events \\\"%s\\\" already exists", n->valuestring);
            *body = status_body(409, "AlreadyExists", msg);
            free(msg);
            code = 409;
        } else {
            long long *stored = xmalloc(sizeof(*stored));
            *stored = (long long)count->valuedouble;
            kube_map_put(&srv.events, n->valuestring, stored);
            *body = event_body(ns, n->valuestring, *stored);
            code = 201;
        }
    } else if (strcmp(method, "PATCH") == 0 && name[0]) {
        long long *stored = kube_map_get(&srv.events, name);
        if (!stored) {
            char *msg = xasprintf("events \\\"%s\\\" not found", name);
            *body = status_body(404, "NotFound", msg);
            free(msg);
            code = 404;
        } else {
            if (cJSON_IsNumber(count))
                *stored = (long long)count->valuedouble;
            *body = event_body(ns, name, *stored);
            code = 200;
        }
    } else {
        *body = status_body(405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource");
        code = 405;
    }
    cJSON_Delete(in);
    return code;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_cls)
{
    const char *in = NULL;
    enum MHD_Result more = test_httpd_body(req_cls, upload, upload_len, &in);
    if (!in)
        return more;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    char *body = NULL;
    pthread_mutex_lock(&srv.lock);
    unsigned code = events_api(method, url, in, &body);
    if (srv.nlog == srv.cap) {
        srv.cap = srv.cap ? srv.cap * 2 : 64;
        srv.log = xrealloc(srv.log, srv.cap * sizeof(*srv.log));
    }
    struct logged *l = &srv.log[srv.nlog++];
    snprintf(l->method, sizeof(l->method), "%s", method);
    l->path = xstrdup(url);
    l->content_type = xstrdup(ct ? ct : "");
    l->body = xstrdup(in);
    l->code = code;
    pthread_mutex_unlock(&srv.lock);
    enum MHD_Result ret = test_httpd_reply(c, code, "application/json", body);
    free(body);
    return ret;
}

static void log_clear(void)
{
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < srv.nlog; i++) {
        free(srv.log[i].path);
        free(srv.log[i].content_type);
        free(srv.log[i].body);
    }
    srv.nlog = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void server_start(void)
{
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.lock, NULL);
    kube_map_init(&srv.events);
    test_httpd_start(&srv.http, 0, handle, NULL);
}

static void server_stop(void)
{
    test_httpd_stop(&srv.http);
    log_clear();
    free(srv.log);
    kube_map_cleanup(&srv.events, free);
    pthread_mutex_destroy(&srv.lock);
}

/* The number of requests logged so far. */
static size_t nreqs(void)
{
    pthread_mutex_lock(&srv.lock);
    size_t n = srv.nlog;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

/* Request i (0 is the first since the last log_clear); valid until the next request. */
static const struct logged *req_at(size_t i)
{
    pthread_mutex_lock(&srv.lock);
    const struct logged *l = i < srv.nlog ? &srv.log[i] : NULL;
    pthread_mutex_unlock(&srv.lock);
    if (!l)
        test__fail(__FILE__, __LINE__, "no request %zu (%zu logged)", i, nreqs());
    return l;
}

/* The count the server stores for the Event name, 0 when it has none. */
static long long stored_count(const char *name)
{
    pthread_mutex_lock(&srv.lock);
    const long long *c = kube_map_get(&srv.events, name);
    long long n = c ? *c : 0;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

/* The Event expired on the server (its TTL). */
static void server_drop_event(const char *name)
{
    pthread_mutex_lock(&srv.lock);
    free(kube_map_del(&srv.events, name));
    pthread_mutex_unlock(&srv.lock);
}

/* ---- checks on what was sent ---- */

static const char *jstr(const cJSON *o, const char *k1, const char *k2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k1);
    if (k2)
        v = cJSON_GetObjectItemCaseSensitive(v, k2);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long jcount(const cJSON *o)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "count");
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

/*
 * Checks that request i creates the Event of t with type, reason and message and count 1;
 * returns the Event's name (caller frees).
 */
static char *check_create(size_t i, const struct op_topology *t, const char *type,
                          const char *reason, const char *message)
{
    const struct logged *l = req_at(i);
    char *path = xasprintf(EVENTS_PATH "%s/events", t->ns);
    CHECK_STR_EQ(l->method, "POST");
    CHECK_STR_EQ(l->path, path);
    CHECK_STR_EQ(l->content_type, "application/json");
    free(path);
    cJSON *o = cJSON_Parse(l->body);
    CHECK(o != NULL);
    CHECK_STR_EQ(jstr(o, "apiVersion", NULL), "v1");
    CHECK_STR_EQ(jstr(o, "kind", NULL), "Event");
    CHECK_STR_EQ(jstr(o, "metadata", "namespace"), t->ns);
    CHECK_STR_EQ(jstr(o, "involvedObject", "apiVersion"), TOPO_API_VERSION);
    CHECK_STR_EQ(jstr(o, "involvedObject", "kind"), TOPO_KIND);
    CHECK_STR_EQ(jstr(o, "involvedObject", "namespace"), t->ns);
    CHECK_STR_EQ(jstr(o, "involvedObject", "name"), t->name);
    CHECK_STR_EQ(jstr(o, "involvedObject", "uid"), t->uid);
    CHECK_STR_EQ(jstr(o, "type", NULL), type);
    CHECK_STR_EQ(jstr(o, "reason", NULL), reason);
    CHECK_STR_EQ(jstr(o, "message", NULL), message);
    CHECK_STR_EQ(jstr(o, "source", "component"), "ho11y-operator");
    CHECK_STR_EQ(jstr(o, "reportingComponent", NULL), "ho11y-operator");
    CHECK_STR_EQ(jstr(o, "reportingInstance", NULL), "pod-1");
    CHECK(jstr(o, "firstTimestamp", NULL) != NULL);
    CHECK_STR_EQ(jstr(o, "lastTimestamp", NULL), jstr(o, "firstTimestamp", NULL));
    CHECK_INT_EQ(jcount(o), 1);
    /* The name is the Topology's name and 16 hex digits of a hash of the event. */
    const char *name = jstr(o, "metadata", "name");
    CHECK(name != NULL);
    size_t n = strlen(t->name);
    CHECK_INT_EQ(strlen(name), n + 17);
    CHECK(strncmp(name, t->name, n) == 0 && name[n] == '.');
    CHECK_INT_EQ(strspn(name + n + 1, "0123456789abcdef"), 16);
    char *copy = xstrdup(name);
    cJSON_Delete(o);
    return copy;
}

/* Checks that request i is a strategic merge patch of the Event name in ns setting count (with
 * lastTimestamp), or only lastTimestamp when count is 0. */
static void check_patch(size_t i, const char *ns, const char *name, long long count)
{
    const struct logged *l = req_at(i);
    char *path = xasprintf(EVENTS_PATH "%s/events/%s", ns, name);
    CHECK_STR_EQ(l->method, "PATCH");
    CHECK_STR_EQ(l->path, path);
    CHECK_STR_EQ(l->content_type, "application/strategic-merge-patch+json");
    free(path);
    cJSON *o = cJSON_Parse(l->body);
    CHECK(o != NULL);
    CHECK(jstr(o, "lastTimestamp", NULL) != NULL);
    CHECK_INT_EQ(cJSON_GetArraySize(o), count ? 2 : 1);
    if (count)
        CHECK_INT_EQ(jcount(o), count);
    cJSON_Delete(o);
}

static void check_counts(struct op_events *ev, unsigned long long created,
                         unsigned long long patched)
{
    unsigned long long c = 0, p = 0;
    op_events_counts(ev, &c, &p);
    CHECK_INT_EQ(c, created);
    CHECK_INT_EQ(p, patched);
}

/* ---- fixtures ---- */

struct topo {
    struct op_topology t;
    char name[64];
    char uid[40];
};

static void topo_init(struct topo *tp, const char *name, unsigned n)
{
    memset(tp, 0, sizeof(*tp));
    snprintf(tp->name, sizeof(tp->name), "%s", name);
    snprintf(tp->uid, sizeof(tp->uid), "6f1c0a52-9d3e-4b7a-8c21-%012x", n);
    tp->t.ns = "shop";
    tp->t.name = tp->name;
    tp->t.uid = tp->uid;
    CHECK_INT_EQ(op_uid_set(&tp->t.id, tp->uid), 1);
    tp->t.json = "";
}

static struct kube_client *client_new(void)
{
    struct kube_config cfg = {0};
    cfg.server = test_httpd_url(&srv.http);
    cfg.token = xstrdup("t");
    struct kube_client *c = NULL;
    char err[256];
    CHECK_INT_EQ(kube_client_new(&cfg, NULL, &c, err, sizeof(err)), HO11Y_OK);
    kube_config_cleanup(&cfg);
    return c;
}

struct fixture {
    struct kube_client *client;
    struct kube_conn *conn;
    struct op_events *ev;
};

static void fixture_start(struct fixture *f)
{
    kube_global_init();
    server_start();
    f->client = client_new();
    f->conn = kube_conn_new(f->client, NULL);
    f->ev = op_events_new("ho11y-operator", "pod-1");
}

static void fixture_stop(struct fixture *f)
{
    op_events_free(f->ev);
    kube_conn_free(f->conn);
    kube_client_free(f->client);
    server_stop();
    kube_global_cleanup();
}

static void record(struct fixture *f, const struct topo *tp, const char *type, const char *reason,
                   const char *message)
{
    CHECK_INT_EQ(op_events_record(f->ev, f->conn, &tp->t, type, reason, message), HO11Y_OK);
}

/* ---- cases ---- */

TEST(repeat_is_a_patch_of_the_count)
{
    struct fixture f;
    fixture_start(&f);
    struct topo web;
    topo_init(&web, "web", 1);

    record(&f, &web, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(nreqs(), 1);
    char *name = check_create(0, &web.t, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(stored_count(name), 1);
    check_counts(f.ev, 1, 0);

    /* Repeats are one patch each, of the count the Event reaches, on the same Event. */
    record(&f, &web, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(nreqs(), 2);
    check_patch(1, "shop", name, 2);
    record(&f, &web, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(nreqs(), 3);
    check_patch(2, "shop", name, 3);
    CHECK_INT_EQ(stored_count(name), 3);
    check_counts(f.ev, 1, 2);

    /* Another message, type or reason is another Event. */
    record(&f, &web, "Warning", "Reconciled", "all children are in place");
    record(&f, &web, "Normal", "Degraded", "all children are in place");
    record(&f, &web, "Normal", "Reconciled", "collector is missing");
    CHECK_INT_EQ(nreqs(), 6);
    char *other[3] = {check_create(3, &web.t, "Warning", "Reconciled", "all children are in place"),
                      check_create(4, &web.t, "Normal", "Degraded", "all children are in place"),
                      check_create(5, &web.t, "Normal", "Reconciled", "collector is missing")};
    for (int i = 0; i < 3; i++) {
        CHECK(strcmp(other[i], name) != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(other[i], other[j]) != 0);
    }
    for (int i = 0; i < 3; i++)
        free(other[i]);
    CHECK_INT_EQ(stored_count(name), 3);
    check_counts(f.ev, 4, 2);

    /* The Event expired on the server (its TTL): the patch is answered 404 and the Event is
     * created again, counting from 1. */
    server_drop_event(name);
    log_clear();
    record(&f, &web, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(nreqs(), 2);
    check_patch(0, "shop", name, 4);
    CHECK_INT_EQ(req_at(0)->code, 404);
    char *again = check_create(1, &web.t, "Normal", "Reconciled", "all children are in place");
    CHECK_STR_EQ(again, name);
    CHECK_INT_EQ(stored_count(name), 1);
    record(&f, &web, "Normal", "Reconciled", "all children are in place");
    CHECK_INT_EQ(nreqs(), 3);
    check_patch(2, "shop", name, 2);
    check_counts(f.ev, 5, 3);
    free(again);
    free(name);
    fixture_stop(&f);
}

/* Waits for the next second of kube_now_ms, the clock the recorder times its entries by. */
static void next_second(void)
{
    int64_t s = kube_now_ms() / 1000;
    while (kube_now_ms() / 1000 == s) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

TEST(table_is_bounded_and_forgets_the_oldest)
{
    struct fixture f;
    fixture_start(&f);
    struct topo web;
    topo_init(&web, "web", 1);
    char msg[64];

    /* The recorder times its entries in whole seconds: "first" is sent in a second of its
     * own, then "second" (twice, so that its count is not 1), then the rest, so that the
     * oldest entry is never a tie. */
    record(&f, &web, "Normal", "Step", "first");
    next_second();
    record(&f, &web, "Normal", "Step", "second");
    record(&f, &web, "Normal", "Step", "second");
    next_second();
    char *first = check_create(0, &web.t, "Normal", "Step", "first");
    char *second = check_create(1, &web.t, "Normal", "Step", "second");
    check_patch(2, "shop", second, 2);
    log_clear();
    for (int i = 2; i < EVENTS_REMEMBERED; i++) {
        snprintf(msg, sizeof(msg), "filler %d", i);
        record(&f, &web, "Normal", "Step", msg);
    }
    CHECK_INT_EQ(nreqs(), EVENTS_REMEMBERED - 2);
    for (size_t i = 0; i < EVENTS_REMEMBERED - 2; i++) {
        CHECK_STR_EQ(req_at(i)->method, "POST");
        CHECK_INT_EQ(req_at(i)->code, 201);
    }
    check_counts(f.ev, EVENTS_REMEMBERED, 1);

    /* At the limit every event is still remembered, the oldest included (had the table held
     * fewer, "first" would have been forgotten). "first" is sent in a second after every
     * filler's, so that no filler is more recent than it. */
    next_second();
    log_clear();
    record(&f, &web, "Normal", "Step", "first");
    CHECK_INT_EQ(nreqs(), 1);
    check_patch(0, "shop", first, 2);

    /* One event more: the least recently sent ("second") is forgotten, so sending it again
     * starts with a create; the server has it (409 AlreadyExists), and the recorder counts on
     * from the stored count. */
    record(&f, &web, "Normal", "Step", "one too many");
    CHECK_INT_EQ(nreqs(), 2);
    free(check_create(1, &web.t, "Normal", "Step", "one too many"));
    log_clear();
    record(&f, &web, "Normal", "Step", "second");
    CHECK_INT_EQ(nreqs(), 3);
    free(check_create(0, &web.t, "Normal", "Step", "second"));
    CHECK_INT_EQ(req_at(0)->code, 409);
    check_patch(1, "shop", second, 0);
    check_patch(2, "shop", second, 3);
    CHECK_INT_EQ(stored_count(second), 3);

    /* "first", sent again just before the limit was passed, is still remembered. */
    log_clear();
    record(&f, &web, "Normal", "Step", "first");
    CHECK_INT_EQ(nreqs(), 1);
    check_patch(0, "shop", first, 3);
    CHECK_INT_EQ(stored_count(first), 3);
    check_counts(f.ev, EVENTS_REMEMBERED + 1, 4);

    /* Forgetting moves entries within the table (no tombstones), and nothing may be lost.
     * Every filler is sent again, in a second after everything else: the one forgotten for
     * "second" is created again (409, two patches), which forgets the oldest filler not yet
     * sent again, and so on; the others are one patch each. */
    next_second();
    log_clear();
    for (int i = 2; i < EVENTS_REMEMBERED; i++) {
        snprintf(msg, sizeof(msg), "filler %d", i);
        record(&f, &web, "Normal", "Step", msg);
    }
    size_t posts = 0, patches = 0;
    for (size_t i = 0; i < nreqs(); i++) {
        if (strcmp(req_at(i)->method, "POST") == 0) {
            posts++;
            CHECK_INT_EQ(req_at(i)->code, 409);
        } else {
            patches++;
        }
    }
    CHECK(posts >= 1);
    CHECK_INT_EQ(patches, EVENTS_REMEMBERED - 2 - posts + 2 * posts);
    /* Now every filler is more recent than anything else, so all of them are remembered and
     * found after those removals: one patch each, no create. */
    log_clear();
    for (int i = 2; i < EVENTS_REMEMBERED; i++) {
        snprintf(msg, sizeof(msg), "filler %d", i);
        record(&f, &web, "Normal", "Step", msg);
    }
    CHECK_INT_EQ(nreqs(), EVENTS_REMEMBERED - 2);
    for (size_t i = 0; i < nreqs(); i++)
        CHECK_STR_EQ(req_at(i)->method, "PATCH");
    free(first);
    free(second);
    fixture_stop(&f);
}

TEST(forget_drops_only_that_topology)
{
    struct fixture f;
    fixture_start(&f);
    struct topo web, db;
    topo_init(&web, "web", 1);
    topo_init(&db, "db", 2);

    /* Forgetting on an empty recorder, or a Topology it sent nothing for, changes nothing. */
    op_events_forget(f.ev, &web.t.id);
    record(&f, &web, "Normal", "Reconciled", "ok");
    record(&f, &web, "Warning", "Degraded", "collector is missing");
    record(&f, &db, "Normal", "Reconciled", "ok");
    CHECK_INT_EQ(nreqs(), 3);
    char *web_ok = check_create(0, &web.t, "Normal", "Reconciled", "ok");
    char *web_deg = check_create(1, &web.t, "Warning", "Degraded", "collector is missing");
    char *db_ok = check_create(2, &db.t, "Normal", "Reconciled", "ok");
    struct topo gone;
    topo_init(&gone, "gone", 3);
    op_events_forget(f.ev, &gone.t.id);
    log_clear();
    record(&f, &web, "Normal", "Reconciled", "ok");
    record(&f, &db, "Normal", "Reconciled", "ok");
    CHECK_INT_EQ(nreqs(), 2);
    check_patch(0, "shop", web_ok, 2);
    check_patch(1, "shop", db_ok, 2);

    /* web is deleted and its Events expire: both of its events are created anew, while db's
     * is still patched straight away. */
    op_events_forget(f.ev, &web.t.id);
    server_drop_event(web_ok);
    server_drop_event(web_deg);
    log_clear();
    record(&f, &db, "Normal", "Reconciled", "ok");
    record(&f, &web, "Normal", "Reconciled", "ok");
    record(&f, &web, "Warning", "Degraded", "collector is missing");
    CHECK_INT_EQ(nreqs(), 3);
    check_patch(0, "shop", db_ok, 3);
    char *name = check_create(1, &web.t, "Normal", "Reconciled", "ok");
    CHECK_STR_EQ(name, web_ok);
    free(name);
    name = check_create(2, &web.t, "Warning", "Degraded", "collector is missing");
    CHECK_STR_EQ(name, web_deg);
    free(name);
    CHECK_INT_EQ(req_at(1)->code, 201);
    CHECK_INT_EQ(req_at(2)->code, 201);

    /* And they are remembered again. */
    log_clear();
    record(&f, &web, "Normal", "Reconciled", "ok");
    CHECK_INT_EQ(nreqs(), 1);
    check_patch(0, "shop", web_ok, 2);
    check_counts(f.ev, 5, 4);
    free(web_ok);
    free(web_deg);
    free(db_ok);
    fixture_stop(&f);
}
