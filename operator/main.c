/*
 * ho11y-operator: the Topology controller as a process. Loads the cluster configuration,
 * starts the informers and the health and metrics servers, waits for the caches to sync, then
 * reconciles (at once, or while it holds the leader Lease with --leader-elect). SIGTERM or
 * SIGINT writes the status changes postponed by their progress interval, stops taking work,
 * lets reconciles in flight finish (bounded), releases the lease and exits 0; a second signal
 * exits at once. Losing the lease exits 1.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#include <sys/auxv.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/proc.h"
#include "kube/kube_client.h"
#include "kube/kube_config.h"
#include "kube/kube_util.h"
#include "op_controller.h"
#include "op_http.h"
#include "op_leader.h"
#include "op_metrics.h"
#include "op_options.h"

struct app {
    struct op_options opts;
    struct kube_client *client;
    struct op_controller *ctl;
    struct op_leader *leader;
    struct op_http *health, *metrics;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int signals;
    int lost;     /* leadership was lost: exit (1) so that the pod restarts */
    int stopping; /* main is stopping: leadership ends by our own hand */
    int exiting;  /* main is done: the next signal only ends the signal thread */
    int synced;
    double start_time; /* process_start_time_seconds; set before the HTTP threads start */
};

static struct app app;

/* How often free heap pages are handed back to the system (memory_trim). */
#define TRIM_INTERVAL_MS 2000

/*
 * glibc gives every thread that allocates its own arena (up to eight per core), and each arena
 * keeps its own free memory: with five informers, the workers and the HTTP threads that is a
 * dozen partly used heaps. Two arenas are enough for two or more busy threads at a time here.
 */
static void memory_configure(void)
{
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, 2);
#endif
}

#define TCACHE_TUNABLE "glibc.malloc.tcache_count"
/* Tells the second start what GLIBC_TUNABLES was: "0" unset, "1" followed by the value. */
#define TUNABLES_WAS "HO11Y_GLIBC_TUNABLES_WAS"

/*
 * glibc's per-thread caches keep up to seven freed chunks of every small size in each of the
 * thirteen threads, out of reach of malloc_trim, so the pages under them stay resident: at 1,000
 * Topologies they held about 1.1 MiB, and without them the operator used no more CPU. The cache
 * size is a tunable that glibc reads only when a process starts, so the operator starts itself
 * again once, at the same pid, with it set to 0. A GLIBC_TUNABLES that already sets it is left
 * alone, as are setuid starts, where glibc may drop the variable, and runs under valgrind, which
 * would run the new start unchecked. If the new start fails the operator runs on with the
 * caches. The second start knows itself by the marker TUNABLES_WAS, which carries the old value:
 * it puts GLIBC_TUNABLES back as it was (unset for "0"), so that the processes it starts do not
 * inherit the setting. A marker inherited from elsewhere is treated the same way (no new start).
 */
static void memory_exec_tuned(char **argv)
{
#ifdef __GLIBC__
    const char *was = getenv(TUNABLES_WAS);
    if (was) {
        /* The second start: glibc has read the setting, so the environment is put back as it
         * was for the processes the operator starts (exec credential plugins). */
        if (was[0] == '1')
            setenv("GLIBC_TUNABLES", was + 1, 1);
        else
            unsetenv("GLIBC_TUNABLES");
        unsetenv(TUNABLES_WAS);
        return;
    }
    const char *old = getenv("GLIBC_TUNABLES");
    if ((old && strstr(old, TCACHE_TUNABLE)) || getauxval(AT_SECURE) || RUNNING_ON_VALGRIND)
        return;
    char *value =
        old && old[0] ? xasprintf("%s:" TCACHE_TUNABLE "=0", old) : xasprintf(TCACHE_TUNABLE "=0");
    /* The binary's own path, not /proc/self/exe, so the process keeps its name (ps, pkill). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || (size_t)n >= sizeof(self) - 1)
        snprintf(self, sizeof(self), "/proc/self/exe");
    else
        self[n] = '\0';
    char *marker = old ? xasprintf("1%s", old) : xstrdup("0");
    if (setenv(TUNABLES_WAS, marker, 1) == 0 && setenv("GLIBC_TUNABLES", value, 1) == 0)
        execv(self, argv);
    free(marker);
    free(value);
    unsetenv(TUNABLES_WAS);
    /* Still here: run untuned, and do not pass the setting to processes started later. */
    if (old)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
#else
    (void)argv;
#endif
}

/*
 * Parsing watch events and rendering objects free about as much as the cache keeps, in small
 * pieces that glibc keeps for reuse; whole free pages among them are returned to the system.
 */
static void memory_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        pthread_mutex_lock(&app.lock);
        int exiting = app.exiting;
        int n = exiting ? app.signals : ++app.signals;
        pthread_cond_broadcast(&app.cond);
        pthread_mutex_unlock(&app.lock);
        if (exiting)
            break;
        if (n == 1) {
            LOG_INFO("Received %s; shutting down (a second signal exits at once)",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        } else {
            LOG_WARN("Received a second signal; exiting now");
            _exit(1);
        }
    }
    return NULL;
}

/* Waits up to ms for a signal or the loss of leadership; returns whether either came. */
static int wait_signal(int64_t ms)
{
    struct timespec ts;
    kube_deadline_after(&ts, ms);
    pthread_mutex_lock(&app.lock);
    while (!app.signals && !app.lost)
        if (pthread_cond_timedwait(&app.cond, &app.lock, &ts) != 0)
            break;
    int got = app.signals || app.lost;
    pthread_mutex_unlock(&app.lock);
    return got;
}

static int ready(void *ud, char *why, size_t whylen)
{
    return op_controller_synced(app.ctl, why, whylen);
}

static void process_metrics(struct hbuf *out)
{
    struct proc_stat st;
    if (proc_self_stat(&st) == 0) {
        op_metrics_write_header(out, "process_cpu_seconds_total", "counter",
                                "Total user and system CPU time spent in seconds.");
        hbuf_addf(out, "process_cpu_seconds_total %.2f\n",
                  (double)(st.utime + st.stime) / (double)sysconf(_SC_CLK_TCK));
        op_metrics_write_header(out, "process_resident_memory_bytes", "gauge",
                                "Resident memory size in bytes.");
        hbuf_addf(out, "process_resident_memory_bytes %ld\n", st.rss * sysconf(_SC_PAGESIZE));
    }
    long fds = proc_open_fds();
    if (fds >= 0) {
        op_metrics_write_header(out, "process_open_fds", "gauge",
                                "Number of open file descriptors.");
        hbuf_addf(out, "process_open_fds %ld\n", fds);
    }
    if (app.start_time > 0) {
        op_metrics_write_header(out, "process_start_time_seconds", "gauge",
                                "Start time of the process since unix epoch in seconds.");
        hbuf_addf(out, "process_start_time_seconds %.2f\n", app.start_time);
    }
}

static void metrics(void *ud, struct hbuf *out)
{
    op_controller_write_metrics(app.ctl, out);
    /* main publishes these under the lock while this runs on the HTTP thread; the elector
     * itself lives until the HTTP servers have stopped. */
    pthread_mutex_lock(&app.lock);
    struct op_leader *leader = app.leader;
    int synced = app.synced;
    pthread_mutex_unlock(&app.lock);
    /* Without election the process leads once its caches are synced; with it, only once the
     * elector has the Lease (not in the moment between the sync and the elector's start). */
    int leading = leader ? op_leader_is_leader(leader) : synced && !app.opts.leader_elect;
    hbuf_addf(out,
              "# HELP leader_election_master_status Gauge of if the reporting system is master "
              "of the relevant lease, 0 indicates backup, 1 indicates master.\n"
              "# TYPE leader_election_master_status gauge\n"
              "leader_election_master_status{name=\"%s\"} %d\n",
              leader ? op_leader_name(leader) : app.opts.leader_elect_id, leading);
    process_metrics(out);
}

static const struct op_http_handlers handlers = {ready, metrics, NULL};

/*
 * Losing the lease stops reconciling at once (op_controller_set_leading cancels the requests
 * in flight) and then ends the process with status 1, as controller-runtime does: a restarted
 * pod starts from fresh caches and campaigns again.
 */
static void on_leading(void *ud, int leading)
{
    op_controller_set_leading(app.ctl, leading);
    if (leading)
        return;
    pthread_mutex_lock(&app.lock);
    if (!app.stopping) {
        app.lost = 1;
        pthread_cond_broadcast(&app.cond);
    }
    pthread_mutex_unlock(&app.lock);
}

static char *make_identity(void)
{
    char host[256] = "unknown", suffix[17];
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    kube_rand_hex(suffix, 8);
    return xasprintf("%s_%s", host, suffix);
}

/* period varied by up to 10 % either way, as controller-runtime varies its SyncPeriod. */
static int64_t jittered(int64_t period)
{
    int64_t spread = period / 5;
    return period - period / 10 + (spread > 0 ? (int64_t)kube_rand_below((uint64_t)spread) : 0);
}

static int start_http(char *err, size_t errlen)
{
    const char *h = app.opts.health_addr, *m = app.opts.metrics_addr;
    char host[256];
    int port, hon = 0, mon = 0;
    if (op_http_parse_addr(h, host, sizeof(host), &port, &hon) ||
        op_http_parse_addr(m, host, sizeof(host), &port, &mon)) {
        snprintf(err, errlen, "invalid --health-addr or --metrics-addr (want host:port or :port)");
        return -1;
    }
    int same = hon && mon && strcmp(h, m) == 0 && !strstr(h, ":0");
    if (hon && op_http_start(h, 1, same, &handlers, &app.health, err, errlen))
        return -1;
    if (mon && !same && op_http_start(m, 0, 1, &handlers, &app.metrics, err, errlen))
        return -1;
    if (app.health)
        LOG_INFO("Health endpoints listening on port %d", op_http_port(app.health));
    if (app.metrics || same)
        LOG_INFO("Metrics endpoint listening on port %d",
                 op_http_port(app.metrics ? app.metrics : app.health));
    return 0;
}

static const char *lease_namespace(const struct kube_config *cfg)
{
    if (app.opts.leader_elect_namespace)
        return app.opts.leader_elect_namespace;
    const char *pod = getenv("POD_NAMESPACE");
    if (pod && pod[0])
        return pod;
    return cfg->namespace ? cfg->namespace : "default";
}

int main(int argc, char **argv)
{
    char err[2048];
    int status = 1;
    struct kube_config cfg = {0};
    char *identity = NULL, *lease_ns = NULL;
    sigset_t set;
    pthread_t sig_thread;

    memory_exec_tuned(argv);
    memory_configure();
    ho11y_alloc_init();
    if (op_options_parse(argc, argv, &app.opts, err, sizeof(err))) {
        fprintf(stderr, "ho11y-operator: %s\n", err);
        return 2;
    }
    if (app.opts.help) {
        op_options_usage(stdout);
        return 0;
    }
    if (app.opts.version) {
        printf("ho11y-operator %s\n", HO11Y_VERSION);
        return 0;
    }
    log_configure(app.opts.log_level, app.opts.log_format, STDERR_FILENO);
    /* Signals go to one thread; every thread started later inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&app.lock, NULL);
    pthread_cond_init(&app.cond, NULL);
    pthread_create(&sig_thread, NULL, signal_main, &set);
    kube_global_init();

    if (kube_config_load_default(app.opts.kubeconfig, app.opts.context, &cfg, err, sizeof(err))) {
        LOG_ERROR("Configuration not loaded: %s", err);
        goto out;
    }
    struct kube_client_opts copts = {.qps = app.opts.kube_api_qps,
                                     .burst = app.opts.kube_api_burst};
    if (kube_client_new(&cfg, &copts, &app.client, err, sizeof(err))) {
        LOG_ERROR("Client not created: %s", err);
        goto out;
    }
    identity = make_identity();
    LOG_INFO("Starting ho11y-operator %s as %s against %s (%s), namespace %s, %d workers",
             HO11Y_VERSION, identity, cfg.server, cfg.origin ? cfg.origin : "",
             app.opts.ns ? app.opts.ns : "(all)", app.opts.workers);
    if (app.opts.kube_api_qps > 0)
        LOG_INFO("API requests limited to %g a second, %d at once", app.opts.kube_api_qps,
                 app.opts.kube_api_burst);
    struct op_controller_opts co = {.ns = app.opts.ns,
                                    .workers = app.opts.workers,
                                    .generator_image = app.opts.generator_image,
                                    .collector_image = app.opts.collector_image,
                                    .pull_policy = app.opts.image_pull_policy,
                                    .identity = identity};
    app.ctl = op_controller_new(app.client, &co);
    app.start_time = proc_start_time();
    if (start_http(err, sizeof(err))) {
        LOG_ERROR("HTTP endpoints not started: %s", err);
        goto out;
    }
    if (op_controller_start(app.ctl)) {
        LOG_ERROR("Controller not started");
        goto out;
    }
    /* Reconcile only with complete caches: an empty cache would look like missing objects.
     * Like controller-runtime's CacheSyncTimeout, give up when they never sync: a wrong CA or
     * credentials the server refuses are configuration errors a restart makes visible. */
    int64_t sync_end = kube_now_ms() + app.opts.cache_sync_timeout_ms;
    while (!op_controller_wait_synced(app.ctl, 200)) {
        if (wait_signal(1)) {
            status = 0; /* asked to stop: a clean exit, synced or not */
            goto stop;
        }
        if (kube_now_ms() >= sync_end) {
            char why[512];
            op_controller_synced(app.ctl, why, sizeof(why));
            LOG_ERROR("Caches not synced within %lld ms (%s); giving up, see the errors above",
                      (long long)app.opts.cache_sync_timeout_ms, why);
            status = 1;
            goto stop;
        }
    }
    pthread_mutex_lock(&app.lock);
    app.synced = 1;
    pthread_mutex_unlock(&app.lock);
    if (app.opts.leader_elect) {
        lease_ns = xstrdup(lease_namespace(&cfg));
        struct op_leader_opts lo = {.ns = lease_ns,
                                    .name = app.opts.leader_elect_id,
                                    .identity = identity,
                                    .lease_duration_ms = app.opts.lease_duration_ms,
                                    .renew_deadline_ms = app.opts.renew_deadline_ms,
                                    .retry_period_ms = app.opts.retry_period_ms,
                                    .on_change = on_leading};
        struct op_leader *leader = NULL;
        if (op_leader_new(app.client, &lo, &leader, err, sizeof(err))) {
            LOG_ERROR("Leader election not configured: %s", err);
            goto stop;
        }
        pthread_mutex_lock(&app.lock);
        app.leader = leader;
        pthread_mutex_unlock(&app.lock);
        op_leader_start(leader);
    } else {
        op_controller_set_leading(app.ctl, 1);
    }
    int64_t resync_at = kube_now_ms() + jittered(app.opts.sync_period_ms);
    while (!wait_signal(TRIM_INTERVAL_MS)) {
        memory_trim();
        if (kube_now_ms() >= resync_at) {
            size_t n = op_controller_resync(app.ctl);
            LOG_DEBUG("Resync: %zu topologies queued", n);
            resync_at = kube_now_ms() + jittered(app.opts.sync_period_ms);
        }
    }
    pthread_mutex_lock(&app.lock);
    status = app.lost ? 1 : 0;
    pthread_mutex_unlock(&app.lock);
    if (status)
        LOG_ERROR("Exiting: leadership was lost (the pod restarts and campaigns again)");
stop:
    pthread_mutex_lock(&app.lock);
    app.stopping = 1;
    pthread_mutex_unlock(&app.lock);
    /* Stop taking work, let reconciles in flight finish, then give the lease up. */
    op_controller_stop(app.ctl, app.opts.shutdown_timeout_ms);
    if (app.leader)
        op_leader_stop(app.leader);
    if (status == 0)
        LOG_INFO("Shut down cleanly");
out:
    op_http_stop(app.health);
    op_http_stop(app.metrics);
    op_leader_free(app.leader);
    op_controller_free(app.ctl);
    kube_client_free(app.client);
    kube_config_cleanup(&cfg);
    kube_global_cleanup();
    free(identity);
    free(lease_ns);
    /* End the signal thread so that nothing outlives main (valgrind counts its stack). */
    pthread_mutex_lock(&app.lock);
    app.exiting = 1;
    pthread_mutex_unlock(&app.lock);
    /* It waits for SIGTERM in sigwait (blocked in every thread): this wakes it, not kills it. */
    pthread_kill(sig_thread, SIGTERM); /* NOLINT(bugprone-bad-signal-to-kill-thread,cert-pos44-c) */
    pthread_join(sig_thread, NULL);
    pthread_mutex_destroy(&app.lock);
    pthread_cond_destroy(&app.cond);
    return status;
}
