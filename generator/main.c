/*
 * ho11y: the synthetic signal generator. Configuration comes from the environment only
 * (config.h); docs/generator.md lists the variables. The only arguments are --help and
 * --version. Exit status: 0 after a clean shutdown on SIGTERM or SIGINT, 2 for a configuration
 * error or an argument it does not know, 1 when the server cannot start.
 */
#include <curl/curl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/units.h"
#include "generator/config.h"
#include "generator/downstream.h"
#include "generator/exporter.h"
#include "generator/handler.h"
#include "generator/instruments.h"
#include "generator/load.h"
#include "generator/metrics.h"
#include "generator/otlp.h"
#include "generator/server.h"
#include "generator/trace.h"

#define RANDVAL_PERIOD_S 5 /* upstream's randValues sleep */

struct app {
    struct gen_config cfg;
    struct metrics_registry *reg;
    struct gen_instruments ins;
    struct gen_exporter *exp;
    struct gen_downstream *ds;
    struct gen_handler *handler;
    struct gen_server *srv;
    struct gen_load *load;
    char hostname[256];
};

/* Resource: detected host.name, then OTEL_RESOURCE_ATTRIBUTES, then the SDK and service names
 * (later entries override earlier ones with the same key). */
static size_t resource_build(const struct app *a, struct otlp_kv *kv, size_t max)
{
    size_t n = 0;
    struct otlp_kv all[GEN_MAX_RESOURCE_KV + 8];
    size_t m = 0;
    all[m++] = (struct otlp_kv){"host.name", a->hostname};
    for (size_t i = 0; i < a->cfg.nresource; i++)
        all[m++] = (struct otlp_kv){a->cfg.resource_keys[i], a->cfg.resource_values[i]};
    all[m++] = (struct otlp_kv){"telemetry.sdk.name", "ho11y"};
    all[m++] = (struct otlp_kv){"telemetry.sdk.language", "c"};
    all[m++] = (struct otlp_kv){"telemetry.sdk.version", HO11Y_VERSION};
    all[m++] = (struct otlp_kv){"service.name", a->cfg.service_name};
    for (size_t i = 0; i < m; i++) {
        size_t j = 0;
        while (j < n && strcmp(kv[j].key, all[i].key) != 0)
            j++;
        if (j < n)
            kv[j] = all[i];
        else if (n < max)
            kv[n++] = all[i];
    }
    return n;
}

static int start_exporter(struct app *a)
{
    struct otlp_kv kv[GEN_MAX_RESOURCE_KV + 8];
    struct hbuf prefix;
    size_t n = resource_build(a, kv, sizeof(kv) / sizeof(kv[0]));
    hbuf_init(&prefix, 1 << 20);
    if (otlp_batch_prefix(kv, n, "ho11y", HO11Y_VERSION, &prefix)) {
        hbuf_cleanup(&prefix);
        return -1;
    }
    struct gen_exporter_options o = {
        .enabled = a->cfg.export_enabled,
        .url = a->cfg.otlp_url,
        .headers = (const char *const *)a->cfg.otlp_headers,
        .nheaders = a->cfg.notlp_headers,
        .ca_file = a->cfg.otlp_ca_file,
        .queue_max = a->cfg.bsp_queue_max,
        .batch_max = a->cfg.bsp_batch_max,
        .delay_ns = a->cfg.bsp_delay_ns,
        .export_timeout_ns = a->cfg.bsp_export_timeout_ns,
        .request_timeout_ns = a->cfg.otlp_timeout_ns,
        .batch_prefix = hbuf_str(&prefix),
        .batch_prefix_len = prefix.len,
    };
    a->exp = gen_exporter_new(&o, a->reg);
    hbuf_cleanup(&prefix);
    return a->exp ? 0 : -1;
}

static void log_startup(const struct app *a)
{
    const struct gen_config *c = &a->cfg;
    char msg[2300];
    if (c->failure_percent > 0) {
        char rate[48], codes[256] = "";
        size_t o = 0;
        ho11y_float_format(c->failure_percent, false, rate, sizeof(rate));
        for (size_t i = 0; i < c->nfailure_codes; i++)
            o += (size_t)snprintf(codes + o, sizeof(codes) - o, "%s%d", i ? "," : "",
                                  c->failure_codes[i]);
        if (c->failure_legacy)
            snprintf(msg, sizeof(msg), "Failure injection enabled, dropping half of the requests");
        else
            snprintf(msg, sizeof(msg), "Failure injection enabled, failing %s %% of the requests",
                     rate);
        struct log_field f[] = {LOG_STR("codes", codes),
                                LOG_DBL("rate_percent", c->failure_percent)};
        log_kv(LOG_LEVEL_INFO, msg, f, 2);
    }
    for (size_t i = 0; i < c->ndownstreams; i++) {
        snprintf(msg, sizeof(msg), "Using downstream %u: %s", c->downstreams[i].slot,
                 c->downstreams[i].raw);
        log_kv(LOG_LEVEL_INFO, msg, NULL, 0);
    }
    for (size_t i = 0; i < c->nconnect_to; i++) {
        snprintf(msg, sizeof(msg), "Connecting as HO11Y_CONNECT_TO says: %s", c->connect_to[i]);
        log_kv(LOG_LEVEL_INFO, msg, NULL, 0);
    }
    if (c->ndownstreams > 1 && c->parallel)
        log_kv(LOG_LEVEL_INFO, "Calling downstreams in parallel", NULL, 0);
    if (c->cutoff_tps > 0) {
        snprintf(msg, sizeof(msg), "Throttling enabled with a %ld TPS cutoff point", c->cutoff_tps);
        log_kv(LOG_LEVEL_INFO, msg, NULL, 0);
    }
    if (c->latency_fixed_ns > 0 || c->latency_jitter_ns > 0) {
        struct log_field f[] = {LOG_DBL("fixed_sec", (double)c->latency_fixed_ns / 1e9),
                                LOG_DBL("jitter_sec", (double)c->latency_jitter_ns / 1e9)};
        log_kv(LOG_LEVEL_INFO, "Adding latency to every request", f, 2);
    }
    if (c->export_enabled) {
        snprintf(msg, sizeof(msg), "Using Otel collector at %s", c->otlp_url);
        struct log_field f[] = {LOG_STR("from", c->otlp_url_from),
                                LOG_STR("protocol", "http/json")};
        log_kv(LOG_LEVEL_INFO, msg, f, 2);
    } else {
        log_kv(LOG_LEVEL_INFO, "Trace export disabled", NULL, 0);
    }
    log_kv(LOG_LEVEL_INFO, "Init instrumentation done", NULL, 0);
    if (!c->open_metrics)
        log_kv(LOG_LEVEL_INFO, "OpenMetrics disabled", NULL, 0);
    for (size_t i = 0; i < c->nwarnings; i++)
        log_kv(LOG_LEVEL_WARN, c->warnings[i], (struct log_field[]){LOG_STR("event", "config")}, 1);
}

static void log_listening(const struct app *a)
{
    char msg[512];
    unsigned port = gen_server_port(a->srv);
    if (a->cfg.bind_address)
        snprintf(msg, sizeof(msg), "Launching ho11y: I am [%s] listening on port :%u on %s.",
                 a->cfg.service_name, port, a->cfg.bind_address);
    else
        snprintf(msg, sizeof(msg),
                 "Launching ho11y: I am [%s] listening on port :%u on all local IPs.",
                 a->cfg.service_name, port);
    struct log_field f[] = {LOG_STR("event", "listening"), LOG_INT("port", port),
                            LOG_STR("service", a->cfg.service_name),
                            LOG_INT("threads", a->cfg.threads)};
    log_kv(LOG_LEVEL_INFO, msg, f, sizeof(f) / sizeof(f[0]));
}

static int start(struct app *a)
{
    char err[256];
    struct gen_config *c = &a->cfg;
    if (gethostname(a->hostname, sizeof(a->hostname)) != 0)
        snprintf(a->hostname, sizeof(a->hostname), "unknown");
    a->hostname[sizeof(a->hostname) - 1] = '\0';
    a->reg = metrics_registry_new();
    gen_instruments_init(&a->ins, a->reg);
    gen_process_metrics_register(a->reg);
    if (start_exporter(a)) {
        log_kv(LOG_LEVEL_ERROR, "cannot start the span exporter", NULL, 0);
        return 1;
    }
    if (gen_downstream_configured(c)) {
        unsigned loops = c->threads < 4 ? c->threads : 4;
        a->ds = gen_downstream_new(c, a->exp, &a->ins, loops);
        if (!a->ds) {
            log_kv(LOG_LEVEL_ERROR, "cannot start the downstream call threads", NULL, 0);
            return 1;
        }
    }
    a->handler = gen_handler_new(c, a->exp, &a->ins, a->ds);
    log_startup(a);
    struct gen_server_options so = {c->port,           c->bind_address,
                                    c->threads,        c->max_connections,
                                    c->idle_timeout_s, c->open_metrics};
    a->srv = gen_server_start(&so, a->handler, a->reg, err, sizeof(err));
    if (!a->srv) {
        struct log_field f[] = {LOG_STR("event", "listening"), LOG_INT("port", c->port)};
        log_kv(LOG_LEVEL_ERROR, err, f, 2);
        return 1;
    }
    if (c->load_target) {
        struct gen_load_options lo = {.target = c->load_target,
                                      .rate = c->load_rate,
                                      .concurrency = c->load_concurrency,
                                      .duration_ns = c->load_duration_ns,
                                      .requests = c->load_requests,
                                      .timeout_ns = c->downstream_timeout_ns,
                                      .connect_to = c->connect_to,
                                      .nconnect_to = c->nconnect_to};
        char msg[2200];
        snprintf(msg, sizeof(msg), "Load mode: sending %g requests per second to %s", c->load_rate,
                 c->load_target);
        struct log_field f[] = {LOG_INT("concurrency", c->load_concurrency),
                                LOG_STR("event", "load"), LOG_INT("requests", c->load_requests)};
        log_kv(LOG_LEVEL_INFO, msg, f, c->load_requests ? 3 : 2);
        a->load = gen_load_start(&lo, a->reg);
        if (!a->load) {
            log_kv(LOG_LEVEL_ERROR, "cannot start the load driver", NULL, 0);
            return 1;
        }
    }
    log_listening(a);
    return 0;
}

/* Waits for SIGTERM or SIGINT, refreshing the random metrics every 5 s meanwhile. */
static int wait_for_signal(struct app *a, const sigset_t *set)
{
    for (;;) {
        struct timespec ts = {RANDVAL_PERIOD_S, 0};
        gen_instruments_randomize(&a->ins);
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
    }
}

static void shutdown_app(struct app *a, int sig)
{
    int64_t budget = a->cfg.shutdown_timeout_ns;
    int64_t t0 = gen_mono_ns();
    struct log_field f[] = {LOG_STR("event", "shutdown"),
                            LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")};
    log_kv(LOG_LEVEL_INFO, "Shutting down: no new connections, finishing requests", f, 2);
    gen_server_quiesce(a->srv);
    gen_load_stop(a->load, budget / 2);
    a->load = NULL;
    bool drained = gen_server_drain(a->srv, budget - (gen_mono_ns() - t0));
    /* Past the budget, calls still running are aborted; their requests are then answered. */
    gen_downstream_free(a->ds);
    a->ds = NULL;
    if (!drained)
        gen_server_drain(a->srv, 1000000000LL);
    gen_server_stop(a->srv);
    a->srv = NULL;
    int64_t left = budget - (gen_mono_ns() - t0);
    gen_exporter_shutdown(a->exp, left > 1000000000LL ? left : 1000000000LL);
    struct gen_exporter_stats st;
    gen_exporter_stats(a->exp, &st);
    struct log_field g[] = {
        LOG_BOOL("drained", drained), LOG_STR("event", "shutdown"),
        LOG_INT("spans_dropped",
                st.dropped_queue_full + st.dropped_export_failed + st.dropped_shutdown),
        LOG_INT("spans_exported", st.exported), LOG_INT("spans_rejected", st.rejected)};
    log_kv(LOG_LEVEL_INFO, "Stopped", g, sizeof(g) / sizeof(g[0]));
}

static void cleanup(struct app *a)
{
    gen_load_stop(a->load, 0);
    gen_server_stop(a->srv);
    gen_downstream_free(a->ds);
    gen_handler_free(a->handler);
    gen_exporter_free(a->exp);
    metrics_registry_free(a->reg);
    gen_config_cleanup(&a->cfg);
}

static const char usage[] =
    "Usage: ho11y [--help | --version]\n"
    "\n"
    "ho11y, the synthetic signal generator, takes no arguments: it is configured by environment\n"
    "variables only, and serves GET / (a traced request), /metrics and /healthz until SIGTERM\n"
    "or SIGINT. Every variable is described in docs/generator.md; the main ones:\n"
    "\n"
    "  HO11Y_PORT                   port to listen on (default 8765, 0 = any free port)\n"
    "  DOWNSTREAM0..DOWNSTREAM15    URL or DUMMY:<size>:<duration> to call on each request\n"
    "  OTEL_SERVICE_NAME            service name (upstream: OTEL_RESOURCE_ATTRIB)\n"
    "  OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP collector base URL (default http://localhost:4318)\n"
    "  HO11Y_FAILURE_RATE           percent of requests that fail (HO11Y_FAILURE_CODES)\n"
    "  HO11Y_LATENCY                added latency, FIXED[+JITTER], e.g. 40ms+10ms\n"
    "  HO11Y_CUTOFF_TPS             answer 429 above this many requests per second\n"
    "  HO11Y_LOAD_TARGET            load mode: URL to send HO11Y_LOAD_RATE requests/s to\n"
    "  HO11Y_LOG_LEVEL              debug, info, warn, error or off\n"
    "\n"
    "A malformed value stops start-up with exit status 2 and a message naming the variable.\n";

/*
 * Answers --help and --version. Anything else is refused rather than ignored: the upstream
 * ho11y takes no arguments, so an argument here can only be a mistake. Returns -1 when the
 * server should start, otherwise the exit status.
 */
static int handle_args(int argc, char **argv)
{
    bool help, version;
    if (argc < 2)
        return -1;
    help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    version = strcmp(argv[1], "--version") == 0;
    if (argc == 2 && help) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && version) {
        printf("ho11y %s\n", HO11Y_VERSION);
        return 0;
    }
    fprintf(stderr,
            "ho11y: unexpected argument '%s': configuration comes from environment variables "
            "only (see ho11y --help)\n",
            argv[help || version ? 2 : 1]);
    return 2;
}

int main(int argc, char **argv)
{
    static struct app a;
    char err[512];
    sigset_t set;
    int status = handle_args(argc, argv);
    if (status >= 0)
        return status;
    status = 0;
    /* Fewer malloc arenas: a small, steady RSS matters more here than allocator scaling. */
    mallopt(M_ARENA_MAX, 2);
    /* A fixed threshold (glibc's moves up to the largest block freed) keeps the exporter's
     * batch bodies in their own mappings, returned to the system when a batch has been sent. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    ho11y_alloc_init();
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, xmalloc, free, xrealloc, xstrdup, xcalloc)) {
        fprintf(stderr, "fatal: curl_global_init failed\n");
        return 1;
    }
    log_configure(LOG_LEVEL_INFO, LOG_FORMAT_JSON, 2);
    if (gen_config_load(&a.cfg, NULL, err, sizeof(err))) {
        struct log_field f[] = {LOG_STR("event", "config")};
        log_kv(LOG_LEVEL_ERROR, err, f, 1);
        curl_global_cleanup();
        return 2;
    }
    log_configure(a.cfg.log_level, a.cfg.log_format, a.cfg.log_fd);
    /* Signals are taken synchronously by the main thread; every other thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (start(&a) == 0)
        shutdown_app(&a, wait_for_signal(&a, &set));
    else
        status = 1;
    cleanup(&a);
    curl_global_cleanup();
    return status;
}
