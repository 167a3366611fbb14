#include "generator/downstream.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "generator/loop.h"
#include "generator/propagation.h"

struct invocation;

struct call {
    struct invocation *inv;
    const struct gen_downstream_spec *spec;
    CURL *easy;
    struct curl_slist *headers;
    uint64_t bytes;
    int64_t start_ns, start_mono;
    uint8_t span_id[GEN_SPAN_ID_LEN];
    char errbuf[CURL_ERROR_SIZE];
};

struct invocation {
    struct gen_downstream *ds;
    struct gen_loop *loop;
    struct gen_call_ctx ctx;
    size_t next;    /* sequential mode: the call to start next */
    size_t pending; /* parallel mode: calls still running (+1 while starting them) */
    size_t ncalls;
    struct call calls[];
};

struct gen_downstream {
    const struct gen_config *cfg;
    struct gen_exporter *exp;
    struct gen_instruments *ins;
    struct gen_loop **loops;
    unsigned nloops;
    struct curl_slist *connect_to; /* HO11Y_CONNECT_TO; read-only once built */
    _Atomic unsigned next_loop;
    _Atomic unsigned in_flight;
};

static void start_call(struct invocation *inv, size_t i);

static void invocation_done(struct invocation *inv)
{
    struct gen_downstream *ds = inv->ds;
    inv->ctx.done(inv->ctx.arg);
    free(inv);
    atomic_fetch_sub(&ds->in_flight, 1);
}

/* One call ended (its span is already queued): go on with the next or finish. */
static void call_finished(struct call *c)
{
    struct invocation *inv = c->inv;
    if (inv->ds->cfg->parallel) {
        if (--inv->pending == 0)
            invocation_done(inv);
        return;
    }
    size_t next = (size_t)(c - inv->calls) + 1;
    if (next < inv->ncalls)
        start_call(inv, next);
    else
        invocation_done(inv);
}

static void span_begin(struct call *c, struct gen_span *s, const char *name,
                       enum gen_span_kind kind)
{
    const struct gen_call_ctx *ctx = &c->inv->ctx;
    memset(s, 0, sizeof(*s));
    memcpy(s->trace_id, ctx->trace_id, GEN_TRACE_ID_LEN);
    memcpy(s->span_id, c->span_id, GEN_SPAN_ID_LEN);
    memcpy(s->parent_id, ctx->parent_id, GEN_SPAN_ID_LEN);
    s->has_parent = true;
    s->trace_state = ctx->tracestate;
    s->name = name;
    s->kind = kind;
    s->start_ns = c->start_ns;
    s->end_ns = gen_now_ns();
}

static void log_downstream(const struct call *c, uint64_t bytes, double seconds)
{
    if (!LOG_ENABLED(LOG_LEVEL_INFO))
        return;
    char msg[2200];
    snprintf(msg, sizeof(msg), "ho11y invoked %s", c->spec->raw);
    struct log_field f[] = {LOG_INT("body_bytes", bytes), LOG_DBL("duration_sec", seconds),
                            LOG_STR("event", "downstream"),
                            LOG_STR("traceID", c->inv->ctx.xray_id)};
    log_kv(LOG_LEVEL_INFO, msg, f, sizeof(f) / sizeof(f[0]));
}

static void dummy_done(void *arg)
{
    struct call *c = arg;
    struct gen_downstream *ds = c->inv->ds;
    const struct gen_downstream_spec *spec = c->spec;
    double configured = (double)spec->dummy_ns / 1e9;
    if (gen_exporter_enabled(ds->exp)) {
        struct gen_span s;
        span_begin(c, &s, "DUMMY", GEN_SPAN_KIND_INTERNAL);
        gen_span_attr_str(&s, "ho11y.downstream", spec->raw);
        gen_span_attr_int(&s, "ho11y.downstream.slot", spec->slot);
        gen_span_attr_int(&s, "ho11y.dummy.size_bytes", (int64_t)spec->dummy_bytes);
        gen_span_attr_double(&s, "ho11y.dummy.duration_seconds", configured);
        gen_exporter_submit_span(ds->exp, &s);
    }
    /* As upstream: the payload is the configured size and the duration the configured sleep. */
    metrics_observe(metrics_child(ds->ins->payload, (const char *const[]){spec->raw}),
                    (double)spec->dummy_bytes);
    metrics_observe_exemplar(ds->ins->duration, configured, "traceid", c->inv->ctx.xray_id);
    log_downstream(c, spec->dummy_bytes, configured);
    call_finished(c);
}

static size_t count_bytes(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    struct call *c = arg;
    c->bytes += size * n;
    return size * n;
}

static const char *exception_type(const char *kind)
{
    if (strcmp(kind, "dns") == 0)
        return "DNSError";
    if (strcmp(kind, "connect") == 0)
        return "ConnectError";
    if (strcmp(kind, "timeout") == 0)
        return "TimeoutError";
    if (strcmp(kind, "tls") == 0)
        return "TLSError";
    return "NetworkError";
}

static void url_done(void *arg, CURLcode cc)
{
    struct call *c = arg;
    struct gen_downstream *ds = c->inv->ds;
    const struct gen_downstream_spec *spec = c->spec;
    long code = 0;
    double seconds = (double)(gen_mono_ns() - c->start_mono) / 1e9;
    const char *kind = cc == CURLE_OK ? NULL : gen_curl_error_kind(cc);
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
    char status_msg[64], code_str[8];
    if (cc == CURLE_OK)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (gen_exporter_enabled(ds->exp)) {
        struct gen_span s;
        span_begin(c, &s, "GET", GEN_SPAN_KIND_CLIENT);
        gen_span_attr_str(&s, "peer.service", spec->peer);
        gen_span_attr_str(&s, "http.request.method", "GET");
        gen_span_attr_str(&s, "http.method", "GET");
        gen_span_attr_str(&s, "url.full", spec->url);
        gen_span_attr_str(&s, "http.url", spec->url);
        gen_span_attr_str(&s, "server.address", spec->peer);
        if (code) {
            gen_span_attr_int(&s, "http.response.status_code", code);
            gen_span_attr_int(&s, "http.status_code", code);
        }
        if (kind) {
            s.status = GEN_STATUS_ERROR;
            s.status_message = why;
            gen_span_attr_str(&s, "error.type", kind);
            s.has_exception = true;
            s.exception_ns = s.end_ns;
            s.exception_type = exception_type(kind);
            s.exception_message = why;
        } else if (code >= 400) {
            snprintf(status_msg, sizeof(status_msg), "HTTP %ld", code);
            snprintf(code_str, sizeof(code_str), "%ld", code);
            s.status = GEN_STATUS_ERROR;
            s.status_message = status_msg;
            gen_span_attr_str(&s, "error.type", code_str);
        }
        gen_exporter_submit_span(ds->exp, &s);
    }
    if (kind) {
        metrics_inc(
            metrics_child(ds->ins->downstream_errors, (const char *const[]){spec->raw, kind}));
        char msg[2200];
        snprintf(msg, sizeof(msg), "HTTP GET to %s failed", spec->url);
        struct log_field f[] = {LOG_DBL("duration_sec", seconds), LOG_STR("error", why),
                                LOG_STR("event", "downstream"), LOG_STR("reason", kind),
                                LOG_STR("traceID", c->inv->ctx.xray_id)};
        log_kv(LOG_LEVEL_ERROR, msg, f, sizeof(f) / sizeof(f[0]));
    } else {
        metrics_observe(metrics_child(ds->ins->payload, (const char *const[]){spec->raw}),
                        (double)c->bytes);
        metrics_observe_exemplar(ds->ins->duration, seconds, "traceid", c->inv->ctx.xray_id);
        log_downstream(c, c->bytes, seconds);
    }
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    gen_loop_easy_release(c->inv->loop, c->easy);
    c->easy = NULL;
    call_finished(c);
}

static struct curl_slist *trace_headers(const struct call *c)
{
    const struct gen_call_ctx *ctx = &c->inv->ctx;
    char line[64 + GEN_XRAY_HEADER_OUT + GEN_TRACESTATE_MAX];
    char value[GEN_XRAY_HEADER_OUT];
    struct curl_slist *h = NULL;
    gen_traceparent_format(ctx->trace_id, c->span_id, true, value);
    snprintf(line, sizeof(line), "traceparent: %s", value);
    h = curl_slist_append(h, line);
    if (ctx->tracestate && *ctx->tracestate) {
        snprintf(line, sizeof(line), "tracestate: %s", ctx->tracestate);
        h = curl_slist_append(h, line);
    }
    if (gen_xray_header_format(ctx->trace_id, c->span_id, true, ctx->xray_extra, value,
                               sizeof(value)) == HO11Y_OK) {
        snprintf(line, sizeof(line), "X-Amzn-Trace-Id: %s", value);
        h = curl_slist_append(h, line);
    }
    return h;
}

static void start_call(struct invocation *inv, size_t i)
{
    struct call *c = &inv->calls[i];
    const struct gen_config *cfg = inv->ds->cfg;
    c->inv = inv;
    c->spec = &cfg->downstreams[i];
    c->start_ns = gen_now_ns();
    c->start_mono = gen_mono_ns();
    c->bytes = 0;
    c->errbuf[0] = '\0';
    gen_span_id_new(c->span_id);
    if (c->spec->type == GEN_DOWNSTREAM_DUMMY) {
        gen_loop_timer(inv->loop, c->spec->dummy_ns, dummy_done, c);
        return;
    }
    long timeout_ms = (long)(cfg->downstream_timeout_ns / 1000000);
    c->headers = trace_headers(c);
    c->easy = gen_loop_easy(inv->loop);
    curl_easy_setopt(c->easy, CURLOPT_URL, c->spec->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, count_bytes);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "ho11y/" HO11Y_VERSION);
    curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
    if (inv->ds->connect_to)
        curl_easy_setopt(c->easy, CURLOPT_CONNECT_TO, inv->ds->connect_to);
    gen_loop_transfer(inv->loop, c->easy, url_done, c);
}

static void start_calls(void *arg)
{
    struct invocation *inv = arg;
    if (!inv->ctx.call_downstreams || inv->ncalls == 0) {
        invocation_done(inv);
        return;
    }
    if (!inv->ds->cfg->parallel) {
        start_call(inv, 0);
        return;
    }
    /* The extra count keeps inv alive while calls that end at once are still being started. */
    inv->pending = inv->ncalls + 1;
    for (size_t i = 0; i < inv->ncalls; i++)
        start_call(inv, i);
    if (--inv->pending == 0)
        invocation_done(inv);
}

static void begin(void *arg)
{
    struct invocation *inv = arg;
    if (inv->ctx.latency_ns > 0)
        gen_loop_timer(inv->loop, inv->ctx.latency_ns, start_calls, inv);
    else
        start_calls(inv);
}

bool gen_downstream_configured(const struct gen_config *cfg)
{
    return cfg->ndownstreams > 0 || cfg->latency_fixed_ns > 0 || cfg->latency_jitter_ns > 0;
}

void gen_downstream_run(struct gen_downstream *ds, const struct gen_call_ctx *ctx)
{
    size_t n = ds->cfg->ndownstreams;
    struct invocation *inv = xcalloc(1, sizeof(*inv) + n * sizeof(struct call));
    inv->ds = ds;
    inv->ctx = *ctx;
    inv->ncalls = n;
    unsigned idx = atomic_fetch_add(&ds->next_loop, 1) % ds->nloops;
    inv->loop = ds->loops[idx];
    atomic_fetch_add(&ds->in_flight, 1);
    gen_loop_post(inv->loop, begin, inv);
}

unsigned gen_downstream_in_flight(struct gen_downstream *ds)
{
    return ds ? atomic_load(&ds->in_flight) : 0;
}

struct gen_downstream *gen_downstream_new(const struct gen_config *cfg, struct gen_exporter *exp,
                                          struct gen_instruments *ins, unsigned nloops)
{
    struct gen_downstream *ds = xcalloc(1, sizeof(*ds));
    ds->cfg = cfg;
    ds->exp = exp;
    ds->ins = ins;
    ds->nloops = nloops ? nloops : 1;
    ds->loops = xcalloc(ds->nloops, sizeof(*ds->loops));
    for (size_t i = 0; i < cfg->nconnect_to; i++)
        ds->connect_to = curl_slist_append(ds->connect_to, cfg->connect_to[i]);
    for (unsigned i = 0; i < ds->nloops; i++) {
        char name[16];
        snprintf(name, sizeof(name), "calls-%u", i % 100);
        ds->loops[i] = gen_loop_new(name);
        if (!ds->loops[i]) {
            gen_downstream_free(ds);
            return NULL;
        }
    }
    return ds;
}

void gen_downstream_free(struct gen_downstream *ds)
{
    if (!ds)
        return;
    for (unsigned i = 0; i < ds->nloops; i++)
        gen_loop_free(ds->loops[i]);
    free(ds->loops);
    curl_slist_free_all(ds->connect_to);
    free(ds);
}
