#include "cli/otlp_recv.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"

#define CONNECTION_LIMIT   256
#define CONNECTION_TIMEOUT 30          /* seconds */
#define MEMORY_LIMIT       (64 * 1024) /* per connection: headers and MHD's buffers */
#define MESSAGE_MAX        160

struct otlp_recv {
    struct MHD_Daemon *daemon;
    unsigned port;
    size_t max_body;
    pthread_mutex_t lock;
    struct trace_set *set; /* under lock */
    uint64_t requests, bad_requests, refused;
};

struct upload {
    struct hbuf body;
    int too_big;
};

int64_t otlp_recv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Parsing -------------------------------------------------------------------------------------- */

/* Copies a hex id of exactly len characters, lower-cased; 0 when it is not one or all zero. */
static int copy_hex_id(const cJSON *item, size_t len, char *out)
{
    if (!cJSON_IsString(item) || strlen(item->valuestring) != len)
        return 0;
    int nonzero = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)item->valuestring[i];
        if (!isxdigit(c))
            return 0;
        out[i] = (char)tolower(c);
        nonzero |= out[i] != '0';
    }
    out[len] = '\0';
    return nonzero;
}

/* An int64 as the OTLP JSON mapping allows it: a decimal string or a number. */
static int get_int64(const cJSON *item, int64_t *out)
{
    if (cJSON_IsNumber(item)) {
        /* A double beyond the int64 range cannot be converted (undefined behaviour). */
        if (!(item->valuedouble > -9.2e18 && item->valuedouble < 9.2e18))
            return 0;
        *out = (int64_t)item->valuedouble;
        return 1;
    }
    if (!cJSON_IsString(item) || !*item->valuestring)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(item->valuestring, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

/* A bounded copy with control characters replaced: names and messages end up on a terminal,
 * one line per span, and must neither break lines nor carry escape sequences. */
static char *clean_copy(const char *s, size_t max)
{
    char *out = xstrndup(s, max);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

static const cJSON *attr_find(const cJSON *attrs, const char *key)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(a, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return cJSON_GetObjectItemCaseSensitive(a, "value");
    }
    return NULL;
}

static char *attr_string(const cJSON *attrs, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(attr_find(attrs, key), "stringValue");
    return cJSON_IsString(v) ? clean_copy(v->valuestring, 2048) : NULL;
}

static long attr_int(const cJSON *attrs, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(attr_find(attrs, key), "intValue");
    int64_t n = 0;
    return get_int64(v, &n) && n > 0 && n < 1000 ? (long)n : 0;
}

/* Reads one span; 0 (span untouched) when its ids are not valid. */
static int read_span(const cJSON *js, const char *service, struct trace_span *sp)
{
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(js, "parentSpanId");
    memset(sp, 0, sizeof(*sp));
    if (!copy_hex_id(cJSON_GetObjectItemCaseSensitive(js, "traceId"), 32, sp->trace_id) ||
        !copy_hex_id(cJSON_GetObjectItemCaseSensitive(js, "spanId"), 16, sp->span_id))
        return 0;
    if (parent && !(cJSON_IsString(parent) && parent->valuestring[0] == '\0') &&
        !copy_hex_id(parent, 16, sp->parent_id))
        return 0;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(js, "kind");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(js, "status");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(status, "message");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(js, "attributes");
    get_int64(cJSON_GetObjectItemCaseSensitive(js, "startTimeUnixNano"), &sp->start_ns);
    get_int64(cJSON_GetObjectItemCaseSensitive(js, "endTimeUnixNano"), &sp->end_ns);
    sp->kind = cJSON_IsNumber(kind) ? kind->valueint : 0;
    sp->status = cJSON_IsNumber(code) ? code->valueint : 0;
    sp->service = clean_copy(service, 256);
    sp->name = clean_copy(cJSON_IsString(name) ? name->valuestring : "", 256);
    sp->status_message = cJSON_IsString(msg) ? clean_copy(msg->valuestring, 512) : NULL;
    sp->url = attr_string(attrs, "url.full");
    if (!sp->url)
        sp->url = attr_string(attrs, "http.url");
    sp->http_code = attr_int(attrs, "http.response.status_code");
    if (!sp->http_code)
        sp->http_code = attr_int(attrs, "http.status_code");
    return 1;
}

enum ho11y_err otlp_recv_parse(const char *body, size_t len, struct trace_set *set, int64_t now_ns,
                               size_t *refused, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *rs, *ss, *js;
    *refused = 0;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "the body is not an ExportTraceServiceRequest in JSON");
        cJSON_Delete(root);
        return HO11Y_PARSE;
    }
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(root, "resourceSpans");
    if (all && !cJSON_IsArray(all)) {
        snprintf(err, errlen, "resourceSpans is not an array");
        cJSON_Delete(root);
        return HO11Y_PARSE;
    }
    cJSON_ArrayForEach(rs, all)
    {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(rs, "resource");
        char *service =
            attr_string(cJSON_GetObjectItemCaseSensitive(res, "attributes"), "service.name");
        cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans"))
        {
            cJSON_ArrayForEach(js, cJSON_GetObjectItemCaseSensitive(ss, "spans"))
            {
                struct trace_span sp;
                if (!read_span(js, service ? service : "?", &sp)) {
                    if (!*refused)
                        snprintf(err, errlen, "span %zu of the request has an invalid id",
                                 *refused + 1);
                    (*refused)++;
                    continue;
                }
                traces_add(set, &sp, now_ns);
            }
        }
        free(service);
    }
    cJSON_Delete(root);
    return HO11Y_OK;
}

/* The HTTP server ------------------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *json)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(json), (void *)(uintptr_t)json, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A google.rpc.Status body, as OTLP/HTTP servers answer errors. */
static enum MHD_Result respond_error(struct otlp_recv *r, struct MHD_Connection *c, unsigned code,
                                     int rpc_code, const char *message)
{
    struct hbuf b;
    hbuf_init(&b, 1024);
    hbuf_addf(&b, "{\"code\":%d,\"message\":\"", rpc_code);
    hbuf_add_json_escaped(&b, message);
    hbuf_adds(&b, "\"}");
    pthread_mutex_lock(&r->lock);
    r->bad_requests++;
    pthread_mutex_unlock(&r->lock);
    enum MHD_Result ret = respond(c, code, hbuf_str(&b));
    hbuf_cleanup(&b);
    return ret;
}

static enum MHD_Result finish_upload(struct otlp_recv *r, struct MHD_Connection *c,
                                     struct upload *u)
{
    char err[MESSAGE_MAX] = "";
    size_t refused = 0;
    if (u->too_big) {
        snprintf(err, sizeof(err), "request body larger than %zu bytes", r->max_body);
        return respond_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, 8, err);
    }
    pthread_mutex_lock(&r->lock);
    enum ho11y_err res = otlp_recv_parse(hbuf_str(&u->body), u->body.len, r->set, otlp_recv_now(),
                                         &refused, err, sizeof(err));
    if (res == HO11Y_OK) {
        r->requests++;
        r->refused += refused;
    }
    pthread_mutex_unlock(&r->lock);
    if (res != HO11Y_OK)
        return respond_error(r, c, MHD_HTTP_BAD_REQUEST, 3, err);
    if (!refused)
        return respond(c, MHD_HTTP_OK, "{}");
    struct hbuf b;
    hbuf_init(&b, 1024);
    hbuf_addf(&b, "{\"partialSuccess\":{\"rejectedSpans\":\"%zu\",\"errorMessage\":\"", refused);
    hbuf_add_json_escaped(&b, err);
    hbuf_adds(&b, "\"}}");
    enum MHD_Result ret = respond(c, MHD_HTTP_OK, hbuf_str(&b));
    hbuf_cleanup(&b);
    return ret;
}

/* Checks made before the body is read: method, path, encoding, declared length. */
static enum MHD_Result check_request(struct otlp_recv *r, struct MHD_Connection *c, const char *url,
                                     const char *method, int *ok)
{
    *ok = 0;
    if (strcmp(url, "/v1/traces") != 0)
        return respond_error(r, c, MHD_HTTP_NOT_FOUND, 5, "not found: only /v1/traces is served");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return respond_error(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, 12, "use POST");
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    if (enc && *enc && strcasecmp(enc, "identity") != 0)
        return respond_error(r, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 3,
                             "compressed bodies are not accepted; send plain JSON");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0)
        return respond_error(r, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 3,
                             "only OTLP/HTTP JSON (application/json) is accepted");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > r->max_body) {
            char msg[MESSAGE_MAX];
            snprintf(msg, sizeof(msg), "request body larger than %zu bytes", r->max_body);
            return respond_error(r, c, MHD_HTTP_CONTENT_TOO_LARGE, 8, msg);
        }
    }
    *ok = 1;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct otlp_recv *r = cls;
    struct upload *u = *con_cls;
    (void)version;
    if (!u) {
        int ok = 0;
        enum MHD_Result ret = check_request(r, c, url, method, &ok);
        if (!ok)
            return ret;
        u = xcalloc(1, sizeof(*u));
        hbuf_init(&u->body, r->max_body);
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!u->too_big && hbuf_add(&u->body, upload_data, *upload_data_size) != HO11Y_OK) {
            u->too_big = 1;
            hbuf_cleanup(&u->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish_upload(r, c, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (u) {
        hbuf_cleanup(&u->body);
        free(u);
        *con_cls = NULL;
    }
}

/* MHD's own messages (bad clients, resource limits) are not the user's business here. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

enum ho11y_err otlp_recv_start(size_t max_body, struct otlp_recv **out, char *err, size_t errlen)
{
    struct otlp_recv *r = xcalloc(1, sizeof(*r));
    struct sockaddr_in addr;
    *out = NULL;
    r->max_body = max_body ? max_body : OTLP_RECV_DEFAULT_MAX_BODY;
    r->set = traces_new();
    pthread_mutex_init(&r->lock, NULL);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    r->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, r, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT, MHD_OPTION_END);
    if (!r->daemon) {
        snprintf(err, errlen, "cannot start the trace receiver on 127.0.0.1");
        otlp_recv_stop(r);
        return HO11Y_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    r->port = di ? di->port : 0;
    if (!r->port) {
        snprintf(err, errlen, "cannot learn the trace receiver's port");
        otlp_recv_stop(r);
        return HO11Y_IO;
    }
    *out = r;
    return HO11Y_OK;
}

unsigned otlp_recv_port(const struct otlp_recv *r)
{
    return r->port;
}

size_t otlp_recv_take(struct otlp_recv *r, int64_t quiet_ns, int64_t orphan_ns, int all,
                      struct trace ***out)
{
    pthread_mutex_lock(&r->lock);
    size_t n = traces_take(r->set, otlp_recv_now(), quiet_ns, orphan_ns, all, out);
    pthread_mutex_unlock(&r->lock);
    return n;
}

void otlp_recv_stats(struct otlp_recv *r, struct otlp_recv_stats *out)
{
    pthread_mutex_lock(&r->lock);
    out->requests = r->requests;
    out->bad_requests = r->bad_requests;
    out->spans_refused = r->refused;
    traces_counts(r->set, &out->spans, &out->spans_dropped);
    out->traces_pending = traces_pending(r->set);
    pthread_mutex_unlock(&r->lock);
}

void otlp_recv_stop(struct otlp_recv *r)
{
    if (!r)
        return;
    if (r->daemon)
        MHD_stop_daemon(r->daemon);
    traces_free(r->set);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
