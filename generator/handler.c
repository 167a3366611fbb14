#include "generator/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/units.h"
#include "generator/propagation.h"
#include "generator/throttle.h"

struct gen_handler {
    const struct gen_config *cfg;
    struct gen_exporter *exp;
    struct gen_instruments *ins;
    struct gen_downstream *ds;
    bool throttling;
    struct gen_throttle throttle;
};

struct gen_request {
    struct gen_trace_context ctx;
    uint8_t span_id[GEN_SPAN_ID_LEN];
    char xray_id[GEN_XRAY_ID_LEN + 1];
    int64_t start_ns, start_mono;
    int status;
    char body[64];
    size_t body_len;
    char peer_addr[64];
    char user_agent[256];
    unsigned local_port;
    int64_t latency_ns;
    bool calls;
    void (*resume)(void *);
    void *resume_arg;
};

struct gen_handler *gen_handler_new(const struct gen_config *cfg, struct gen_exporter *exp,
                                    struct gen_instruments *ins, struct gen_downstream *ds)
{
    struct gen_handler *h = xcalloc(1, sizeof(*h));
    h->cfg = cfg;
    h->exp = exp;
    h->ins = ins;
    h->ds = ds;
    h->throttling = cfg->cutoff_tps > 0;
    gen_throttle_init(&h->throttle, cfg->cutoff_tps);
    return h;
}

void gen_handler_free(struct gen_handler *h)
{
    if (!h)
        return;
    gen_throttle_cleanup(&h->throttle);
    free(h);
}

static void copy_str(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

static void log_throttle(double tps, long cutoff)
{
    char got[48], limit[48], msg[160];
    ho11y_float_format(tps, false, got, sizeof(got));
    ho11y_float_format((double)cutoff, false, limit, sizeof(limit));
    snprintf(msg, sizeof(msg), "Throttle engaged, got %s TPS with a %s TPS cutoff point", got,
             limit);
    log_kv(LOG_LEVEL_INFO, msg, NULL, 0);
}

static void log_invoke(const struct gen_request *r, unsigned peer_port)
{
    if (!LOG_ENABLED(LOG_LEVEL_INFO))
        return;
    char remote[80];
    if (strchr(r->peer_addr, ':'))
        snprintf(remote, sizeof(remote), "[%s]:%u", r->peer_addr, peer_port);
    else
        snprintf(remote, sizeof(remote), "%s:%u", r->peer_addr, peer_port);
    struct log_field f[] = {LOG_STR("event", "invoke"), LOG_STR("remote", remote),
                            LOG_STR("traceID", r->xray_id)};
    log_kv(LOG_LEVEL_INFO, "ho11y was invoked", f, sizeof(f) / sizeof(f[0]));
}

/* The status of this request: 429, an injected failure, or 200. */
static int choose_status(struct gen_handler *h)
{
    const struct gen_config *cfg = h->cfg;
    double tps = 0;
    if (h->throttling && gen_throttle_check(&h->throttle, gen_mono_ns(), &tps)) {
        log_throttle(tps, cfg->cutoff_tps);
        return 429;
    }
    if (cfg->failure_percent > 0 && cfg->nfailure_codes &&
        gen_rand_unit() * 100.0 < cfg->failure_percent)
        return cfg->failure_codes[gen_rand_u64() % cfg->nfailure_codes];
    return 200;
}

static void on_calls_done(void *arg)
{
    struct gen_request *r = arg;
    r->resume(r->resume_arg);
}

struct gen_request *gen_handler_begin(struct gen_handler *h, const struct gen_request_info *info,
                                      bool *wait)
{
    const struct gen_config *cfg = h->cfg;
    struct gen_request *r = xmalloc(sizeof(*r));
    r->start_ns = gen_now_ns();
    r->start_mono = gen_mono_ns();
    metrics_gauge_add(h->ins->in_flight, 1);
    gen_propagation_extract(info->traceparent, info->tracestate, info->xray, &r->ctx);
    if (r->ctx.source == GEN_PROP_NONE)
        gen_trace_id_new(r->ctx.trace_id, r->start_ns / 1000000000);
    gen_span_id_new(r->span_id);
    gen_xray_id_format(r->ctx.trace_id, r->xray_id);
    copy_str(r->peer_addr, sizeof(r->peer_addr), info->peer_addr);
    copy_str(r->user_agent, sizeof(r->user_agent), info->user_agent);
    r->local_port = info->local_port;
    r->resume = NULL;
    r->resume_arg = NULL;
    r->status = choose_status(h);
    r->body_len = 0;
    r->body[0] = '\0';
    r->latency_ns = 0;
    r->calls = false;
    metrics_inc(gen_instruments_total(h->ins, r->status));
    *wait = false;
    if (r->status == 429)
        return r; /* throttled requests neither wait nor call */
    if (r->status == 200) {
        log_invoke(r, info->peer_port);
        int n = snprintf(r->body, sizeof(r->body), "{\"traceId\":\"%s\"}", r->xray_id);
        r->body_len = (size_t)n;
    }
    r->latency_ns = cfg->latency_fixed_ns;
    if (cfg->latency_jitter_ns > 0)
        r->latency_ns += (int64_t)(gen_rand_unit() * (double)(cfg->latency_jitter_ns + 1));
    r->calls = r->status == 200 && cfg->ndownstreams > 0;
    *wait = h->ds && (r->calls || r->latency_ns > 0);
    return r;
}

void gen_handler_run(struct gen_handler *h, struct gen_request *r, void (*resume)(void *),
                     void *resume_arg)
{
    struct gen_call_ctx call = {
        .tracestate = r->ctx.tracestate,
        .xray_extra = r->ctx.xray_extra,
        .xray_id = r->xray_id,
        .latency_ns = r->latency_ns,
        .call_downstreams = r->calls,
        .done = on_calls_done,
        .arg = r,
    };
    r->resume = resume;
    r->resume_arg = resume_arg;
    memcpy(call.trace_id, r->ctx.trace_id, GEN_TRACE_ID_LEN);
    memcpy(call.parent_id, r->span_id, GEN_SPAN_ID_LEN);
    gen_downstream_run(h->ds, &call);
}

int gen_request_status(const struct gen_request *r)
{
    return r->status;
}

const char *gen_request_body(const struct gen_request *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

void gen_handler_finish(struct gen_handler *h, struct gen_request *r)
{
    if (!r)
        return;
    if (gen_exporter_enabled(h->exp)) {
        char status_msg[32];
        struct gen_span s;
        memset(&s, 0, sizeof(s));
        memcpy(s.trace_id, r->ctx.trace_id, GEN_TRACE_ID_LEN);
        memcpy(s.span_id, r->span_id, GEN_SPAN_ID_LEN);
        if (r->ctx.source != GEN_PROP_NONE && r->ctx.has_parent) {
            memcpy(s.parent_id, r->ctx.parent_id, GEN_SPAN_ID_LEN);
            s.has_parent = true;
        }
        s.trace_state = r->ctx.tracestate;
        s.name = "GET /";
        s.kind = GEN_SPAN_KIND_SERVER;
        s.start_ns = r->start_ns;
        s.end_ns = gen_now_ns();
        gen_span_attr_str(&s, "http.request.method", "GET");
        gen_span_attr_str(&s, "http.method", "GET");
        gen_span_attr_str(&s, "url.path", "/");
        gen_span_attr_str(&s, "http.target", "/");
        gen_span_attr_str(&s, "http.route", "/");
        gen_span_attr_str(&s, "url.scheme", "http");
        gen_span_attr_int(&s, "server.port", r->local_port);
        if (r->peer_addr[0]) {
            gen_span_attr_str(&s, "client.address", r->peer_addr);
            gen_span_attr_str(&s, "net.peer.ip", r->peer_addr);
        }
        if (r->user_agent[0]) {
            gen_span_attr_str(&s, "user_agent.original", r->user_agent);
            gen_span_attr_str(&s, "http.user_agent", r->user_agent);
        }
        gen_span_attr_int(&s, "http.response.status_code", r->status);
        gen_span_attr_int(&s, "http.status_code", r->status);
        /* Server spans: only 5xx are errors (4xx are the client's); the X-Ray exporter derives
         * error/throttle/fault flags from the status code attribute anyway. */
        if (r->status >= 500) {
            snprintf(status_msg, sizeof(status_msg), "HTTP %d", r->status);
            s.status = GEN_STATUS_ERROR;
            s.status_message = status_msg;
        }
        gen_exporter_submit_span(h->exp, &s);
    }
    metrics_observe(h->ins->request_duration, (double)(gen_mono_ns() - r->start_mono) / 1e9);
    metrics_gauge_add(h->ins->in_flight, -1);
    free(r);
}
