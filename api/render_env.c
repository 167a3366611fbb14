/*
 * Container environments: what each generator, and the load driver, is told through env
 * (DESIGN §4), and the endpoints and URLs those values are built from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/render_internal.h"
#include "api/topo_internal.h"
#include "common/alloc.h"
#include "common/units.h"

static void env_add(cJSON *env, const char *name, const char *value)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "value", value);
    cJSON_AddItemToArray(env, e);
}

char *topo_service_url(const struct topo_service *s)
{
    long long port = topo_service_port(s);
    if (port == 80)
        return xasprintf("http://%s", s->name);
    return xasprintf("http://%s:%lld", s->name, port);
}

void topo_collector_endpoints(const struct topology *t, char **grpc, char **traces_url)
{
    const struct topo_collector *c = &t->collector;
    char *host;
    long long grpc_port = TOPO_OTLP_GRPC_PORT, http_port = TOPO_OTLP_HTTP_PORT;
    if (topo_collector_mode(t) == TOPO_COLLECTOR_EXTERNAL) {
        host = xstrdup(c->external_host ? c->external_host : "");
        if (c->external_grpc_port.set)
            grpc_port = c->external_grpc_port.value;
        if (c->external_http_port.set)
            http_port = c->external_http_port.value;
    } else {
        host = xasprintf("%s%s", t->name ? t->name : "", TOPO_COLLECTOR_SUFFIX);
    }
    if (grpc)
        *grpc = xasprintf("%s:%lld", host, grpc_port);
    if (traces_url)
        *traces_url = xasprintf("http://%s:%lld%s", host, http_port, TOPO_OTLP_TRACES_PATH);
    free(host);
}

/* The URL callers use for service name (an override, or the in-cluster default). */
static char *callee_url(const struct topology *t, const char *name, const struct topo_env_opts *o)
{
    if (o && o->service_url) {
        const char *url = o->service_url(o->service_url_arg, name);
        if (url)
            return xstrdup(url);
    }
    long i = topo_service_index(t, name);
    if (i < 0)
        return xasprintf("http://%s", name);
    return topo_service_url(&t->services[i]);
}

/* Adds the telemetry variables common to generators and the load driver. */
static void env_telemetry(cJSON *env, const struct topology *t, const char *service_name,
                          const struct topo_env_opts *o)
{
    char *grpc = NULL, *traces = NULL;
    topo_collector_endpoints(t, &grpc, &traces);
    env_add(env, TOPO_ENV_RESOURCE_ATTRIB, service_name);
    env_add(env, TOPO_ENV_SERVICE_NAME, service_name);
    env_add(env, TOPO_ENV_OTLP_ENDPOINT, o && o->otlp_grpc_endpoint ? o->otlp_grpc_endpoint : grpc);
    env_add(env, TOPO_ENV_OTLP_TRACES, o && o->otlp_traces_url ? o->otlp_traces_url : traces);
    free(grpc);
    free(traces);
}

static int failures_on(const struct topo_service *s)
{
    long long rate = s->failure_rate.set ? s->failure_rate.value : TOPO_DEFAULT_FAILURE_RATE;
    return s->has_failure && rate > 0;
}

static int latency_on(const struct topo_service *s)
{
    int64_t fixed = 0, jitter = 0;
    if (!s->has_latency)
        return 0;
    if (s->latency_fixed && ho11y_duration_parse(s->latency_fixed, &fixed) != HO11Y_OK)
        fixed = 0;
    if (s->latency_jitter && ho11y_duration_parse(s->latency_jitter, &jitter) != HO11Y_OK)
        jitter = 0;
    return fixed > 0 || jitter > 0;
}

static void env_downstreams(cJSON *env, const struct topology *t, const struct topo_service *s,
                            const struct topo_env_opts *o)
{
    for (size_t i = 0; i < s->ncalls; i++) {
        const struct topo_call *c = &s->calls[i];
        char name[32];
        char *value;
        snprintf(name, sizeof(name), "%s%zu", TOPO_ENV_DOWNSTREAM_PREFIX, i);
        if (c->service)
            value = callee_url(t, c->service, o);
        else if (c->url)
            value = xstrdup(c->url);
        else
            value = xasprintf("%s%s:%s", TOPO_DUMMY_PREFIX,
                              c->dummy_size ? c->dummy_size : TOPO_DEFAULT_DUMMY_SIZE,
                              c->dummy_duration ? c->dummy_duration : TOPO_DEFAULT_DURATION);
        env_add(env, name, value);
        free(value);
    }
}

static void env_knobs(cJSON *env, const struct topo_service *s)
{
    char num[32];
    if (failures_on(s)) {
        static const long long defaults[] = TOPO_DEFAULT_FAILURE_CODES;
        const long long *codes = s->failure_codes_set ? s->failure_codes : defaults;
        size_t n = s->failure_codes_set ? s->nfailure_codes : sizeof(defaults) / sizeof(*defaults);
        char list[TOPO_MAX_FAILURE_CODES * 8 + 8] = "";
        size_t len = 0;
        snprintf(num, sizeof(num), "%lld",
                 s->failure_rate.set ? s->failure_rate.value : TOPO_DEFAULT_FAILURE_RATE);
        env_add(env, TOPO_ENV_FAILURE_RATE, num);
        for (size_t i = 0; i < n && i < TOPO_MAX_FAILURE_CODES; i++) {
            int w = snprintf(list + len, sizeof(list) - len, "%s%lld", i ? "," : "", codes[i]);
            if (w < 0 || (size_t)w >= sizeof(list) - len)
                break;
            len += (size_t)w;
        }
        env_add(env, TOPO_ENV_FAILURE_CODES, list);
    }
    if (latency_on(s)) {
        /* "<fixed>", or "<fixed>+<jitter>" when there is jitter (the generator reads both). */
        const char *fixed = s->latency_fixed ? s->latency_fixed : TOPO_DEFAULT_DURATION;
        int64_t jitter = 0;
        char *v;
        if (s->latency_jitter && ho11y_duration_parse(s->latency_jitter, &jitter) == HO11Y_OK &&
            jitter > 0)
            v = xasprintf("%s+%s", fixed, s->latency_jitter);
        else
            v = xstrdup(fixed);
        env_add(env, TOPO_ENV_LATENCY, v);
        free(v);
    }
    if (s->parallel.set && s->parallel.value)
        env_add(env, TOPO_ENV_PARALLEL, "true");
    /* Upstream ho11y turns throttling on whenever the variable parses, even as 0. */
    if (s->cutoff_tps.set && s->cutoff_tps.value > 0) {
        snprintf(num, sizeof(num), "%lld", s->cutoff_tps.value);
        env_add(env, TOPO_ENV_CUTOFF_TPS, num);
    }
}

cJSON *topo_service_env(const struct topology *t, size_t index, const struct topo_env_opts *o)
{
    const struct topo_service *s = &t->services[index];
    cJSON *env = cJSON_CreateArray();
    env_add(env, TOPO_ENV_DISABLE_OM, "on");
    env_add(env, TOPO_ENV_LOG_DEST, "stdout");
    env_telemetry(env, t, s->name, o);
    if (failures_on(s))
        env_add(env, TOPO_ENV_INJECT_FAILURE, "enabled");
    env_downstreams(env, t, s, o);
    env_knobs(env, s);
    for (size_t i = 0; i < s->nenv; i++) {
        const struct topo_env_var *e = &s->env[i];
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "name", e->name ? e->name : "");
        if (e->value_from)
            cJSON_AddItemToObject(item, "valueFrom", render__sorted_copy(e->value_from));
        else
            cJSON_AddStringToObject(item, "value", e->value ? e->value : "");
        cJSON_AddItemToArray(env, item);
    }
    return env;
}

cJSON *topo_load_env(const struct topology *t, const struct topo_env_opts *o)
{
    if (!t->load.set || !t->load.target)
        return NULL;
    cJSON *env = cJSON_CreateArray();
    char *name = xasprintf("%s%s", t->name ? t->name : "", TOPO_LOAD_SUFFIX);
    char *url = callee_url(t, t->load.target, o);
    size_t n = strlen(url);
    char *target = xasprintf("%s%s", url, n && url[n - 1] == '/' ? "" : "/");
    char rate[32];
    snprintf(rate, sizeof(rate), "%lld",
             t->load.rate.set ? t->load.rate.value : (long long)TOPO_DEFAULT_LOAD_RATE);
    env_add(env, TOPO_ENV_LOG_DEST, "stdout");
    env_telemetry(env, t, name, o);
    env_add(env, TOPO_ENV_LOAD_TARGET, target);
    env_add(env, TOPO_ENV_LOAD_RATE, rate);
    free(name);
    free(url);
    free(target);
    return env;
}
