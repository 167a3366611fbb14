/*
 * ho11yctl run FILE: a Topology on this machine, without Kubernetes. Each service replica is a
 * real ho11y process on a free port of 127.0.0.1 with the environment the operator renders for
 * its Deployment (api/render.h), in-topology calls connected to the local ports (their URLs
 * stay the cluster's, through HO11Y_CONNECT_TO), spans sent to a built-in OTLP/HTTP receiver
 * that prints each finished trace as a tree (or to --otlp-endpoint), and the load driver (ho11y
 * in load mode) when there is load. Services start leaves first, so
 * every caller is born knowing its callees' ports (the call graph is acyclic, which validation
 * guarantees).
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/render.h"
#include "cli/cli.h"
#include "cli/run_internal.h"
#include "common/alloc.h"
#include "common/units.h"

#define MAX_PROCS          200
#define LOAD_POLL_NS       (200LL * 1000000)
#define DEFAULT_TRACE_WAIT "1s"

static const char usage[] =
    "Usage: ho11yctl run FILE [options]\n"
    "\n"
    "Runs the Topology in FILE on this machine, without Kubernetes: one ho11y process per\n"
    "service replica, each listening on a free port of 127.0.0.1 with the environment the\n"
    "operator gives its Deployment, calls to other services pointed at their local ports, a\n"
    "built-in OTLP/HTTP receiver that prints every trace as an indented tree once it is\n"
    "finished (its root span arrived and nothing more came for --trace-wait), and the load\n"
    "driver when the Topology has spec.load or --rate is given. Where each service listens is\n"
    "printed first, so you can also `curl` the frontend yourself. Ctrl-C (or SIGTERM) stops\n"
    "everything and prints a summary: requests by status as the entry services (those nobody\n"
    "calls) counted them (failed: not 2xx), spans received, traces printed.\n"
    "\n"
    "Options:\n"
    "  --rate N             N requests per second (decimals allowed) from the load driver to\n"
    "                       spec.load.target, or to the first service nobody calls; overrides\n"
    "                       spec.load.rate; 0 = no load driver\n"
    "  --requests N         send exactly N requests, wait for their traces, stop (implies\n"
    "                       --rate 5 when there is no load; while 64 are in flight the next\n"
    "                       waits for one to end)\n"
    "  --duration D         stop after D (Go syntax: 30s, 2m)\n"
    "  --otlp-endpoint URL  send the spans to this OTLP/HTTP JSON endpoint instead of printing\n"
    "                       them (\"/v1/traces\" is added to a URL without a path)\n"
    "  --trace-wait D       how long a trace must be quiet to be printed "
    "(default " DEFAULT_TRACE_WAIT ")\n"
    "  --ho11y PATH         the generator binary (default: $HO11Y_BIN, else the ho11y next to\n"
    "                       ho11yctl)\n"
    "  --name NAME          the Topology to run when FILE holds several\n"
    "  -v, --verbose        also copy every process's log lines to standard error\n"
    "  -h, --help           this help\n"
    "\n"
    "How it differs from the cluster: calls keep the cluster's URLs (http://backend:8765), so\n"
    "spans name the callee service as in a cluster, and HO11Y_CONNECT_TO connects them to a\n"
    "local port instead. With several replicas there is no Service to balance, so replica k of\n"
    "a caller connects to replica k mod R of its callee, and the load driver to replica 0 of\n"
    "its target. A service with 0 replicas gets a port that refuses connections. spec.image,\n"
    "the collector, resources, labels and env entries with valueFrom are not used. A process\n"
    "gets its rendered environment only (plus PATH and sanitizer options), with HO11Y_PORT=0,\n"
    "HO11Y_BIND_ADDRESS=127.0.0.1 and HO11Y_CONNECT_TO (before any entries of its own);\n"
    "spans are exported every 200 ms (unless the service's env sets OTEL_BSP_SCHEDULE_DELAY)\n"
    "and a process gets 3s to stop (HO11Y_SHUTDOWN_TIMEOUT).\n"
    "\n"
    "Exit status: 0 when the run ended as asked (--duration, --requests, Ctrl-C, SIGTERM), 1\n"
    "when FILE is invalid or a process could not start or exited on its own (which is\n"
    "reported with its last log lines), 2 on usage errors.\n";

/* Options -------------------------------------------------------------------------------------- */

static int bad_value(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "ho11yctl run: bad value \"%s\" for %s: want %s\n", v, opt, want);
    return CLI_EXIT_USAGE;
}

static int parse_duration(const char *v, int64_t *ns)
{
    return ho11y_duration_parse(v, ns) == HO11Y_OK && *ns > 0 ? 0 : -1;
}

static int parse_option(struct run *r, int argc, char **argv, int *i)
{
    const char *v = NULL;
    int k;
    char *end = NULL;
    if ((k = cli_option_value(argc, argv, i, "--rate", &v)) != 0) {
        if (k < 0)
            return CLI_EXIT_USAGE;
        errno = 0;
        r->rate = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(r->rate) || r->rate > 100000 ||
            (r->rate != 0 && r->rate < 0.001))
            return bad_value("--rate", v, "0, or requests per second from 0.001 to 100000");
        r->rate_set = 1;
    } else if ((k = cli_option_value(argc, argv, i, "--requests", &v)) != 0) {
        if (k < 0)
            return CLI_EXIT_USAGE;
        errno = 0;
        r->requests = strtoll(v, &end, 10);
        if (errno || end == v || *end || r->requests < 1 || r->requests > 100000000)
            return bad_value("--requests", v, "a positive number");
    } else if ((k = cli_option_value(argc, argv, i, "--duration", &v)) != 0) {
        if (k < 0 || parse_duration(v, &r->duration_ns) != 0)
            return k < 0 ? CLI_EXIT_USAGE : bad_value("--duration", v, "a Go duration like 30s");
    } else if ((k = cli_option_value(argc, argv, i, "--trace-wait", &v)) != 0) {
        if (k < 0 || parse_duration(v, &r->trace_wait_ns) != 0)
            return k < 0 ? CLI_EXIT_USAGE : bad_value("--trace-wait", v, "a Go duration like 1s");
    } else if ((k = cli_option_value(argc, argv, i, "--otlp-endpoint", &v)) != 0) {
        if (k < 0)
            return CLI_EXIT_USAGE;
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return bad_value("--otlp-endpoint", v, "an http:// or https:// URL");
        r->otlp_endpoint = v;
    } else if ((k = cli_option_value(argc, argv, i, "--ho11y", &v)) != 0) {
        if (k < 0 || !*v)
            return k < 0 ? CLI_EXIT_USAGE : bad_value("--ho11y", v, "a path");
        r->ho11y = v;
    } else if ((k = cli_option_value(argc, argv, i, "--name", &v)) != 0) {
        if (k < 0)
            return CLI_EXIT_USAGE;
        r->name = v;
    } else if (strcmp(argv[*i], "-v") == 0 || strcmp(argv[*i], "--verbose") == 0) {
        r->verbose = 1;
    } else if (argv[*i][0] == '-' && argv[*i][1] != '\0') {
        fprintf(stderr, "ho11yctl run: unknown option %s\n\n%s", argv[*i], usage);
        return CLI_EXIT_USAGE;
    } else if (r->file) {
        fprintf(stderr, "ho11yctl run: only one FILE may be given\n\n%s", usage);
        return CLI_EXIT_USAGE;
    } else {
        r->file = argv[*i];
    }
    return 0;
}

static int parse_args(struct run *r, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        int status = parse_option(r, argc, argv, &i);
        if (status)
            return status;
    }
    if (!r->file) {
        fprintf(stderr, "ho11yctl run: no FILE given\n\n%s", usage);
        return CLI_EXIT_USAGE;
    }
    if (r->requests && r->rate_set && r->rate == 0) {
        fprintf(stderr, "ho11yctl run: --requests needs a load: --rate 0 turns it off\n");
        return CLI_EXIT_USAGE;
    }
    if (!r->trace_wait_ns)
        ho11y_duration_parse(DEFAULT_TRACE_WAIT, &r->trace_wait_ns);
    return 0;
}

/* Picks the Topology to run out of the file: the only one, or the one --name names. */
static int pick_topology(struct run *r, struct cli_file *f)
{
    size_t pick = f->count;
    for (size_t i = 0; i < f->count; i++)
        if (r->name ? strcmp(f->items[i].t->name, r->name) == 0 : f->count == 1)
            pick = i;
    if (pick == f->count) {
        if (r->name)
            fprintf(stderr, "ho11yctl run: %s has no Topology named \"%s\"\n", r->file, r->name);
        else
            fprintf(stderr, "ho11yctl run: %s holds %zu Topologies; choose one with --name\n",
                    r->file, f->count);
        return CLI_EXIT_FAIL;
    }
    r->t = f->items[pick].t;
    f->items[pick].t = NULL;
    return 0;
}

/* The generator binary: --ho11y, $HO11Y_BIN, or ho11y in ho11yctl's own directory. */
static char *find_ho11y(const struct run *r)
{
    char self[PATH_MAX];
    const char *env = getenv("HO11Y_BIN");
    char *path;
    if (r->ho11y)
        path = xstrdup(r->ho11y);
    else if (env && *env)
        path = xstrdup(env);
    else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
        if (!slash) {
            fprintf(stderr, "ho11yctl run: cannot find my own directory; use --ho11y PATH\n");
            return NULL;
        }
        *slash = '\0';
        path = xasprintf("%s/ho11y", self);
    }
    if (access(path, X_OK) != 0) {
        fprintf(stderr,
                "ho11yctl run: cannot run the ho11y generator at %s: %s (use --ho11y PATH or "
                "set HO11Y_BIN)\n",
                path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

/* Planning ------------------------------------------------------------------------------------- */

/* Replicas, callers, the load target and rate; -1 (reported) when the run would be too big. */
static int plan(struct run *r)
{
    const struct topology *t = r->t;
    size_t total = 0;
    r->svcs = xcalloc(t->nservices, sizeof(*r->svcs));
    for (size_t s = 0; s < t->nservices; s++) {
        const struct topo_service *svc = &t->services[s];
        r->svcs[s].s = svc;
        r->svcs[s].dead_fd = -1;
        r->svcs[s].nreplicas = svc->replicas.set ? (size_t)svc->replicas.value : 1;
        total += r->svcs[s].nreplicas;
        for (size_t c = 0; c < svc->ncalls; c++) {
            long i = svc->calls[c].service ? topo_service_index(t, svc->calls[c].service) : -1;
            if (i >= 0)
                r->svcs[i].has_callers = 1;
        }
    }
    if (t->load.set && t->load.target)
        r->load_target = t->load.target;
    for (size_t s = 0; s < t->nservices && !r->load_target; s++)
        if (!r->svcs[s].has_callers)
            r->load_target = t->services[s].name;
    if (r->rate_set)
        r->load_rate = r->rate;
    else if (t->load.set)
        r->load_rate = (double)(t->load.rate.set ? t->load.rate.value : TOPO_DEFAULT_LOAD_RATE);
    else if (r->requests)
        r->load_rate = TOPO_DEFAULT_LOAD_RATE;
    if (r->load_rate > 0 && !t->load.set) {
        /* topo_load_env renders the load driver of spec.load: give it one. */
        r->t->load.set = 1;
        r->t->load.target = xstrdup(r->load_target);
    }
    total += r->load_rate > 0;
    if (total > MAX_PROCS) {
        fprintf(stderr,
                "ho11yctl run: %s needs %zu processes; a local run starts at most %d (lower "
                "the replicas)\n",
                r->file, total, MAX_PROCS);
        return -1;
    }
    r->procs = xcalloc(total, sizeof(*r->procs));
    r->cap = total;
    return 0;
}

/* Where the spans go: the built-in receiver, or --otlp-endpoint ("/v1/traces" added to a bare
 * URL). */
static int set_traces_url(struct run *r)
{
    char err[256];
    if (r->otlp_endpoint) {
        const char *rest = strstr(r->otlp_endpoint, "://") + 3;
        const char *path = strchr(rest, '/');
        if (!path || strcmp(path, "/") == 0)
            r->traces_url = xasprintf(
                "%.*s%s", (int)(path ? path - r->otlp_endpoint : (long)strlen(r->otlp_endpoint)),
                r->otlp_endpoint, TOPO_OTLP_TRACES_PATH);
        else
            r->traces_url = xstrdup(r->otlp_endpoint);
        return 0;
    }
    if (otlp_recv_start(0, &r->recv, err, sizeof(err)) != HO11Y_OK) {
        fprintf(stderr, "ho11yctl run: %s\n", err);
        return -1;
    }
    r->traces_url =
        xasprintf("http://127.0.0.1:%u%s", otlp_recv_port(r->recv), TOPO_OTLP_TRACES_PATH);
    return 0;
}

static void print_table(const struct run *r)
{
    const struct topology *t = r->t;
    printf("Running Topology %s%s%s: %zu service%s, %zu process%s\n",
           t->namespace ? t->namespace : "", t->namespace ? "/" : "", t->name, t->nservices,
           t->nservices == 1 ? "" : "s", r->nprocs, r->nprocs == 1 ? "" : "es");
    for (size_t s = 0; s < t->nservices; s++) {
        const struct run_service *rs = &r->svcs[s];
        if (!rs->nreplicas)
            printf("  %-20s no replicas: calls to it are refused (127.0.0.1:%u)\n", rs->s->name,
                   rs->dead_port);
        for (size_t k = 0; k < rs->nreplicas; k++) {
            const struct proc *p = &r->procs[rs->first + k];
            printf("  %-20s http://127.0.0.1:%u/  pid %d\n", p->label, p->port, (int)p->pid);
        }
    }
    if (r->load >= 0) {
        const struct proc *p = &r->procs[r->load];
        long ti = topo_service_index(t, r->load_target);
        const struct run_service *target = &r->svcs[ti];
        unsigned port = target->nreplicas ? r->procs[target->first].port : target->dead_port;
        printf("  %-20s %g request%s/s to %s (http://127.0.0.1:%u/)  pid %d\n", "load driver",
               r->load_rate, r->load_rate == 1 ? "" : "s", r->load_target, port, (int)p->pid);
    }
    if (r->load < 0) {
        long ti = topo_service_index(t, r->load_target);
        const struct run_service *entry = ti >= 0 ? &r->svcs[ti] : NULL;
        if (entry && entry->nreplicas)
            printf("No load driver: send requests yourself (curl http://127.0.0.1:%u/) or use "
                   "--rate N.\n",
                   r->procs[entry->first].port);
    }
    if (r->recv)
        printf("Traces go to the built-in receiver at %s and are printed when finished.\n",
               r->traces_url);
    else
        printf("Traces go to %s.\n", r->traces_url);
    if (r->requests && r->duration_ns)
        printf("Stopping after %lld requests or %.3gs, or on Ctrl-C.\n", r->requests,
               (double)r->duration_ns / 1e9);
    else if (r->requests)
        printf("Stopping after %lld requests, or on Ctrl-C.\n", r->requests);
    else if (r->duration_ns)
        printf("Stopping after %.3gs, or on Ctrl-C.\n", (double)r->duration_ns / 1e9);
    else
        printf("Press Ctrl-C to stop.\n");
    fflush(stdout);
}

/* The main loop -------------------------------------------------------------------------------- */

/* Runs until a stop condition; returns what stopped the run, for the summary. */
static const char *run_loop(struct run *r, struct pollfd *fds, char *why, size_t whylen)
{
    for (;;) {
        if (r->failed >= 0) {
            snprintf(why, whylen, "%s exited", r->procs[r->failed].label);
            return why;
        }
        if (r->signals)
            return "stopped by a signal";
        int64_t now = otlp_recv_now();
        if (r->duration_ns && now - r->start_mono >= r->duration_ns) {
            snprintf(why, whylen, "ran for %.3gs", (double)r->duration_ns / 1e9);
            return why;
        }
        if (r->requests && r->load >= 0 && r->procs[r->load].load_finished &&
            now - r->last_load_poll >= LOAD_POLL_NS) {
            r->last_load_poll = now;
            if (run__load_in_flight(r) == 0) {
                snprintf(why, whylen, "%lld requests were sent", r->requests);
                return why;
            }
        }
        run__poll(r, fds, 100);
    }
}

static void run_cleanup(struct run *r)
{
    for (size_t i = 0; i < r->nprocs; i++) {
        struct proc *p = &r->procs[i];
        /* Only after a failed start can a child still run here; it must not outlive us. */
        if (p->pid > 0 && !p->exited) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
        }
        proc_cleanup(p);
    }
    for (size_t s = 0; r->svcs && s < r->t->nservices; s++)
        if (r->svcs[s].dead_fd >= 0)
            close(r->svcs[s].dead_fd);
    free(r->procs);
    free(r->svcs);
    otlp_recv_stop(r->recv);
    free(r->traces_url);
    topo_free(r->t);
    if (r->sigfd >= 0)
        close(r->sigfd);
}

/* Runs r->t once loaded: returns the exit status. */
static int run_topology(struct run *r, char *ho11y)
{
    sigset_t set, old;
    struct pollfd *fds = NULL;
    char why[160];
    const char *reason = NULL;
    int status = CLI_EXIT_FAIL;
    r->ho11y = ho11y;
    /* Signals are read from a signalfd by this thread; the receiver's thread and the children
     * inherit the blocked mask (the children reset it before exec). */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (r->sigfd < 0) {
        fprintf(stderr, "ho11yctl run: signalfd: %s\n", strerror(errno));
        goto out;
    }
    if (plan(r) != 0 || set_traces_url(r) != 0)
        goto out;
    fds = xcalloc(r->cap + 1, sizeof(*fds));
    r->start_mono = otlp_recv_now();
    if (run__start_services(r, fds) != 0 || run__start_load(r, fds) != 0) {
        r->start_failed = 1;
        if (r->failed >= 0)
            run__report_failure(r);
        else if (r->signals)
            fprintf(stderr, "ho11yctl run: stopped by a signal while starting\n");
        run__stop_all(r, fds);
        goto out;
    }
    print_table(r);
    r->start_mono = otlp_recv_now();
    reason = run_loop(r, fds, why, sizeof(why));
    if (r->failed >= 0)
        run__report_failure(r);
    run__stop_all(r, fds);
    run__print_summary(r, reason);
    status = r->failed >= 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    run_cleanup(r);
    free(fds);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return status;
}

int cli_run(int argc, char **argv)
{
    struct run r;
    struct cli_file f;
    memset(&r, 0, sizeof(r));
    r.load = -1;
    r.failed = -1;
    r.sigfd = -1;
    int status = parse_args(&r, argc, argv);
    if (status)
        return status < 0 ? CLI_EXIT_OK : status;
    if (cli_file_load(r.file, &f, stderr) != 0) {
        fprintf(stderr, "ho11yctl run: %s is not valid; nothing was started\n", r.file);
        cli_file_cleanup(&f);
        return CLI_EXIT_FAIL;
    }
    status = pick_topology(&r, &f);
    cli_file_cleanup(&f);
    if (status)
        return status;
    char *ho11y = find_ho11y(&r);
    if (!ho11y) {
        topo_free(r.t);
        return CLI_EXIT_FAIL;
    }
    curl_global_init_mem(CURL_GLOBAL_DEFAULT, xmalloc, free, xrealloc, xstrdup, xcalloc);
    status = run_topology(&r, ho11y);
    curl_global_cleanup();
    free(ho11y);
    return status;
}
