#include "op_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "common/log.h"

/* A scrape of a thousand Topologies fits in well under this. */
#define METRICS_MAX (4u << 20)

struct op_http {
    struct MHD_Daemon *d;
    const struct op_http_handlers *h;
    int health, metrics;
    int port;
};

enum ho11y_err op_http_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
                                  int *enabled)
{
    *enabled = 1;
    if (!addr || strcmp(addr, "0") == 0 || !addr[0]) {
        *enabled = 0;
        return HO11Y_OK;
    }
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return HO11Y_INVAL;
    size_t hl = (size_t)(colon - addr);
    if (hl >= hostlen)
        return HO11Y_INVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    struct in_addr ip;
    if (host[0] && strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &ip) != 1)
        return HO11Y_INVAL; /* the servers listen on IPv4 only */
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535)
        return HO11Y_INVAL;
    *port = (int)p;
    return HO11Y_OK;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * The health checks, as controller-runtime's healthz handler serves them: /healthz (and
 * /livez) has "ping"; /readyz has "ping" and "informers" (every cache synced). The endpoint
 * itself answers "ok" or 500 with one line per check and "<endpoint> check failed";
 * ?verbose lists the checks when they pass too; ?exclude=<name> (repeatable) leaves a check
 * out; /<endpoint>/<name> runs one check ("ok", or 500 "internal server error: <why>").
 */
#define HEALTH_CHECKS_MAX  2
#define HEALTH_BODY_MAX    1024
#define HEALTH_TEXT        "text/plain; charset=utf-8"

#define HEALTH_EXCLUDE_MAX 4 /* ?exclude= values looked at; more are ignored */

struct health_query {
    int verbose;
    const char *exclude[HEALTH_EXCLUDE_MAX]; /* borrowed from the connection */
    int nexclude;
};

static enum MHD_Result health_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct health_query *q = cls;
    (void)kind;
    if (strcmp(key, "verbose") == 0)
        q->verbose = 1;
    else if (strcmp(key, "exclude") == 0 && value && q->nexclude < HEALTH_EXCLUDE_MAX)
        q->exclude[q->nexclude++] = value;
    return MHD_YES;
}

/* Runs check name (0: "ping", 1: "informers"); 1 when it passes, else why is filled. */
static int health_run(struct op_http *s, int check, char *why, size_t whylen)
{
    if (check == 0)
        return 1;
    return s->h->ready(s->h->ud, why, whylen);
}

static enum MHD_Result health(struct op_http *s, struct MHD_Connection *c, const char *endpoint,
                              int nchecks, const char *sub)
{
    static const char *const names[HEALTH_CHECKS_MAX] = {"ping", "informers"};
    char why[512] = "", body[HEALTH_BODY_MAX];
    if (sub) { /* one check */
        for (int i = 0; i < nchecks; i++) {
            if (strcmp(sub, names[i]) != 0)
                continue;
            if (health_run(s, i, why, sizeof(why)))
                return reply(c, 200, HEALTH_TEXT, "ok", 2);
            int n = snprintf(body, sizeof(body), "internal server error: %s\n", why);
            return reply(c, 500, HEALTH_TEXT, body,
                         (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1);
        }
        return reply(c, 404, "text/plain", "404 page not found\n", 19);
    }
    struct health_query q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, health_arg, &q);
    int failed = 0, used[HEALTH_EXCLUDE_MAX] = {0};
    size_t len = 0;
    for (int i = 0; i < nchecks; i++) {
        int excluded = 0;
        for (int k = 0; k < q.nexclude; k++)
            if (strcmp(q.exclude[k], names[i]) == 0)
                excluded = used[k] = 1;
        int n;
        if (excluded) {
            n = snprintf(body + len, sizeof(body) - len, "[+]%s excluded: ok\n", names[i]);
        } else if (health_run(s, i, why, sizeof(why))) {
            n = snprintf(body + len, sizeof(body) - len, "[+]%s ok\n", names[i]);
        } else {
            n = snprintf(body + len, sizeof(body) - len, "[-]%s failed: %s\n", names[i], why);
            failed = 1;
        }
        len = len + (size_t)n < sizeof(body) ? len + (size_t)n : sizeof(body) - 1;
    }
    for (int k = 0; k < q.nexclude; k++) {
        if (used[k])
            continue;
        int n = snprintf(body + len, sizeof(body) - len,
                         "warn: some health checks cannot be excluded: no matches for \"%s\"\n",
                         q.exclude[k]);
        len = len + (size_t)n < sizeof(body) ? len + (size_t)n : sizeof(body) - 1;
    }
    if (!failed && !q.verbose)
        return reply(c, 200, HEALTH_TEXT, "ok", 2);
    int n = snprintf(body + len, sizeof(body) - len, "%s check %s\n", endpoint,
                     failed ? "failed" : "passed");
    len = len + (size_t)n < sizeof(body) ? len + (size_t)n : sizeof(body) - 1;
    return reply(c, failed ? 500 : 200, HEALTH_TEXT, body, len);
}

/* Whether url is /<endpoint> or /<endpoint>/<check>; *sub is then NULL or the check's name. */
static int health_path(const char *url, const char *endpoint, const char **sub)
{
    size_t n = strlen(endpoint);
    if (url[0] != '/' || strncmp(url + 1, endpoint, n) != 0)
        return 0;
    if (url[n + 1] == '\0') {
        *sub = NULL;
        return 1;
    }
    if (url[n + 1] == '/' && url[n + 2]) {
        *sub = url + n + 2;
        return 1;
    }
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_cls)
{
    struct op_http *s = cls;
    const char *sub = NULL;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "text/plain", "method not allowed\n", 19);
    if (s->health && health_path(url, "healthz", &sub))
        return health(s, c, "healthz", 1, sub);
    if (s->health && health_path(url, "livez", &sub))
        return health(s, c, "livez", 1, sub);
    if (s->health && health_path(url, "readyz", &sub))
        return health(s, c, "readyz", 2, sub);
    if (s->metrics && strcmp(url, "/metrics") == 0) {
        struct hbuf out;
        hbuf_init(&out, METRICS_MAX);
        s->h->metrics(s->h->ud, &out);
        enum MHD_Result r =
            reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", hbuf_str(&out), out.len);
        hbuf_cleanup(&out);
        return r;
    }
    return reply(c, 404, "text/plain", "404 page not found\n", 19);
}

enum ho11y_err op_http_start(const char *addr, int health, int metrics,
                             const struct op_http_handlers *h, struct op_http **out, char *err,
                             size_t errlen)
{
    char host[256];
    int port = 0, enabled = 0;
    *out = NULL;
    if (op_http_parse_addr(addr, host, sizeof(host), &port, &enabled) || !enabled) {
        snprintf(err, errlen, "invalid address \"%s\" (want host:port or :port)", addr);
        return HO11Y_INVAL;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (!host[0])
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        snprintf(err, errlen, "invalid address \"%s\": the host must be an IPv4 address", addr);
        return HO11Y_INVAL;
    }
    struct op_http *s = xcalloc(1, sizeof(*s));
    s->h = h;
    s->health = health;
    s->metrics = metrics;
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s (in use or not permitted)", addr);
        free(s);
        return HO11Y_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return HO11Y_OK;
}

int op_http_port(const struct op_http *s)
{
    return s->port;
}

void op_http_stop(struct op_http *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
