/*
 * The REST client against a small local HTTP server (libmicrohttpd) that answers what each case
 * needs: Retry-After waits and retries, no retry without Retry-After or when the request asks
 * for none, cancellation during a wait, and a 401 that makes the token file be read again.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "kube/kube_client.h"
#include "kube/kube_util.h"
#include "test.h"
#include "test_httpd.h"

struct server {
    struct test_httpd http;
    atomic_int requests;
    atomic_int fail_first; /* "flaky": this many 429s with Retry-After: 1 before a 200 */
};

static struct server srv;

static const char *const status_429 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Too many requests, please try again later.\",\"reason\":\"TooManyRequests\","
    "\"details\":{\"retryAfterSeconds\":1},\"code\":429}";
static const char *const status_500 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Internal error occurred: injected\",\"reason\":\"InternalError\","
    "\"code\":500}";
static const char *const status_401 =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}";
static const char *const ok_body = "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\"}";

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *body,
                              const char *retry_after)
{
    struct MHD_Response *r = test_httpd_response("application/json", body);
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    return test_httpd_queue(c, code, r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_cls)
{
    atomic_fetch_add(&srv.requests, 1);
    if (strstr(url, "/flaky"))
        return atomic_fetch_sub(&srv.fail_first, 1) > 0 ? answer(c, 429, status_429, "1")
                                                        : answer(c, 200, ok_body, NULL);
    if (strstr(url, "/busy"))
        return answer(c, 429, status_429, "5");
    if (strstr(url, "/broken"))
        return answer(c, 500, status_500, NULL);
    if (strstr(url, "/guarded")) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!auth || strcmp(auth, "Bearer good") != 0)
            return answer(c, 401, status_401, NULL);
        return answer(c, 200, ok_body, NULL);
    }
    return answer(c, 404, "404 page not found\n", NULL);
}

static void server_start(void)
{
    memset(&srv, 0, sizeof(srv));
    test_httpd_start(&srv.http, 0, handle, NULL);
}

static void server_stop(void)
{
    test_httpd_stop(&srv.http);
}

static struct kube_client *client_for(const char *token, const char *token_file)
{
    struct kube_config cfg = {0};
    cfg.server = test_httpd_url(&srv.http);
    cfg.token = xstrdup(token);
    cfg.token_file = xstrdup(token_file);
    struct kube_client *c = NULL;
    char err[256];
    CHECK_INT_EQ(kube_client_new(&cfg, NULL, &c, err, sizeof(err)), HO11Y_OK);
    kube_config_cleanup(&cfg);
    return c;
}

static enum ho11y_err get(struct kube_conn *conn, const char *name, int no_retry,
                          struct kube_resp *resp, char *err, size_t errlen)
{
    struct kube_req req = {
        .verb = "GET", .res = &kube_res_configmaps, .ns = "ns", .name = name, .no_retry = no_retry};
    return kube_conn_do(conn, &req, resp, err, errlen);
}

TEST(retry_after_is_waited_out)
{
    kube_global_init();
    server_start();
    struct kube_client *c = client_for("t", NULL);
    struct kube_conn *conn = kube_conn_new(c, NULL);
    struct kube_resp resp;
    char err[512] = "";
    atomic_store(&srv.fail_first, 2);
    int64_t t0 = kube_now_ms();
    CHECK_INT_EQ(get(conn, "flaky", 0, &resp, err, sizeof(err)), HO11Y_OK);
    int64_t took = kube_now_ms() - t0;
    CHECK_INT_EQ(resp.code, 200);
    CHECK_INT_EQ(atomic_load(&srv.requests), 3);
    CHECK(took >= 2000); /* two waits of the second Retry-After asked for */
    CHECK(took < 5000);

    /* The caller may take the 429 itself (the leader elector times its own retries). */
    atomic_store(&srv.requests, 0);
    atomic_store(&srv.fail_first, 1);
    t0 = kube_now_ms();
    CHECK_INT_EQ(get(conn, "flaky", 1, &resp, err, sizeof(err)), HO11Y_UNAVAILABLE);
    CHECK(kube_now_ms() - t0 < 900);
    CHECK_INT_EQ(atomic_load(&srv.requests), 1);
    CHECK_INT_EQ(resp.status.code, 429);
    CHECK_INT_EQ(resp.status.retry_after, 1);
    CHECK_STR_EQ(resp.status.reason, "TooManyRequests");
    CHECK_STR_CONTAINS(err, "GET /api/v1/namespaces/ns/configmaps/flaky: 429 TooManyRequests");

    /* A 500 without Retry-After is not retried here; the Status is kept. */
    atomic_store(&srv.requests, 0);
    CHECK_INT_EQ(get(conn, "broken", 0, &resp, err, sizeof(err)), HO11Y_HTTP);
    CHECK_INT_EQ(atomic_load(&srv.requests), 1);
    CHECK_STR_EQ(resp.status.reason, "InternalError");
    CHECK_STR_EQ(resp.status.message, "Internal error occurred: injected");
    kube_conn_free(conn);
    kube_client_free(c);
    server_stop();
    kube_global_cleanup();
}

struct canceller {
    atomic_int *flag;
};

static void *cancel_soon(void *arg)
{
    struct canceller *cn = arg;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(cn->flag, 1);
    return NULL;
}

TEST(retry_wait_ends_on_cancel)
{
    kube_global_init();
    server_start();
    struct kube_client *c = client_for("t", NULL);
    atomic_int cancel = 0;
    struct kube_conn *conn = kube_conn_new(c, &cancel);
    struct kube_resp resp;
    char err[512] = "";
    struct canceller cn = {&cancel};
    pthread_t th;
    CHECK_INT_EQ(pthread_create(&th, NULL, cancel_soon, &cn), 0);
    int64_t t0 = kube_now_ms();
    /* The server asks for 5 s; leadership lost or shutdown must not wait that long. */
    CHECK_INT_EQ(get(conn, "busy", 0, &resp, err, sizeof(err)), HO11Y_CANCELLED);
    CHECK(kube_now_ms() - t0 < 2000);
    CHECK_INT_EQ(atomic_load(&srv.requests), 1);
    pthread_join(th, NULL);
    kube_conn_free(conn);
    kube_client_free(c);
    server_stop();
    kube_global_cleanup();
}

static void sum_waits(void *ud, const char *method, const unsigned long long *buckets, double sum,
                      unsigned long long count)
{
    double *acc = ud;
    (void)method;
    (void)buckets;
    acc[0] += (double)count;
    acc[1] += sum;
}

TEST(rate_limit_spaces_requests)
{
    kube_global_init();
    server_start();
    struct kube_config cfg = {0};
    cfg.server = test_httpd_url(&srv.http);
    /* 20 a second, 3 at once: 3 requests go at once, the next 4 are spaced 50 ms apart, so the
     * seventh starts 200 ms after the first at the earliest. */
    struct kube_client_opts opts = {.qps = 20, .burst = 3};
    struct kube_client *c = NULL;
    char err[512] = "";
    CHECK_INT_EQ(kube_client_new(&cfg, &opts, &c, err, sizeof(err)), HO11Y_OK);
    kube_config_cleanup(&cfg);
    struct kube_conn *conn = kube_conn_new(c, NULL);
    struct kube_resp resp;
    int64_t t0 = kube_now_ms();
    for (int i = 0; i < 7; i++)
        CHECK_INT_EQ(get(conn, "broken", 1, &resp, err, sizeof(err)), HO11Y_HTTP);
    int64_t took = kube_now_ms() - t0;
    CHECK(took >= 195);
    CHECK_INT_EQ(atomic_load(&srv.requests), 7);
    /* Every attempt's wait is in the rate limiter histogram (the time the requests themselves
     * took counts towards the spacing, so the waits add up to a little less than 200 ms). */
    double waits[2] = {0, 0};
    kube_client_rate_limiter_durations(c, sum_waits, waits);
    CHECK(waits[0] == 7);
    CHECK(waits[1] >= 0.05 && waits[1] <= (double)took / 1000);
    /* The bucket is empty now; a request marked no_throttle (a Lease renewal) does not wait. */
    struct kube_req lease = {.verb = "GET",
                             .res = &kube_res_configmaps,
                             .ns = "ns",
                             .name = "broken",
                             .no_retry = 1,
                             .no_throttle = 1};
    for (int i = 0; i < 5; i++)
        CHECK_INT_EQ(kube_conn_do(conn, &lease, &resp, err, sizeof(err)), HO11Y_HTTP);
    waits[0] = waits[1] = 0;
    kube_client_rate_limiter_durations(c, sum_waits, waits);
    CHECK(waits[0] == 7);
    kube_conn_free(conn);
    kube_client_free(c);

    /* Without a limit nothing waits, and no wait is counted. */
    c = client_for("t", NULL);
    conn = kube_conn_new(c, NULL);
    for (int i = 0; i < 5; i++)
        CHECK_INT_EQ(get(conn, "broken", 1, &resp, err, sizeof(err)), HO11Y_HTTP);
    waits[0] = waits[1] = 0;
    kube_client_rate_limiter_durations(c, sum_waits, waits);
    CHECK(waits[0] == 0);
    kube_conn_free(conn);
    kube_client_free(c);
    server_stop();
    kube_global_cleanup();
}

TEST(unauthorized_rereads_the_token_file)
{
    char dir[] = "/tmp/ho11y-kube-client-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = xasprintf("%s/token", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("stale\n", f);
    fclose(f);
    kube_global_init();
    server_start();
    struct kube_client *c = client_for(NULL, path);
    struct kube_conn *conn = kube_conn_new(c, NULL);
    struct kube_resp resp;
    char err[512] = "";
    /* Refused: the file is read again once, the request retried once, then the 401 stands. */
    CHECK_INT_EQ(get(conn, "guarded", 0, &resp, err, sizeof(err)), HO11Y_UNAUTHORIZED);
    CHECK_INT_EQ(atomic_load(&srv.requests), 2);
    CHECK_STR_CONTAINS(err, "401 Unauthorized");
    /* The token rotates (written as a new file, as the kubelet does): the next 401 picks it
     * up long before the periodic re-read would. */
    char *tmp = xasprintf("%s/token.new", dir);
    f = fopen(tmp, "w");
    CHECK(f != NULL);
    fputs("good", f);
    fclose(f);
    CHECK_INT_EQ(rename(tmp, path), 0);
    atomic_store(&srv.requests, 0);
    CHECK_INT_EQ(get(conn, "guarded", 0, &resp, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(atomic_load(&srv.requests), 2);
    atomic_store(&srv.requests, 0);
    CHECK_INT_EQ(get(conn, "guarded", 0, &resp, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(atomic_load(&srv.requests), 1);
    kube_conn_free(conn);
    kube_client_free(c);
    server_stop();
    kube_global_cleanup();
    unlink(path);
    rmdir(dir);
    free(path);
    free(tmp);
}
