#include "kube_client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "kube_auth.h"
#include "kube_util.h"

/* An error body is only read for its message. */
#define ERROR_BODY_MAX (64u * 1024)
/* libcurl's per-handle buffers (see kube_conn_new); 16 KiB is its smallest upload buffer. */
#define KUBE_CURL_BUFFER        8192
#define KUBE_CURL_UPLOAD_BUFFER 16384

const struct kube_resource kube_res_deployments = {"apps", "v1", "deployments", "Deployment", 1};
const struct kube_resource kube_res_services = {"", "v1", "services", "Service", 1};
const struct kube_resource kube_res_configmaps = {"", "v1", "configmaps", "ConfigMap", 1};
const struct kube_resource kube_res_serviceaccounts = {"", "v1", "serviceaccounts",
                                                       "ServiceAccount", 1};
const struct kube_resource kube_res_events = {"", "v1", "events", "Event", 1};
const struct kube_resource kube_res_leases = {"coordination.k8s.io", "v1", "leases", "Lease", 1};
const struct kube_resource kube_res_namespaces = {"", "v1", "namespaces", "Namespace", 0};
const struct kube_resource kube_res_topologies = {"ho11y.dev", "v1alpha1", "topologies", "Topology",
                                                  1};

void kube_resource_api_version(const struct kube_resource *res, char *out, size_t outlen)
{
    if (res->group[0])
        snprintf(out, outlen, "%s/%s", res->group, res->version);
    else
        snprintf(out, outlen, "%s", res->version);
}

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
#define NSTATS   64

struct stat_entry {
    unsigned method;
    long code;
    unsigned long long count;
};

const double kube_client_duration_bounds[KUBE_CLIENT_NBUCKETS] = {0.005, 0.025, 0.1, 0.25, 0.5, 1,
                                                                  2,     4,     8,   15,   30,  60};

struct duration_stat {
    unsigned long long buckets[KUBE_CLIENT_NBUCKETS]; /* cumulative */
    unsigned long long count;
    double sum;
};

struct kube_client {
    struct kube_config cfg; /* deep copy of the parts the handles need */
    struct kube_auth *auth;
    long connect_timeout_ms;
    long request_timeout_ms;
    size_t max_response;
    char *user_agent;
    char *host;                 /* host[:port] of the server, for the metrics */
    pthread_mutex_t stats_lock; /* stats, durations */
    struct stat_entry stats[NSTATS];
    size_t nstats;
    struct duration_stat durations[NMETHODS];
    struct duration_stat throttled[NMETHODS]; /* waits for the rate limit */
    /* The rate limit (qps 0: none). */
    pthread_mutex_t limit_lock;
    double qps;
    struct kube_bucket limit;
};

struct kube_conn {
    struct kube_client *client;
    CURL *h;
    const atomic_int *cancel;
    struct hbuf body;
    struct hbuf url;
    char errbuf[CURL_ERROR_SIZE];
    char *token;       /* the bearer token of the last request (to reject it after a 401) */
    unsigned cert_gen; /* exec certificate generation loaded into h */
    char *exec_cert, *exec_key;
    /* per request */
    const struct kube_req *req;
    long code;
    long retry_after;
    enum ho11y_err cb_error;
};

static void *curl_strdup_cb(const char *s)
{
    return xstrdup(s);
}

static void *curl_malloc_cb(size_t n)
{
    return xmalloc(n);
}

static void *curl_realloc_cb(void *p, size_t n)
{
    return xrealloc(p, n);
}

static void *curl_calloc_cb(size_t a, size_t b)
{
    return xcalloc(a, b);
}

void kube_global_init(void)
{
    curl_global_init_mem(CURL_GLOBAL_ALL, curl_malloc_cb, free, curl_realloc_cb,
                         (curl_strdup_callback)curl_strdup_cb, curl_calloc_cb);
}

void kube_global_cleanup(void)
{
    curl_global_cleanup();
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
    if (!p)
        return NULL;
    unsigned char *d = xmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static enum ho11y_err check_file(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (path && stat(path, &st) != 0) {
        if (err)
            snprintf(err, errlen, "%s file %s: not readable", what, path);
        return HO11Y_CONFIG;
    }
    return HO11Y_OK;
}

/* host[:port] of the server URL, as Go's url.URL.Host gives it; "" when it does not parse. */
static char *server_host(const char *server)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, server, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
            port = NULL; /* none in the URL: Go's Host has none either */
        out = port ? xasprintf("%s:%s", host, port) : xstrdup(host);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out ? out : xstrdup("");
}

enum ho11y_err kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts,
                               struct kube_client **out, char *err, size_t errlen)
{
    enum ho11y_err result;
    *out = NULL;
    if (!cfg->server) {
        if (err)
            snprintf(err, errlen, "configuration has no server");
        return HO11Y_CONFIG;
    }
    if ((result = check_file("certificate-authority", cfg->ca_file, err, errlen)) ||
        (result = check_file("client-certificate", cfg->cert_file, err, errlen)) ||
        (result = check_file("client-key", cfg->key_file, err, errlen)))
        return result;
    struct kube_client *c = xcalloc(1, sizeof(*c));
    c->cfg.server = xstrdup(cfg->server);
    c->cfg.ca_file = xstrdup(cfg->ca_file);
    c->cfg.ca_data = dup_bytes(cfg->ca_data, cfg->ca_len);
    c->cfg.ca_len = cfg->ca_len;
    c->cfg.insecure = cfg->insecure;
    c->cfg.cert_file = xstrdup(cfg->cert_file);
    c->cfg.key_file = xstrdup(cfg->key_file);
    c->cfg.cert_data = dup_bytes(cfg->cert_data, cfg->cert_len);
    c->cfg.cert_len = cfg->cert_len;
    c->cfg.key_data = dup_bytes(cfg->key_data, cfg->key_len);
    c->cfg.key_len = cfg->key_len;
    c->cfg.token_file = xstrdup(cfg->token_file);
    c->cfg.exec = cfg->exec ? (struct kube_exec_config *)1 : NULL; /* only tested for presence */
    c->auth = kube_auth_new(cfg);
    c->connect_timeout_ms = opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
    c->request_timeout_ms = opts && opts->request_timeout_ms ? opts->request_timeout_ms : 30000;
    c->max_response = opts && opts->max_response ? opts->max_response : 32u << 20;
    c->user_agent =
        xstrdup(opts && opts->user_agent ? opts->user_agent : "ho11y-operator/" HO11Y_VERSION);
    c->host = server_host(cfg->server);
    pthread_mutex_init(&c->stats_lock, NULL);
    pthread_mutex_init(&c->limit_lock, NULL);
    if (opts && opts->qps > 0) {
        c->qps = opts->qps;
        kube_bucket_init(&c->limit, opts->qps, opts->burst > 0 ? opts->burst : 1);
    }
    if (cfg->insecure && strncmp(cfg->server, "https://", 8) == 0)
        LOG_WARN("TLS verification of %s is off (insecure-skip-tls-verify in the kubeconfig); "
                 "the connection can be intercepted",
                 cfg->server);
    *out = c;
    return HO11Y_OK;
}

void kube_client_free(struct kube_client *c)
{
    if (!c)
        return;
    c->cfg.exec = NULL;
    kube_config_cleanup(&c->cfg);
    kube_auth_free(c->auth);
    free(c->user_agent);
    free(c->host);
    pthread_mutex_destroy(&c->stats_lock);
    pthread_mutex_destroy(&c->limit_lock);
    free(c);
}

const char *kube_client_server(const struct kube_client *c)
{
    return c->cfg.server;
}

const char *kube_client_host(const struct kube_client *c)
{
    return c->host;
}

static unsigned method_index(const char *verb)
{
    unsigned m = 0;
    while (m < NMETHODS - 1 && strcmp(methods[m], verb) != 0)
        m++;
    return m;
}

static void count(struct kube_client *c, const char *verb, long code)
{
    unsigned m = method_index(verb);
    pthread_mutex_lock(&c->stats_lock);
    size_t i = 0;
    while (i < c->nstats && (c->stats[i].method != m || c->stats[i].code != code))
        i++;
    if (i == c->nstats && c->nstats < NSTATS) {
        c->stats[i].method = m;
        c->stats[i].code = code;
        c->stats[i].count = 0;
        c->nstats++;
    }
    if (i < c->nstats)
        c->stats[i].count++;
    pthread_mutex_unlock(&c->stats_lock);
}

void kube_client_stats(struct kube_client *c, kube_stats_fn fn, void *ud)
{
    struct stat_entry copy[NSTATS];
    pthread_mutex_lock(&c->stats_lock);
    size_t n = c->nstats;
    memcpy(copy, c->stats, n * sizeof(copy[0]));
    pthread_mutex_unlock(&c->stats_lock);
    for (size_t i = 0; i < n; i++)
        fn(ud, methods[copy[i].method], copy[i].code, copy[i].count);
}

static void observe_duration(struct kube_client *c, struct duration_stat *stats, const char *verb,
                             int64_t ns)
{
    unsigned m = method_index(verb);
    pthread_mutex_lock(&c->stats_lock);
    struct duration_stat *d = &stats[m];
    kube_histogram_observe(kube_client_duration_bounds, KUBE_CLIENT_NBUCKETS, d->buckets, &d->count,
                           &d->sum, ns > 0 ? (double)ns / 1e9 : 0);
    pthread_mutex_unlock(&c->stats_lock);
}

static void durations_report(struct kube_client *c, const struct duration_stat *stats,
                             kube_duration_fn fn, void *ud)
{
    struct duration_stat copy[NMETHODS];
    pthread_mutex_lock(&c->stats_lock);
    memcpy(copy, stats, sizeof(copy));
    pthread_mutex_unlock(&c->stats_lock);
    for (size_t m = 0; m < NMETHODS; m++)
        if (copy[m].count)
            fn(ud, methods[m], copy[m].buckets, copy[m].sum, copy[m].count);
}

void kube_client_durations(struct kube_client *c, kube_duration_fn fn, void *ud)
{
    durations_report(c, c->durations, fn, ud);
}

void kube_client_rate_limiter_durations(struct kube_client *c, kube_duration_fn fn, void *ud)
{
    durations_report(c, c->throttled, fn, ud);
}

/* Takes a token of the rate limit; returns how long the request must wait for it (ns). */
static int64_t limit_reserve(struct kube_client *c)
{
    pthread_mutex_lock(&c->limit_lock);
    int64_t wait = kube_bucket_reserve(&c->limit);
    pthread_mutex_unlock(&c->limit_lock);
    return wait;
}

/* Whether req is a watch: client-go times Do and DoRaw, not Watch, which lasts for minutes. */
static int is_watch(const struct kube_req *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].key, "watch") == 0 && strcmp(req->params[i].value, "true") == 0)
            return 1;
    return 0;
}

char *kube_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *r = xstrdup(e);
    curl_free(e);
    return r;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct kube_conn *conn = ud;
    size_t len = size * nmemb;
    if (!conn->code)
        curl_easy_getinfo(conn->h, CURLINFO_RESPONSE_CODE, &conn->code);
    if (conn->req->on_data && conn->code >= 200 && conn->code < 300) {
        enum ho11y_err r = conn->req->on_data(conn->req->ud, data, len);
        if (r) {
            conn->cb_error = r;
            return 0;
        }
        return len;
    }
    if (conn->code < 200 || conn->code >= 300) {
        /* Error bodies are only read for their message: keep the start of them. */
        size_t room = ERROR_BODY_MAX > conn->body.len ? ERROR_BODY_MAX - conn->body.len : 0;
        hbuf_add(&conn->body, data, len < room ? len : room);
        return len;
    }
    if (hbuf_add(&conn->body, data, len)) {
        conn->cb_error = HO11Y_LIMIT;
        return 0;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct kube_conn *conn = ud;
    size_t len = size * nmemb;
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char tmp[32];
        size_t n = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
        memcpy(tmp, data + 12, n);
        tmp[n] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v > 0 && v < 3600)
            conn->retry_after = v;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct kube_conn *conn = ud;
    return conn->cancel && atomic_load(conn->cancel) ? 1 : 0;
}

struct kube_conn *kube_conn_new(struct kube_client *c, const atomic_int *cancel)
{
    struct kube_conn *conn = xcalloc(1, sizeof(*conn));
    conn->client = c;
    conn->cancel = cancel;
    hbuf_init(&conn->body, c->max_response);
    hbuf_init(&conn->url, 64 * 1024);
    conn->h = curl_easy_init();
    if (!conn->h)
        abort();
    CURL *h = conn->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, conn);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, conn);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, conn);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* Receive and upload buffers live as long as the handle: 16 KiB and 64 KiB by default.
     * Bodies are small (objects, events) or streamed (lists, watches), so smaller ones do. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)KUBE_CURL_BUFFER);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)KUBE_CURL_UPLOAD_BUFFER);
    if (c->cfg.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->cfg.ca_data) {
        struct curl_blob blob = {c->cfg.ca_data, c->cfg.ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL); /* only the configured CA is trusted */
    } else if (c->cfg.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (c->cfg.cert_data) {
        struct curl_blob cb = {c->cfg.cert_data, c->cfg.cert_len, CURL_BLOB_COPY};
        struct curl_blob kb = {c->cfg.key_data, c->cfg.key_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (c->cfg.cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cfg.cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->cfg.key_file);
    }
    return conn;
}

/* Secrets are wiped before their memory is given back. */
static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static void forget_token(struct kube_conn *conn)
{
    wipe_free(conn->token);
    conn->token = NULL;
}

void kube_conn_free(struct kube_conn *conn)
{
    if (!conn)
        return;
    curl_easy_cleanup(conn->h);
    hbuf_cleanup(&conn->body);
    hbuf_cleanup(&conn->url);
    free(conn->exec_cert);
    free(conn->exec_key);
    forget_token(conn);
    free(conn);
}

/* Loads new exec-plugin client certificates into the handle when they changed. */
static void sync_exec_cert(struct kube_conn *conn)
{
    struct kube_client *c = conn->client;
    if (!c->cfg.exec || kube_auth_cert_generation(c->auth) == conn->cert_gen)
        return;
    free(conn->exec_cert);
    free(conn->exec_key);
    conn->cert_gen = kube_auth_exec_cert(c->auth, &conn->exec_cert, &conn->exec_key);
    if (conn->exec_cert) {
        struct curl_blob cb = {conn->exec_cert, strlen(conn->exec_cert), CURL_BLOB_COPY};
        struct curl_blob kb = {conn->exec_key, strlen(conn->exec_key), CURL_BLOB_COPY};
        curl_easy_setopt(conn->h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(conn->h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(conn->h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(conn->h, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

static enum ho11y_err add_escaped(struct hbuf *b, const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    enum ho11y_err r = hbuf_adds(b, e);
    curl_free(e);
    return r;
}

static enum ho11y_err build_url(struct kube_conn *conn, const struct kube_req *req)
{
    struct hbuf *u = &conn->url;
    const struct kube_resource *res = req->res;
    enum ho11y_err r = HO11Y_OK;
    hbuf_reset(u);
    r |= hbuf_adds(u, conn->client->cfg.server);
    if (res->group[0])
        r |= hbuf_addf(u, "/apis/%s/%s", res->group, res->version);
    else
        r |= hbuf_addf(u, "/api/%s", res->version);
    if (req->ns && res->namespaced) {
        r |= hbuf_adds(u, "/namespaces/");
        r |= add_escaped(u, req->ns);
    }
    r |= hbuf_addf(u, "/%s", res->plural);
    if (req->name) {
        r |= hbuf_addc(u, '/');
        r |= add_escaped(u, req->name);
        if (req->sub)
            r |= hbuf_addf(u, "/%s", req->sub);
    }
    for (size_t i = 0; i < req->nparams; i++) {
        r |= hbuf_addc(u, i ? '&' : '?');
        r |= add_escaped(u, req->params[i].key);
        r |= hbuf_addc(u, '=');
        r |= add_escaped(u, req->params[i].value);
    }
    return r ? HO11Y_LIMIT : HO11Y_OK;
}

static enum ho11y_err map_status(long code, const char *reason)
{
    if (code >= 200 && code < 300)
        return HO11Y_OK;
    switch (code) {
    case 400:
        return HO11Y_INVAL;
    case 401:
        return HO11Y_UNAUTHORIZED;
    case 403:
        return HO11Y_FORBIDDEN;
    case 404:
        return HO11Y_NOTFOUND;
    case 409:
        return strcmp(reason, "AlreadyExists") == 0 ? HO11Y_EXISTS : HO11Y_CONFLICT;
    case 410:
        return HO11Y_GONE;
    case 422:
        return HO11Y_VALIDATION;
    case 429:
    case 503:
        return HO11Y_UNAVAILABLE;
    case 504:
        return HO11Y_TIMEOUT;
    default:
        return HO11Y_HTTP;
    }
}

static enum ho11y_err map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return HO11Y_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
        return HO11Y_TLS;
    case CURLE_ABORTED_BY_CALLBACK:
        return HO11Y_CANCELLED;
    default:
        return HO11Y_NET;
    }
}

/* Fills st from a Kubernetes Status body, or from the start of any other body. */
static void parse_status(struct kube_status *st, const char *body, size_t len)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(root, "reason");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
        const cJSON *details = cJSON_GetObjectItemCaseSensitive(root, "details");
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(details, "retryAfterSeconds");
        if (cJSON_IsString(reason))
            snprintf(st->reason, sizeof(st->reason), "%s", reason->valuestring);
        if (cJSON_IsString(msg))
            snprintf(st->message, sizeof(st->message), "%s", msg->valuestring);
        if (cJSON_IsNumber(ra) && ra->valuedouble > 0 && ra->valuedouble < 3600 && !st->retry_after)
            st->retry_after = (long)ra->valuedouble;
    } else if (len) {
        size_t n = len < sizeof(st->message) - 1 ? len : sizeof(st->message) - 1;
        memcpy(st->message, body, n);
        st->message[n] = '\0';
        while (n > 0 && (st->message[n - 1] == '\n' || st->message[n - 1] == '\r'))
            st->message[--n] = '\0';
    }
    cJSON_Delete(root);
}

static enum ho11y_err perform(struct kube_conn *conn, const struct kube_req *req,
                              struct kube_resp *resp, char *err, size_t errlen)
{
    struct kube_client *c = conn->client;
    CURL *h = conn->h;
    struct curl_slist *headers = NULL;
    char *token = NULL, *auth_header = NULL;
    char aerr[512] = "";
    enum ho11y_err result = build_url(conn, req);
    if (result) {
        snprintf(resp->status.message, sizeof(resp->status.message), "request URL too long");
        return result;
    }
    result = kube_auth_token(c->auth, &token, aerr, sizeof(aerr));
    if (result) {
        snprintf(resp->status.message, sizeof(resp->status.message), "credentials: %s", aerr);
        return result;
    }
    sync_exec_cert(conn);
    hbuf_reset(&conn->body);
    conn->req = req;
    conn->code = 0;
    conn->retry_after = 0;
    conn->cb_error = HO11Y_OK;
    conn->errbuf[0] = '\0';

    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    if (token) {
        auth_header = xasprintf("Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth_header);
    }
    if (req->body) {
        char *ct = xasprintf("Content-Type: %s",
                             req->content_type ? req->content_type : "application/json");
        headers = curl_slist_append(headers, ct);
        free(ct);
    } else if (strcmp(req->verb, "GET") != 0) {
        headers = curl_slist_append(headers, "Content-Type:"); /* none rather than a form */
    }
    curl_easy_setopt(h, CURLOPT_URL, hbuf_str(&conn->url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms ? req->timeout_ms : c->request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (strcmp(req->verb, "GET") != 0 || req->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                     strcmp(req->verb, "GET") == 0 || strcmp(req->verb, "POST") == 0 ? NULL
                                                                                     : req->verb);
    CURLcode rc = curl_easy_perform(h);
    if (!conn->code)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &conn->code);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    wipe_free(auth_header);
    forget_token(conn);
    conn->token = token;

    resp->code = conn->code;
    resp->body = hbuf_str(&conn->body);
    resp->body_len = conn->body.len;
    resp->status.code = conn->code;
    resp->status.retry_after = conn->retry_after;
    if (conn->cb_error) {
        result = conn->cb_error;
        snprintf(resp->status.message, sizeof(resp->status.message), "%s",
                 result == HO11Y_LIMIT ? "response larger than the limit"
                                       : "response rejected by the reader");
    } else if (rc != CURLE_OK) {
        result = map_curl(rc);
        snprintf(resp->status.message, sizeof(resp->status.message), "%s",
                 conn->errbuf[0] ? conn->errbuf : curl_easy_strerror(rc));
        if (result == HO11Y_TLS && strncmp(c->cfg.server, "https://", 8) == 0) {
            size_t n = strlen(resp->status.message);
            snprintf(resp->status.message + n, sizeof(resp->status.message) - n,
                     " (TLS to %s failed; check the certificate-authority of the kubeconfig)",
                     c->cfg.server);
        }
        resp->code = resp->status.code = 0;
    } else if (conn->code < 200 || conn->code >= 300) {
        parse_status(&resp->status, resp->body, resp->body_len);
        result = map_status(conn->code, resp->status.reason);
    }
    (void)err;
    (void)errlen;
    return result;
}

/* Sleeps ms in short steps, watching the cancel flag; returns non-zero when cancelled. */
static int wait_cancellable(struct kube_conn *conn, int64_t ms)
{
    int64_t end = kube_now_ms() + ms;
    for (;;) {
        if (conn->cancel && atomic_load(conn->cancel))
            return 1;
        int64_t left = end - kube_now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Whether the answer asks to be retried later: 429 or 5xx with a Retry-After header. */
static int retry_later(const struct kube_conn *conn, const struct kube_resp *resp)
{
    return (resp->code == 429 || (resp->code >= 500 && resp->code < 600)) && conn->retry_after > 0;
}

enum ho11y_err kube_conn_do(struct kube_conn *conn, const struct kube_req *req,
                            struct kube_resp *resp, char *err, size_t errlen)
{
    int refreshed = 0, retries = 0;
    enum ho11y_err result;
    int64_t start = kube_now_ns();
    for (;;) {
        memset(resp, 0, sizeof(*resp));
        if (conn->client->qps > 0 && !req->no_throttle) {
            /* Every attempt waits for its token, as client-go's tryThrottle does. */
            int64_t wait = limit_reserve(conn->client);
            observe_duration(conn->client, conn->client->throttled, req->verb, wait);
            if (wait >= 1000000000)
                LOG_DEBUG("Waited %.1f s for the client-side rate limit before %s %s",
                          (double)wait / 1e9, req->verb, req->res->plural);
            if (wait > 0 && wait_cancellable(conn, (wait + 999999) / 1000000)) {
                result = HO11Y_CANCELLED;
                break;
            }
        }
        result = perform(conn, req, resp, err, errlen);
        count(conn->client, req->verb, resp->code);
        if (result == HO11Y_UNAUTHORIZED && resp->code == 401 && !refreshed &&
            (conn->client->cfg.token_file || conn->client->cfg.exec)) {
            /* A rotated token file or an expired plugin token: refresh once and retry. */
            kube_auth_reject(conn->client->auth, conn->token);
            refreshed = 1;
            continue;
        }
        if (result && !req->no_retry && retries < KUBE_RETRY_MAX && retry_later(conn, resp)) {
            long secs = conn->retry_after < KUBE_RETRY_AFTER_MAX_S ? conn->retry_after
                                                                   : KUBE_RETRY_AFTER_MAX_S;
            LOG_DEBUG("%s %s answered %ld; retrying in %ld s as Retry-After asks", req->verb,
                      req->res->plural, resp->code, secs);
            retries++;
            if (wait_cancellable(conn, (int64_t)secs * 1000)) {
                result = HO11Y_CANCELLED;
                break;
            }
            continue;
        }
        break;
    }
    if (!is_watch(req))
        observe_duration(conn->client, conn->client->durations, req->verb, kube_now_ns() - start);
    if (result && err && errlen) {
        char path[512];
        const char *url = hbuf_str(&conn->url);
        const char *srv = conn->client->cfg.server;
        snprintf(path, sizeof(path), "%s",
                 strncmp(url, srv, strlen(srv)) == 0 ? url + strlen(srv) : url);
        if (resp->code)
            snprintf(err, errlen, "%s %s: %ld %s%s%s", req->verb, path, resp->code,
                     resp->status.reason, resp->status.reason[0] ? ": " : "", resp->status.message);
        else
            snprintf(err, errlen, "%s %s: %s: %s", req->verb, path, ho11y_err_message(result),
                     resp->status.message);
    }
    return result;
}
