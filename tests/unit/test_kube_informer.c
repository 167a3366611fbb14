/*
 * The informer against a local HTTP server (libmicrohttpd, a thread per connection) that serves
 * a ConfigMap collection as the API server does: lists in pages of `limit` items with an opaque
 * `continue` token, and watches as a chunked stream of one JSON event per line, held open until
 * the case sends an event. A list that fails on a continue page must leave the informer unsynced
 * and deleting nothing: after a 500 it is retried from its first page after a backoff, after a
 * 410 Expired for the token at once, as one request without limit; the completed list then
 * gives the whole cache and deletes what the server no longer has. Every request is logged,
 * with what the informer reported at the moment it arrived, before it is answered.
 */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "kube/kube_client.h"
#include "kube/kube_informer.h"
#include "kube/kube_util.h"
#include "test.h"
#include "test_httpd.h"

#define NS        "shop"
#define PAGE_SIZE 2
#define MAX_OBJS  8
#define MAX_LOG   64
#define MAX_NOTES 64
/* The informer's first backoff after an error (0.8 s plus up to as much jitter). */
#define BACKOFF_MIN_MS 800

enum fault { FAULT_NONE, FAULT_CONTINUE_500, FAULT_CONTINUE_410 };

struct obj {
    char name[32];
    char value[32];
};

struct logged {
    int watch;      /* a watch request, else a list */
    char cont[64];  /* the continue parameter, "" when absent */
    char limit[16]; /* "" when absent */
    char rv[32];    /* the resourceVersion parameter, "" when absent */
    unsigned code;  /* the answer's status */
    int64_t at_ms;  /* kube_now_ms() on arrival */
    int synced;     /* kube_informer_synced() on arrival */
    size_t cached;  /* kube_informer_count() on arrival */
    size_t deletes; /* deletions notified before arrival */
};

/* A change the informer notified. */
struct note {
    char key[48];
    char old_value[32]; /* "" when added */
    char new_value[32]; /* "" when deleted */
};

struct server {
    struct test_httpd http;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kube_informer *inf;
    /* The collection: objects in name order and the resourceVersion of a list. */
    struct obj objs[MAX_OBJS];
    size_t nobjs;
    char list_rv[32];
    enum fault fault; /* applied once, to the next request carrying a continue token */
    /* When set, the collection becomes this as the fault is applied (changes made between
     * a list's pages). */
    int change_on_fault;
    struct obj after[MAX_OBJS];
    size_t nafter;
    char after_rv[32];
    char *watch_event; /* the next line for the open watch; it then ends */
    int quit;          /* answer everything at once: the case is over */
    struct logged log[MAX_LOG];
    size_t nlog;
    struct note notes[MAX_NOTES];
    size_t nnotes, deletes;
};

static struct server srv;

/* ---- the server ---- */

static const char *const status_500 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Internal error occurred: injected\",\"reason\":\"InternalError\","
    "\"code\":500}";
static const char *const status_410 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"The provided continue parameter is too old to display a consistent list "
    "result. You can start a new list without the continue parameter.\",\"reason\":\"Expired\","
    "\"code\":410}";
static const char *const status_503 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"shutting down\",\"reason\":\"ServiceUnavailable\",\"code\":503}";
static const char *const status_400 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"invalid continue token\",\"reason\":\"BadRequest\",\"code\":400}";

/* One page of the list from offset (parsed from the continue token); the server's lock is
 * held. Returns the status and the body (fresh). */
static unsigned list_page(const char *cont, const char *limit, char **body)
{
    size_t from = 0, n = srv.nobjs;
    if (cont[0]) {
        /* Tokens are "<rv>:<offset>", opaque to the client. */
        char *end = NULL;
        const char *colon = strchr(cont, ':');
        long v = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || end == colon + 1 || *end || v < 0 || (size_t)v > srv.nobjs) {
            *body = xstrdup(status_400);
            return 400;
        }
        from = (size_t)v;
    }
    if (limit[0]) {
        long l = strtol(limit, NULL, 10);
        if (l > 0 && (size_t)l < n)
            n = (size_t)l;
    }
    size_t to = from + n < srv.nobjs ? from + n : srv.nobjs;
    struct hbuf b;
    hbuf_init(&b, 1 << 20);
    hbuf_addf(&b,
              "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{"
              "\"resourceVersion\":\"%s\"",
              srv.list_rv);
    if (to < srv.nobjs)
        hbuf_addf(&b, ",\"continue\":\"%s:%zu\",\"remainingItemCount\":%zu", srv.list_rv, to,
                  srv.nobjs - to);
    hbuf_adds(&b, "},\"items\":[");
    for (size_t i = from; i < to; i++)
        hbuf_addf(&b,
                  "%s{\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\","
                  "\"resourceVersion\":\"%s\"},\"data\":{\"v\":\"%s\"}}",
                  i > from ? "," : "", srv.objs[i].name, srv.list_rv, srv.objs[i].value);
    hbuf_adds(&b, "]}");
    *body = hbuf_steal(&b, NULL);
    hbuf_cleanup(&b);
    return 200;
}

/*
 * The watch stream: waits for the case to hand it an event, sends it, and ends after it (as the
 * API server does after an ERROR event); ends at once when the case is over.
 */
static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    int *sent = cls;
    ssize_t n = MHD_CONTENT_READER_END_OF_STREAM;
    pthread_mutex_lock(&srv.lock);
    while (!*sent && !srv.quit && !srv.watch_event) {
        struct timespec ts;
        kube_deadline_after(&ts, 50);
        pthread_cond_timedwait(&srv.cond, &srv.lock, &ts);
    }
    if (!*sent && !srv.quit && srv.watch_event && strlen(srv.watch_event) < max) {
        n = (ssize_t)strlen(srv.watch_event);
        memcpy(buf, srv.watch_event, (size_t)n);
        free(srv.watch_event);
        srv.watch_event = NULL;
        *sent = 1;
    }
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static void arg_copy(struct MHD_Connection *c, const char *key, char *out, size_t outlen)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    snprintf(out, outlen, "%s", v ? v : "");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_cls)
{
    struct logged l = {0};
    const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
    l.watch = w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0);
    arg_copy(c, "continue", l.cont, sizeof(l.cont));
    arg_copy(c, "limit", l.limit, sizeof(l.limit));
    arg_copy(c, "resourceVersion", l.rv, sizeof(l.rv));
    l.at_ms = kube_now_ms();

    char *body = NULL;
    pthread_mutex_lock(&srv.lock);
    /* The informer's thread waits in this request, so what the informer reports is what its
     * earlier requests left. It is read under the server's lock, which the case takes to free
     * the informer; the informer notifies changes holding none of its own locks. */
    l.synced = srv.inf ? kube_informer_synced(srv.inf) : -1;
    l.cached = srv.inf ? kube_informer_count(srv.inf) : 0;
    l.deletes = srv.deletes;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/api/v1/namespaces/" NS "/configmaps") != 0) {
        l.code = 404;
        body = xstrdup("404 page not found\n");
    } else if (srv.quit) {
        l.code = 503;
        body = xstrdup(status_503);
    } else if (l.watch) {
        l.code = 200;
    } else if (l.cont[0] && srv.fault != FAULT_NONE) {
        l.code = srv.fault == FAULT_CONTINUE_500 ? 500 : 410;
        body = xstrdup(l.code == 500 ? status_500 : status_410);
        srv.fault = FAULT_NONE;
        if (srv.change_on_fault) {
            memcpy(srv.objs, srv.after, sizeof(srv.after));
            srv.nobjs = srv.nafter;
            snprintf(srv.list_rv, sizeof(srv.list_rv), "%s", srv.after_rv);
            srv.change_on_fault = 0;
        }
    } else {
        l.code = list_page(l.cont, l.limit, &body);
    }
    if (srv.nlog < MAX_LOG)
        srv.log[srv.nlog++] = l;
    pthread_cond_broadcast(&srv.cond);
    pthread_mutex_unlock(&srv.lock);

    if (body) {
        enum MHD_Result ret = test_httpd_reply(c, l.code, "application/json", body);
        free(body);
        return ret;
    }
    int *sent = xcalloc(1, sizeof(*sent));
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, watch_read, sent, free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    return test_httpd_queue(c, MHD_HTTP_OK, r);
}

static void server_start(void)
{
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.lock, NULL);
    pthread_cond_init(&srv.cond, NULL);
    snprintf(srv.list_rv, sizeof(srv.list_rv), "100");
    test_httpd_start(&srv.http, MHD_USE_THREAD_PER_CONNECTION, handle, NULL);
}

/* Sets the collection to the objects "name=value" in names (in name order) at rv. */
/* Fills out from n "name=value" strings. */
static void objs_fill(struct obj *out, const char *const *objs, size_t n)
{
    CHECK(n <= MAX_OBJS);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(objs[i], '=');
        snprintf(out[i].name, sizeof(out[i].name), "%.*s", (int)(eq - objs[i]), objs[i]);
        snprintf(out[i].value, sizeof(out[i].value), "%s", eq + 1);
    }
}

static void server_set(const char *rv, const char *const *objs, size_t n)
{
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.list_rv, sizeof(srv.list_rv), "%s", rv);
    objs_fill(srv.objs, objs, n);
    srv.nobjs = n;
    pthread_mutex_unlock(&srv.lock);
}

/* The collection becomes objs at rv when the next fault is applied. */
static void server_change_on_fault(const char *rv, const char *const *objs, size_t n)
{
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.after_rv, sizeof(srv.after_rv), "%s", rv);
    objs_fill(srv.after, objs, n);
    srv.nafter = n;
    srv.change_on_fault = 1;
    pthread_mutex_unlock(&srv.lock);
}

static void server_fault(enum fault f)
{
    pthread_mutex_lock(&srv.lock);
    srv.fault = f;
    pthread_mutex_unlock(&srv.lock);
}

/* Hands line (with its newline) to the open watch, which then ends. */
static void server_watch_send(const char *line)
{
    pthread_mutex_lock(&srv.lock);
    free(srv.watch_event);
    srv.watch_event = xasprintf("%s\n", line);
    pthread_cond_broadcast(&srv.cond);
    pthread_mutex_unlock(&srv.lock);
}

/* Waits up to 10 s until at least n requests are logged; fails the case otherwise. */
static void wait_requests(size_t n)
{
    int64_t end = kube_now_ms() + 10000;
    pthread_mutex_lock(&srv.lock);
    while (srv.nlog < n && kube_now_ms() < end) {
        struct timespec ts;
        kube_deadline_after(&ts, 20);
        pthread_cond_timedwait(&srv.cond, &srv.lock, &ts);
    }
    size_t got = srv.nlog;
    pthread_mutex_unlock(&srv.lock);
    if (got < n)
        test__fail(__FILE__, __LINE__, "%zu requests arrived, %zu expected", got, n);
}

/* A copy of request i. */
static struct logged req_at(size_t i)
{
    pthread_mutex_lock(&srv.lock);
    CHECK(i < srv.nlog);
    struct logged l = srv.log[i];
    pthread_mutex_unlock(&srv.lock);
    return l;
}

static size_t nreqs(void)
{
    pthread_mutex_lock(&srv.lock);
    size_t n = srv.nlog;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

/* ---- the informer's records and notifications ---- */

struct cm_rec {
    char value[32];
};

static void *cm_trim(void *ud, const cJSON *obj, size_t head)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "v");
    char *block = xcalloc(1, head + sizeof(struct cm_rec));
    struct cm_rec *rec = (struct cm_rec *)(void *)(block + head);
    snprintf(rec->value, sizeof(rec->value), "%s", cJSON_IsString(v) ? v->valuestring : "");
    return rec;
}

static int cm_same(const void *a, const void *b)
{
    const struct cm_rec *x = a, *y = b;
    return strcmp(x->value, y->value) == 0;
}

static void cm_changed(void *ud, const char *key, const void *old_rec, const void *new_rec)
{
    const struct cm_rec *o = old_rec, *n = new_rec;
    pthread_mutex_lock(&srv.lock);
    if (srv.nnotes < MAX_NOTES) {
        struct note *nt = &srv.notes[srv.nnotes++];
        snprintf(nt->key, sizeof(nt->key), "%s", key);
        snprintf(nt->old_value, sizeof(nt->old_value), "%s", o ? o->value : "");
        snprintf(nt->new_value, sizeof(nt->new_value), "%s", n ? n->value : "");
    }
    if (!n)
        srv.deletes++;
    pthread_mutex_unlock(&srv.lock);
}

static const struct kube_informer_ops cm_ops = {cm_trim, cm_same, cm_changed, NULL};

/* The notifications so far as "key:old>new" separated by spaces, in order. Static buffer. */
static const char *notes(void)
{
    static char out[4096];
    size_t len = 0;
    out[0] = '\0';
    pthread_mutex_lock(&srv.lock);
    for (size_t i = 0; i < srv.nnotes && len < sizeof(out); i++) {
        int n = snprintf(out + len, sizeof(out) - len, "%s%s:%s>%s", i ? " " : "", srv.notes[i].key,
                         srv.notes[i].old_value, srv.notes[i].new_value);
        if (n > 0)
            len += (size_t)n;
    }
    pthread_mutex_unlock(&srv.lock);
    return out;
}

static void notes_clear(void)
{
    pthread_mutex_lock(&srv.lock);
    srv.nnotes = 0;
    srv.deletes = 0;
    pthread_mutex_unlock(&srv.lock);
}

struct entries {
    char text[MAX_OBJS * 2][64];
    size_t n;
};

static int collect_entry(void *ud, const char *key, const void *rec)
{
    struct entries *es = ud;
    const struct cm_rec *r = rec;
    if (es->n < MAX_OBJS * 2)
        snprintf(es->text[es->n++], sizeof(es->text[0]), "%s=%s", key, r->value);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The cache as "key=value" in key order (its own order is unspecified), separated by spaces.
 * Static buffer. */
static const char *cache_text(struct kube_informer *inf)
{
    static char out[MAX_OBJS * 2 * 65];
    struct entries es = {.n = 0};
    kube_informer_foreach(inf, collect_entry, &es);
    qsort(es.text, es.n, sizeof(es.text[0]), cmp_entry);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < es.n; i++) {
        int w = snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", es.text[i]);
        if (w > 0 && (size_t)w < sizeof(out) - len)
            len += (size_t)w;
    }
    return out;
}

static int wait_synced(struct kube_informer *inf, int64_t ms)
{
    int64_t end = kube_now_ms() + ms;
    while (!kube_informer_synced(inf) && kube_now_ms() < end) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return kube_informer_synced(inf);
}

/* ---- fixture ---- */

struct fixture {
    struct kube_client *client;
    struct kube_informer *inf;
};

static void fixture_start(struct fixture *f)
{
    kube_global_init();
    server_start();
    struct kube_config cfg = {0};
    cfg.server = test_httpd_url(&srv.http);
    cfg.token = xstrdup("t");
    char err[256];
    f->client = NULL;
    CHECK_INT_EQ(kube_client_new(&cfg, NULL, &f->client, err, sizeof(err)), HO11Y_OK);
    kube_config_cleanup(&cfg);
    struct kube_informer_opts o = {.name = "configmaps",
                                   .res = &kube_res_configmaps,
                                   .ns = NS,
                                   .page_size = PAGE_SIZE,
                                   .ops = &cm_ops};
    f->inf = kube_informer_new(f->client, &o);
    pthread_mutex_lock(&srv.lock);
    srv.inf = f->inf;
    pthread_mutex_unlock(&srv.lock);
}

static void fixture_stop(struct fixture *f)
{
    /* End the open watch first, so that stopping need not wait for the transfer to notice. */
    pthread_mutex_lock(&srv.lock);
    srv.quit = 1;
    pthread_cond_broadcast(&srv.cond);
    pthread_mutex_unlock(&srv.lock);
    kube_informer_stop(f->inf);
    pthread_mutex_lock(&srv.lock);
    srv.inf = NULL;
    pthread_mutex_unlock(&srv.lock);
    kube_informer_free(f->inf);
    kube_client_free(f->client);
    test_httpd_stop(&srv.http);
    free(srv.watch_event);
    pthread_cond_destroy(&srv.cond);
    pthread_mutex_destroy(&srv.lock);
    kube_global_cleanup();
}

static void check_list(size_t i, const char *cont, unsigned code)
{
    struct logged l = req_at(i);
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", PAGE_SIZE);
    CHECK_INT_EQ(l.watch, 0);
    CHECK_STR_EQ(l.limit, limit);
    CHECK_STR_EQ(l.cont, cont);
    CHECK_STR_EQ(l.rv, "");
    CHECK_INT_EQ(l.code, code);
}

/* Request i is a list in one request: no limit, no continue token. */
static void check_whole_list(size_t i)
{
    struct logged l = req_at(i);
    CHECK_INT_EQ(l.watch, 0);
    CHECK_STR_EQ(l.limit, "");
    CHECK_STR_EQ(l.cont, "");
    CHECK_STR_EQ(l.rv, "");
    CHECK_INT_EQ(l.code, 200);
}

static void check_watch(size_t i, const char *rv)
{
    struct logged l = req_at(i);
    CHECK_INT_EQ(l.watch, 1);
    CHECK_STR_EQ(l.rv, rv);
    CHECK_STR_EQ(l.cont, "");
    CHECK_INT_EQ(l.code, 200);
}

static int value_of(void *ud, const void *rec)
{
    const struct cm_rec *r = rec;
    snprintf(ud, 32, "%s", r->value);
    return 1;
}

/* ---- cases ---- */

TEST(first_list_failing_on_a_continue_page_is_retried_whole)
{
    struct fixture f;
    fixture_start(&f);
    const char *const objs[] = {"a=1", "b=1", "c=1", "d=1", "e=1"};
    server_set("100", objs, 5);
    server_fault(FAULT_CONTINUE_500);
    CHECK_INT_EQ(kube_informer_start(f.inf), HO11Y_OK);

    /* First page, the second page failing, then the list again from its start, to the end,
     * and a watch from the list's resourceVersion. */
    wait_requests(6);
    check_list(0, "", 200);
    check_list(1, "100:2", 500);
    check_list(2, "", 200);
    check_list(3, "100:2", 200);
    check_list(4, "100:4", 200);
    check_watch(5, "100");
    /* When the retry arrived the informer had the first page only and did not call that
     * synced; it waited out a backoff first. */
    struct logged failed = req_at(1), retry = req_at(2), watch = req_at(5);
    CHECK_INT_EQ(failed.synced, 0);
    CHECK_INT_EQ(retry.synced, 0);
    CHECK_INT_EQ(retry.cached, 2);
    CHECK(retry.at_ms - failed.at_ms >= BACKOFF_MIN_MS - 10);
    CHECK_INT_EQ(watch.synced, 1);
    CHECK_INT_EQ(watch.cached, 5);

    CHECK(wait_synced(f.inf, 1000));
    CHECK_STR_EQ(cache_text(f.inf), "shop/a=1 shop/b=1 shop/c=1 shop/d=1 shop/e=1");
    CHECK_INT_EQ(kube_informer_count(f.inf), 5);
    /* The first page was applied once; the retry found it unchanged and notified nothing. */
    CHECK_STR_EQ(notes(), "shop/a:>1 shop/b:>1 shop/c:>1 shop/d:>1 shop/e:>1");
    struct kube_informer_stats st;
    kube_informer_get_stats(f.inf, &st);
    CHECK_INT_EQ(st.lists, 1);
    CHECK_INT_EQ(st.errors, 1);
    CHECK_INT_EQ(st.expired, 0);
    CHECK_INT_EQ(st.watches, 1);
    CHECK_INT_EQ(nreqs(), 6);
    fixture_stop(&f);
}

TEST(relist_with_an_expired_continue_token_is_retried_and_deletes)
{
    struct fixture f;
    fixture_start(&f);
    const char *const objs[] = {"a=1", "b=1", "c=1", "d=1", "e=1"};
    server_set("100", objs, 5);
    CHECK_INT_EQ(kube_informer_start(f.inf), HO11Y_OK);
    wait_requests(4);
    check_list(0, "", 200);
    check_list(1, "100:2", 200);
    check_list(2, "100:4", 200);
    check_watch(3, "100");
    CHECK(kube_informer_synced(f.inf));
    CHECK_STR_EQ(cache_text(f.inf), "shop/a=1 shop/b=1 shop/c=1 shop/d=1 shop/e=1");
    notes_clear();

    /* While the watch is open, b and d are deleted, a changes and f is added; then the watch
     * expires, and the relist's continue token expires too. */
    const char *const later[] = {"a=2", "c=1", "e=1", "f=1"};
    server_set("200", later, 4);
    server_fault(FAULT_CONTINUE_410);
    server_watch_send("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                      "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                      "version: 100 (150)\",\"reason\":\"Expired\",\"code\":410}}");

    wait_requests(8);
    check_list(4, "", 200);
    check_list(5, "200:2", 410);
    /* An expired continue token is not an error to back off from (st.errors stays 0 below):
     * the list starts again at once, whole, as client-go's pager does. */
    check_whole_list(6);
    check_watch(7, "200");
    struct logged retry = req_at(6), watch = req_at(7);
    /* The half list replaced a and deleted nothing: b and d are still cached. */
    CHECK_INT_EQ(retry.cached, 5);
    CHECK_INT_EQ(retry.deletes, 0);
    /* The complete list deleted them before the watch started. */
    CHECK_INT_EQ(watch.cached, 4);
    CHECK_INT_EQ(watch.deletes, 2);

    CHECK_STR_EQ(cache_text(f.inf), "shop/a=2 shop/c=1 shop/e=1 shop/f=1");
    char value[32] = "";
    CHECK_INT_EQ(kube_informer_get(f.inf, "shop/a", value_of, value), 1);
    CHECK_STR_EQ(value, "2");
    CHECK_INT_EQ(kube_informer_get(f.inf, "shop/b", value_of, value), -1);
    CHECK_INT_EQ(kube_informer_get(f.inf, "shop/d", value_of, value), -1);
    /* a changed once (the retry found it as the half list left it), f was added, b and d
     * deleted once each; c and e did not change and are not notified. */
    const char *n = notes();
    CHECK_STR_CONTAINS(n, "shop/a:1>2 shop/f:>1 ");
    CHECK(strcmp(n, "shop/a:1>2 shop/f:>1 shop/b:1> shop/d:1>") == 0 ||
          strcmp(n, "shop/a:1>2 shop/f:>1 shop/d:1> shop/b:1>") == 0);
    struct kube_informer_stats st;
    kube_informer_get_stats(f.inf, &st);
    CHECK_INT_EQ(st.lists, 2);
    CHECK_INT_EQ(st.watches, 2);
    /* The watch's 410 and the continue token's both caused a relist. */
    CHECK_INT_EQ(st.expired, 2);
    CHECK_INT_EQ(st.errors, 0);
    CHECK_INT_EQ(nreqs(), 8);
    fixture_stop(&f);
}

TEST(first_list_sees_changes_made_before_its_expired_token_was_refused)
{
    struct fixture f;
    fixture_start(&f);
    const char *const objs[] = {"a=1", "b=1", "c=1", "d=1", "e=1"};
    server_set("100", objs, 5);
    /* Between the first page and the next: a is deleted and b changed, at resourceVersion 250;
     * the continue token of the list at 100 is then refused. */
    const char *const later[] = {"b=2", "c=1", "d=1", "e=1"};
    server_change_on_fault("250", later, 4);
    server_fault(FAULT_CONTINUE_410);
    CHECK_INT_EQ(kube_informer_start(f.inf), HO11Y_OK);
    wait_requests(4);
    check_list(0, "", 200);
    check_list(1, "100:2", 410);
    check_whole_list(2);
    check_watch(3, "250");
    /* Not synced until the whole list was applied. */
    CHECK_INT_EQ(req_at(2).synced, 0);
    CHECK_INT_EQ(req_at(3).synced, 1);
    CHECK(wait_synced(f.inf, 1000));
    /* a, applied from the first page, is gone: the whole list did not show it. */
    CHECK_STR_EQ(cache_text(f.inf), "shop/b=2 shop/c=1 shop/d=1 shop/e=1");
    CHECK_INT_EQ(kube_informer_count(f.inf), 4);
    struct kube_informer_stats st;
    kube_informer_get_stats(f.inf, &st);
    CHECK_INT_EQ(st.expired, 1);
    CHECK_INT_EQ(st.errors, 0);
    CHECK_INT_EQ(nreqs(), 4);
    fixture_stop(&f);
}
