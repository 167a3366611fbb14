#include "generator/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
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

/*
 * A connection waiting for a request (from its accept, or from the end of its previous
 * response, until the request is answered or suspended). libmicrohttpd's timeout only measures
 * inactivity, so a client trickling a byte at a time would hold its connection for ever; the
 * watcher thread shuts down connections that have waited longer than the idle timeout.
 */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    _Atomic bool waiting;
    _Atomic int64_t since; /* monotonic ns */
    bool cut;
};

struct gen_server {
    struct MHD_Daemon *daemon;
    struct gen_handler *handler;
    struct metrics_registry *reg;
    bool open_metrics;
    unsigned port;
    bool quiesced;
    _Atomic unsigned suspended; /* GET / requests between suspend and completion */
    struct MHD_Response *empty, *not_found, *healthy, *not_allowed;
    /* request deadline: the list of connections, guarded by watch_lock */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
    struct conn_watch *watched;
    bool watch_stop, watch_started;
    pthread_t watcher;
    int64_t request_timeout_ns;
    struct metric *m_cut;
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

static struct conn_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request is read: the deadline stops until its response has been sent. */
static void watch_pause(struct MHD_Connection *c)
{
    struct conn_watch *w = watch_of(c);
    if (w)
        atomic_store_explicit(&w->waiting, false, memory_order_relaxed);
}

/* Waiting for a request again (a new connection, or a response was sent). */
static void watch_restart(struct conn_watch *w)
{
    atomic_store_explicit(&w->since, gen_mono_ns(), memory_order_relaxed);
    atomic_store_explicit(&w->waiting, true, memory_order_release);
}

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
    watch_pause(c);
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
    (void)toe;
    /* libmicrohttpd reports a completed request before the connection's CLOSED notification,
     * so the watch is still there. */
    struct conn_watch *w = watch_of(c);
    if (w)
        watch_restart(w);
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

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct gen_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci)
            return;
        struct conn_watch *w = xcalloc(1, sizeof(*w));
        w->fd = ci->connect_fd;
        watch_restart(w);
        pthread_mutex_lock(&srv->watch_lock);
        w->next = srv->watched;
        if (w->next)
            w->next->prev = w;
        srv->watched = w;
        pthread_mutex_unlock(&srv->watch_lock);
        *socket_context = w;
        return;
    }
    /* CLOSED comes before libmicrohttpd closes the socket: once the watch is off the list under
     * the lock, the watcher can no longer shut down a descriptor that was reused. */
    struct conn_watch *w = *socket_context;
    if (!w)
        return;
    pthread_mutex_lock(&srv->watch_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        srv->watched = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&srv->watch_lock);
    free(w);
    *socket_context = NULL;
}

static void *watcher_main(void *arg)
{
    struct gen_server *srv = arg;
    int64_t period = srv->request_timeout_ns / 4;
    if (period > 250 * 1000000LL)
        period = 250 * 1000000LL;
    pthread_mutex_lock(&srv->watch_lock);
    while (!srv->watch_stop) {
        int64_t now = gen_mono_ns();
        for (struct conn_watch *w = srv->watched; w; w = w->next) {
            if (w->cut || !atomic_load_explicit(&w->waiting, memory_order_acquire) ||
                now - atomic_load_explicit(&w->since, memory_order_relaxed) <=
                    srv->request_timeout_ns)
                continue;
            /* libmicrohttpd sees the end of the stream and closes the connection itself. */
            shutdown(w->fd, SHUT_RDWR);
            w->cut = true;
            metrics_inc(srv->m_cut);
        }
        int64_t wake = gen_mono_ns() + period;
        struct timespec ts = {(time_t)(wake / 1000000000), (long)(wake % 1000000000)};
        pthread_cond_timedwait(&srv->watch_cond, &srv->watch_lock, &ts);
    }
    pthread_mutex_unlock(&srv->watch_lock);
    return NULL;
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
    /* No SO_REUSEPORT: a second ho11y on a port in use must fail, not share the port. */
    if (addr)
        OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)addr);
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    return MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

struct gen_server *gen_server_start(const struct gen_server_options *o, struct gen_handler *h,
                                    struct metrics_registry *reg, char *err, size_t errlen)
{
    struct gen_server *srv = xcalloc(1, sizeof(*srv));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    pthread_condattr_t ca;
    srv->handler = h;
    srv->reg = reg;
    srv->request_timeout_ns = (int64_t)o->idle_timeout_s * 1000000000LL;
    pthread_mutex_init(&srv->watch_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->watch_cond, &ca);
    pthread_condattr_destroy(&ca);
    srv->m_cut = metrics_single(metrics_family_add(
        reg, METRIC_COUNTER, "ho11y_http_slow_requests_closed_total",
        "Connections closed because a request took longer than the idle timeout to arrive.", NULL,
        0, NULL, 0));
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
    if (srv->request_timeout_ns > 0) {
        if (pthread_create(&srv->watcher, NULL, watcher_main, srv) != 0) {
            snprintf(err, errlen, "cannot start the connection watcher thread");
            gen_server_stop(srv);
            return NULL;
        }
        pthread_setname_np(srv->watcher, "http-watch");
        srv->watch_started = true;
    }
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
    if (srv->watch_started) {
        pthread_mutex_lock(&srv->watch_lock);
        srv->watch_stop = true;
        pthread_cond_signal(&srv->watch_cond);
        pthread_mutex_unlock(&srv->watch_lock);
        pthread_join(srv->watcher, NULL);
    }
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
    pthread_cond_destroy(&srv->watch_cond);
    pthread_mutex_destroy(&srv->watch_lock);
    free(srv);
}
