#include "generator/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "generator/trace.h"

#define METRICS_MAX (8u << 20)

struct gen_server {
    struct MHD_Daemon *daemon;
    struct gen_handler *handler;
    struct metrics_registry *reg;
    bool open_metrics;
    unsigned port;
    bool quiesced;
    _Atomic unsigned suspended; /* GET / requests between suspend and completion */
    struct MHD_Response *empty, *not_found, *healthy, *not_allowed;
};

/* Per-request state of a suspended GET /. */
struct pending {
    struct gen_server *srv;
    struct MHD_Connection *conn;
    struct gen_request *req;
};

static enum MHD_Result send_static(struct MHD_Connection *c, unsigned code,
                                   struct MHD_Response *resp)
{
    return MHD_queue_response(c, code, resp);
}

static enum MHD_Result send_request(struct gen_server *srv, struct MHD_Connection *c,
                                    struct gen_request *req)
{
    size_t len = 0;
    const char *body = gen_request_body(req, &len);
    int status = gen_request_status(req);
    enum MHD_Result ret;
    if (len == 0) {
        ret = MHD_queue_response(c, (unsigned)status, srv->empty);
    } else {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        ret = MHD_queue_response(c, (unsigned)status, resp);
        MHD_destroy_response(resp);
    }
    gen_handler_finish(srv->handler, req);
    return ret;
}

static void resume_pending(void *arg)
{
    struct pending *p = arg;
    MHD_resume_connection(p->conn);
}

static void peer_address(struct MHD_Connection *c, char *out, size_t outlen, unsigned *port)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    *port = 0;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)outlen);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)outlen);
        *port = ntohs(in6->sin6_port);
        if (strncmp(out, "::ffff:", 7) == 0 && strchr(out + 7, '.'))
            memmove(out, out + 7, strlen(out + 7) + 1); /* IPv4 on a dual-stack socket */
    }
}

static enum MHD_Result serve_root(struct gen_server *srv, struct MHD_Connection *c, void **con_cls)
{
    char peer[64];
    struct gen_request_info info = {
        .traceparent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "traceparent"),
        .tracestate = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "tracestate"),
        .xray = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amzn-Trace-Id"),
        .user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"),
        .peer_addr = peer,
        .local_port = srv->port,
    };
    peer_address(c, peer, sizeof(peer), &info.peer_port);
    bool wait = false;
    struct gen_request *req = gen_handler_begin(srv->handler, &info, &wait);
    if (!wait)
        return send_request(srv, c, req);
    struct pending *p = xmalloc(sizeof(*p));
    p->srv = srv;
    p->conn = c;
    p->req = req;
    *con_cls = p;
    atomic_fetch_add(&srv->suspended, 1);
    /* Suspend before the work starts, so that the resume can never come first. */
    MHD_suspend_connection(c);
    gen_handler_run(srv->handler, req, resume_pending, p);
    return MHD_YES;
}

static enum MHD_Result serve_metrics(struct gen_server *srv, struct MHD_Connection *c)
{
    struct hbuf out;
    size_t len = 0;
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    enum metrics_format fmt = metrics_negotiate(accept, srv->open_metrics);
    hbuf_init(&out, METRICS_MAX);
    hbuf_reserve(&out, 16384);
    if (metrics_render(srv->reg, fmt, &out)) {
        hbuf_cleanup(&out);
        return send_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, srv->empty);
    }
    char *body = hbuf_steal(&out, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, metrics_content_type(fmt));
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* con_cls of a request between the first and the second call of on_request. */
static char first_call;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct gen_server *srv = cls;
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    (void)version;
    (void)upload;
    if (!*con_cls && get) {
        /* libmicrohttpd closes the connection after a response queued on the first call, so
         * GET and HEAD answer on the second one to keep the connection alive. Other methods
         * may carry a body: they are answered at once, and the connection closes. */
        *con_cls = &first_call;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body on a GET is read and ignored */
        return MHD_YES;
    }
    if (*con_cls && *con_cls != &first_call) {
        /* A resumed GET /: its response is ready. */
        struct pending *p = *con_cls;
        if (!p->req)
            return MHD_YES;
        struct gen_request *req = p->req;
        p->req = NULL;
        return send_request(srv, c, req);
    }
    if (strcmp(url, "/") == 0) {
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
            return send_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, srv->not_allowed);
        return serve_root(srv, c, con_cls);
    }
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(srv, c);
    if (strcmp(url, "/healthz") == 0)
        return send_static(c, MHD_HTTP_OK, srv->healthy);
    return send_static(c, MHD_HTTP_NOT_FOUND, srv->not_found);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gen_server *srv = cls;
    (void)c;
    (void)toe;
    struct pending *p = *con_cls;
    if (!p || *con_cls == &first_call)
        return;
    /* A request closed before its response went out still ends its span. */
    if (p->req)
        gen_handler_finish(srv->handler, p->req);
    free(p);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->suspended, 1);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    if (!LOG_ENABLED(LOG_LEVEL_DEBUG))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    struct log_field f[] = {LOG_STR("event", "http_server")};
    log_kv(LOG_LEVEL_DEBUG, msg, f, 1);
}
#pragma GCC diagnostic pop

static struct MHD_Response *text_response(const char *body, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r && type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return r;
}

static struct MHD_Daemon *start_daemon(struct gen_server *srv, const struct gen_server_options *o,
                                       unsigned flags, const struct sockaddr *addr)
{
    struct MHD_OptionItem opts[12];
    size_t n = 0;
#define OPT(k, v, p)                                                                               \
    opts[n++] = (struct MHD_OptionItem)                                                            \
    {                                                                                              \
        (k), (intptr_t)(v), (p)                                                                    \
    }
    if (o->threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, GEN_SERVER_MEMORY_LIMIT, NULL);
    OPT(MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
    if (addr)
        OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)addr);
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    return MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, srv,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

struct gen_server *gen_server_start(const struct gen_server_options *o, struct gen_handler *h,
                                    struct metrics_registry *reg, char *err, size_t errlen)
{
    struct gen_server *srv = xcalloc(1, sizeof(*srv));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    srv->handler = h;
    srv->reg = reg;
    srv->open_metrics = o->open_metrics;
    srv->empty = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    srv->not_found = text_response("404 page not found\n", "text/plain; charset=utf-8");
    srv->healthy = text_response("ok\n", "text/plain; charset=utf-8");
    srv->not_allowed = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (srv->not_allowed)
        MHD_add_response_header(srv->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET");
    if (o->bind_address) {
        memset(&in4, 0, sizeof(in4));
        memset(&in6, 0, sizeof(in6));
        if (inet_pton(AF_INET, o->bind_address, &in4.sin_addr) == 1) {
            in4.sin_family = AF_INET;
            in4.sin_port = htons((uint16_t)o->port);
            srv->daemon = start_daemon(srv, o, flags, (const struct sockaddr *)&in4);
        } else if (inet_pton(AF_INET6, o->bind_address, &in6.sin6_addr) == 1) {
            in6.sin6_family = AF_INET6;
            in6.sin6_port = htons((uint16_t)o->port);
            srv->daemon = start_daemon(srv, o, flags | MHD_USE_IPv6, (const struct sockaddr *)&in6);
        }
    } else {
        /* All interfaces, IPv6 and IPv4 like Go's ":8765"; IPv4 alone where IPv6 is off. */
        srv->daemon = start_daemon(srv, o, flags | MHD_USE_DUAL_STACK, NULL);
        if (!srv->daemon)
            srv->daemon = start_daemon(srv, o, flags, NULL);
    }
    if (!srv->daemon || !srv->empty || !srv->not_found || !srv->healthy || !srv->not_allowed) {
        snprintf(err, errlen, "cannot listen on %s port %u (in use, or not permitted?)",
                 o->bind_address ? o->bind_address : "all interfaces", o->port);
        gen_server_stop(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : o->port;
    return srv;
}

unsigned gen_server_port(const struct gen_server *srv)
{
    return srv->port;
}

void gen_server_quiesce(struct gen_server *srv)
{
    if (!srv || !srv->daemon || srv->quiesced)
        return;
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    srv->quiesced = true;
}

bool gen_server_drain(struct gen_server *srv, int64_t timeout_ns)
{
    int64_t deadline = gen_mono_ns() + timeout_ns;
    while (atomic_load(&srv->suspended) > 0) {
        if (gen_mono_ns() >= deadline)
            return false;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

void gen_server_stop(struct gen_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->empty)
        MHD_destroy_response(srv->empty);
    if (srv->not_found)
        MHD_destroy_response(srv->not_found);
    if (srv->healthy)
        MHD_destroy_response(srv->healthy);
    if (srv->not_allowed)
        MHD_destroy_response(srv->not_allowed);
    free(srv);
}
