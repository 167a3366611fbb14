/*
 * ho11yctl run: the processes. Environments (the rendered env plus the local overrides),
 * starting services leaves first, the event loop (output, signals, exits, traces) and stopping.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/render.h"
#include "cli/run_internal.h"
#include "common/alloc.h"
#include "common/buf.h"

#define START_TIMEOUT_NS (30LL * 1000000000)
#define STOP_GRACE_NS    (15LL * 1000000000)

/* Environments --------------------------------------------------------------------------------- */

struct envlist {
    char **items; /* "NAME=value", NULL-terminated */
    size_t n;
};

static void env_set(struct envlist *e, const char *name, const char *value, int replace)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->items[i], name, len) == 0 && e->items[i][len] == '=') {
            if (replace) {
                free(e->items[i]);
                e->items[i] = xasprintf("%s=%s", name, value);
            }
            return;
        }
    }
    e->items = xrealloc(e->items, (e->n + 2) * sizeof(*e->items));
    e->items[e->n++] = xasprintf("%s=%s", name, value);
    e->items[e->n] = NULL;
}

static void env_cleanup(struct envlist *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->items[i]);
    free(e->items);
    memset(e, 0, sizeof(*e));
}

/* What every child gets besides its rendered env: a PATH and the sanitizers' options. */
static void env_base(struct envlist *e)
{
    static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                                       "TSAN_OPTIONS", "TZ"};
    const char *path = getenv("PATH");
    env_set(e, "PATH", path && *path ? path : "/usr/local/bin:/usr/bin:/bin", 1);
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        const char *v = getenv(pass[i]);
        if (v)
            env_set(e, pass[i], v, 1);
    }
}

/* Adds a rendered env array; valueFrom entries cannot be resolved without a cluster. */
static void env_add_rendered(struct envlist *e, const cJSON *env, const char *who)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, env)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, "value");
        if (!cJSON_IsString(name))
            continue;
        if (cJSON_IsString(value))
            env_set(e, name->valuestring, value->valuestring, 1);
        else
            fprintf(stderr,
                    "ho11yctl run: %s: env %s uses valueFrom, which needs a cluster; "
                    "left unset\n",
                    who, name->valuestring);
    }
}

/* What ho11yctl changes for a local run, after the rendered env. */
static void env_local(struct envlist *e)
{
    env_set(e, TOPO_ENV_PORT, "0", 1);
    env_set(e, "HO11Y_BIND_ADDRESS", "127.0.0.1", 1);
    env_set(e, "OTEL_BSP_SCHEDULE_DELAY", "200", 0);
    env_set(e, "HO11Y_SHUTDOWN_TIMEOUT", "3s", 0);
}

/* The local port of replica k of service i: replica k mod R, or the refusing port. */
static unsigned local_port(const struct run *r, long i, size_t k)
{
    const struct run_service *rs = &r->svcs[i];
    return rs->nreplicas ? r->procs[rs->first + k % rs->nreplicas].port : rs->dead_port;
}

/*
 * HO11Y_CONNECT_TO for replica k of a process calling the services named in names[0..n): the
 * calls keep the cluster's URL ("http://backend:8765", so peer.service and url.full are what
 * they are in a cluster) and connect to the local replica instead. Entries of the rendered
 * environment (the user's own) come after ours; libcurl uses the first that matches.
 */
static void env_connect_to(struct envlist *e, const struct run *r, const char *const *names,
                           size_t n, size_t k)
{
    struct hbuf b;
    const char *user = NULL;
    hbuf_init(&b, (size_t)1 << 20);
    for (size_t i = 0; i < n; i++) {
        long s = names[i] ? topo_service_index(r->t, names[i]) : -1;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = names[j] && strcmp(names[j], names[i]) == 0;
        if (s < 0 || seen)
            continue;
        hbuf_addf(&b, "%s%s:%lld:127.0.0.1:%u", b.len ? "," : "", names[i],
                  topo_service_port(&r->t->services[s]), local_port(r, s, k));
    }
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->items[i], "HO11Y_CONNECT_TO=", 17) == 0)
            user = e->items[i] + 17;
    if (user && *user)
        hbuf_addf(&b, "%s%s", b.len ? "," : "", user);
    if (b.len)
        env_set(e, "HO11Y_CONNECT_TO", hbuf_str(&b), 1);
    hbuf_cleanup(&b);
}

static void env_opts(struct run *r, char *grpc, size_t grpclen, struct topo_env_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->otlp_traces_url = r->traces_url;
    o->otlp_grpc_endpoint = grpc;
    CURLU *h = curl_url();
    char *host = NULL;
    if (h && curl_url_set(h, CURLUPART_URL, r->traces_url, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(grpc, grpclen, "%s:%d", host, TOPO_OTLP_GRPC_PORT);
    else
        snprintf(grpc, grpclen, "127.0.0.1:%d", TOPO_OTLP_GRPC_PORT);
    curl_free(host);
    curl_url_cleanup(h);
}

/* The event loop ------------------------------------------------------------------------------- */

static int64_t now_ns(void)
{
    return otlp_recv_now();
}

static void reap(struct run *r)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < r->nprocs; i++) {
            struct proc *p = &r->procs[i];
            if (p->pid != pid)
                continue;
            proc_reaped(p, status);
            proc_read(p, r->verbose ? stderr : NULL);
            if (!p->stopping && r->failed < 0)
                r->failed = (long)i;
        }
    }
}

static void take_signals(struct run *r)
{
    struct signalfd_siginfo si;
    while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) {
            r->signals++;
            if (r->signals == 2)
                fprintf(stderr, "ho11yctl run: second signal: killing every process now\n");
        }
    }
}

/* Waits up to timeout_ms for output, signals or exits, handles them, prints finished traces. */
void run__poll(struct run *r, struct pollfd *fds, int timeout_ms)
{
    size_t n = 0;
    fds[n++] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
    for (size_t i = 0; i < r->nprocs; i++)
        if (r->procs[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = r->procs[i].fd, .events = POLLIN};
    if (poll(fds, n, timeout_ms) > 0) {
        if (fds[0].revents)
            take_signals(r);
        for (size_t i = 0; i < r->nprocs; i++)
            if (r->procs[i].fd >= 0)
                proc_read(&r->procs[i], r->verbose ? stderr : NULL);
    }
    reap(r);
    run__print_traces(r, 0);
}

void run__report_failure(struct run *r)
{
    char how[128];
    const struct proc *p = &r->procs[r->failed];
    proc_describe_exit(p, how, sizeof(how));
    fprintf(stderr, "ho11yctl run: %s (pid %d) %s%s\n", p->label, (int)p->pid, how,
            p->ntail ? "; its last log lines:" : "");
    proc_print_tail(p, stderr);
}

/* Stops procs [from, to): SIGTERM, then SIGKILL after the grace time or on a second signal. */
static void stop_procs(struct run *r, struct pollfd *fds, size_t from, size_t to)
{
    int64_t deadline = now_ns() + STOP_GRACE_NS;
    int killed = 0;
    for (size_t i = from; i < to; i++)
        proc_signal(&r->procs[i], SIGTERM);
    for (;;) {
        size_t alive = 0;
        for (size_t i = from; i < to; i++)
            alive += r->procs[i].pid > 0 && !r->procs[i].exited;
        if (!alive)
            return;
        if (!killed && (r->signals >= 2 || now_ns() >= deadline)) {
            for (size_t i = from; i < to; i++)
                proc_signal(&r->procs[i], SIGKILL);
            killed = 1;
        }
        run__poll(r, fds, 50);
    }
}

/* The load driver first (it stops sending), then the counts, then the services, which flush
 * their spans as they stop; then every trace still held is printed. */
void run__stop_all(struct run *r, struct pollfd *fds)
{
    size_t nservices = r->load >= 0 ? (size_t)r->load : r->nprocs;
    if (r->load >= 0)
        stop_procs(r, fds, (size_t)r->load, (size_t)r->load + 1);
    if (r->signals < 2)
        run__scrape_answers(r);
    else
        r->answered_partial = 1;
    stop_procs(r, fds, 0, nservices);
    run__print_traces(r, 1);
    /* A process that fails while stopping (a crash while flushing, say) is worth knowing of. */
    for (size_t i = 0; i < r->nprocs; i++) {
        const struct proc *p = &r->procs[i];
        char how[128];
        if ((long)i == r->failed || !p->exited || p->killed ||
            (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0))
            continue;
        proc_describe_exit(p, how, sizeof(how));
        fprintf(stderr, "ho11yctl run: %s (pid %d) %s while stopping; its last log lines:\n",
                p->label, (int)p->pid, how);
        proc_print_tail(p, stderr);
    }
}

/* Start-up ------------------------------------------------------------------------------------- */

/* A port that refuses connections, like a Kubernetes Service without endpoints. */
static int dead_port(struct run_service *rs)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rs->dead_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rs->dead_fd < 0 || bind(rs->dead_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(rs->dead_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    rs->dead_port = ntohs(a.sin_port);
    return 0;
}

/* Starts a process with env (rendered), the local overrides and HO11Y_CONNECT_TO for replica k
 * calling the services in callees[0..ncallees). */
static int spawn(struct run *r, const char *label, const cJSON *env, const char *const *callees,
                 size_t ncallees, size_t k, char *err, size_t errlen)
{
    struct envlist e = {0};
    struct proc *p = &r->procs[r->nprocs];
    env_base(&e);
    env_add_rendered(&e, env, label);
    env_local(&e);
    env_connect_to(&e, r, callees, ncallees, k);
    proc_init(p, label);
    r->nprocs++;
    enum ho11y_err res = proc_spawn(p, r->ho11y, e.items, err, errlen);
    env_cleanup(&e);
    return res == HO11Y_OK ? 0 : -1;
}

static int spawn_service(struct run *r, size_t s, char *err, size_t errlen)
{
    struct run_service *rs = &r->svcs[s];
    rs->first = r->nprocs;
    rs->started = 1;
    if (rs->nreplicas == 0)
        return dead_port(rs) == 0 ? 0 : (snprintf(err, errlen, "no free port"), -1);
    const char **callees = xcalloc(rs->s->ncalls + 1, sizeof(*callees));
    for (size_t c = 0; c < rs->s->ncalls; c++)
        callees[c] = rs->s->calls[c].service;
    int bad = 0;
    for (size_t k = 0; k < rs->nreplicas && !bad; k++) {
        struct topo_env_opts o;
        char grpc[300], label[80];
        env_opts(r, grpc, sizeof(grpc), &o);
        cJSON *env = topo_service_env(r->t, s, &o);
        if (rs->nreplicas > 1)
            snprintf(label, sizeof(label), "%s[%zu]", rs->s->name, k);
        else
            snprintf(label, sizeof(label), "%s", rs->s->name);
        bad = spawn(r, label, env, callees, rs->s->ncalls, k, err, errlen);
        cJSON_Delete(env);
    }
    free(callees);
    return bad ? -1 : 0;
}

/* Waits until procs [from, nprocs) all told their port; 0, or -1 on a failure or a signal. */
static int wait_ports(struct run *r, struct pollfd *fds, size_t from)
{
    int64_t deadline = now_ns() + START_TIMEOUT_NS;
    for (;;) {
        size_t waiting = 0;
        for (size_t i = from; i < r->nprocs; i++)
            waiting += r->procs[i].port == 0;
        if (!waiting)
            return 0;
        if (r->failed >= 0 || r->signals)
            return -1;
        if (now_ns() >= deadline) {
            for (size_t i = from; i < r->nprocs; i++)
                if (!r->procs[i].port) {
                    fprintf(stderr, "ho11yctl run: %s did not start listening within %llds\n",
                            r->procs[i].label, START_TIMEOUT_NS / 1000000000);
                    proc_print_tail(&r->procs[i], stderr);
                }
            return -1;
        }
        run__poll(r, fds, 100);
    }
}

/* A service is ready to start when every service it calls listens already. */
static int ready(const struct run *r, size_t s)
{
    const struct topo_service *svc = r->svcs[s].s;
    for (size_t c = 0; c < svc->ncalls; c++) {
        long i = svc->calls[c].service ? topo_service_index(r->t, svc->calls[c].service) : -1;
        if (i < 0)
            continue;
        const struct run_service *callee = &r->svcs[i];
        if (!callee->started)
            return 0;
        for (size_t k = 0; k < callee->nreplicas; k++)
            if (!r->procs[callee->first + k].port)
                return 0;
    }
    return 1;
}

int run__start_services(struct run *r, struct pollfd *fds)
{
    char err[256];
    size_t started = 0;
    while (started < r->t->nservices) {
        size_t from = r->nprocs, batch = 0;
        for (size_t s = 0; s < r->t->nservices; s++) {
            if (r->svcs[s].started || !ready(r, s))
                continue;
            if (spawn_service(r, s, err, sizeof(err)) != 0) {
                fprintf(stderr, "ho11yctl run: cannot start %s: %s\n", r->svcs[s].s->name, err);
                return -1;
            }
            batch++;
        }
        if (!batch) { /* cannot happen with a validated (acyclic) graph */
            fprintf(stderr, "ho11yctl run: the call graph has a cycle\n");
            return -1;
        }
        started += batch;
        if (wait_ports(r, fds, from) != 0)
            return -1;
    }
    return 0;
}

int run__start_load(struct run *r, struct pollfd *fds)
{
    char err[256], grpc[300], rate[64], requests[32];
    struct topo_env_opts o;
    if (r->load_rate <= 0)
        return 0;
    env_opts(r, grpc, sizeof(grpc), &o);
    cJSON *env = topo_load_env(r->t, &o);
    /* HO11Y_LOAD_RATE is a plain decimal (no exponent): six decimals, trailing zeros cut. */
    snprintf(rate, sizeof(rate), "%.6f", r->load_rate);
    for (size_t n = strlen(rate); n > 1 && (rate[n - 1] == '0' || rate[n - 1] == '.'); n--) {
        char last = rate[n - 1];
        rate[n - 1] = '\0';
        if (last == '.')
            break;
    }
    cJSON *item;
    cJSON_ArrayForEach(item, env)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, TOPO_ENV_LOAD_RATE) == 0)
            cJSON_ReplaceItemInObjectCaseSensitive(item, "value", cJSON_CreateString(rate));
    }
    if (r->requests) {
        /* Exactly N: a due request waits for a free slot rather than being skipped. */
        snprintf(requests, sizeof(requests), "%lld", r->requests);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "name", "HO11Y_LOAD_REQUESTS");
        cJSON_AddStringToObject(d, "value", requests);
        cJSON_AddItemToArray(env, d);
    }
    r->load = (long)r->nprocs;
    const char *target[] = {r->load_target};
    int bad = spawn(r, "load", env, target, 1, 0, err, sizeof(err));
    cJSON_Delete(env);
    if (bad) {
        fprintf(stderr, "ho11yctl run: cannot start the load driver: %s\n", err);
        return -1;
    }
    return wait_ports(r, fds, (size_t)r->load);
}
