/*
 * Reading spec.services: each service, its calls, failure and latency settings, extra env and
 * pod metadata. Lists longer than the API allows are reported here ("Too many") and only their
 * allowed prefix is kept, so the memory a hostile document can make us hold stays bounded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"
#include "api/topology.h"
#include "common/alloc.h"

/* Returns the array obj[key] or NULL; a wrong type is reported. */
static const cJSON *read_array(const cJSON *obj, const char *key, const char *parent,
                               struct field_errors *errs)
{
    const cJSON *v = topo__member(obj, key);
    if (!v || cJSON_IsArray(v))
        return v;
    char p[TOPO_PATH_MAX], repr[1024];
    topo__path_key(p, parent, key);
    topo__value_repr(v, repr, sizeof(repr));
    field_errors_add(errs, FIELD_ERR_INVALID, p, repr, "must be of type array");
    return NULL;
}

/* The number of items to keep of arr: all, or max after reporting "Too many". */
static size_t bounded_count(const cJSON *arr, size_t max, const char *path,
                            struct field_errors *errs)
{
    size_t n = 0;
    for (const cJSON *c = arr->child; c; c = c->next)
        n++;
    if (n <= max)
        return n;
    field_errors_add_int(errs, FIELD_ERR_TOO_MANY, path, (long long)n,
                         "must have at most %zu items", max);
    return max;
}

static void parse_call(const cJSON *item, const char *path, unsigned flags, struct topo_call *c,
                       struct field_errors *errs)
{
    static const char *const known[] = {"service", "url", "dummy", NULL};
    static const char *const known_dummy[] = {"size", "duration", NULL};
    if (!topo__expect_object(item, path, errs))
        return;
    topo__check_unknown(item, path, known, flags, errs);
    c->service = topo__read_string(item, "service", path, errs);
    c->url = topo__read_string(item, "url", path, errs);
    const cJSON *d = topo__member(item, "dummy");
    char p[TOPO_PATH_MAX];
    topo__path_key(p, path, "dummy");
    if (!d || !topo__expect_object(d, p, errs))
        return;
    c->has_dummy = 1;
    topo__check_unknown(d, p, known_dummy, flags, errs);
    /* The size is an int-or-string: 1024 means bytes, as "1024" does. */
    const cJSON *size = topo__member(d, "size");
    if (cJSON_IsNumber(size) && isfinite(size->valuedouble) &&
        size->valuedouble == floor(size->valuedouble) && fabs(size->valuedouble) < 1e18) {
        c->dummy_size = xasprintf("%lld", (long long)size->valuedouble);
    } else if (size && !cJSON_IsString(size)) {
        char sp[TOPO_PATH_MAX], repr[1024];
        topo__path_key(sp, p, "size");
        topo__value_repr(size, repr, sizeof(repr));
        field_errors_add(errs, FIELD_ERR_INVALID, sp, repr, "must be of type integer or string");
    } else {
        c->dummy_size = topo__read_string(d, "size", p, errs);
    }
    c->dummy_duration = topo__read_string(d, "duration", p, errs);
}

static void parse_failure(const cJSON *svc, const char *path, unsigned flags,
                          struct topo_service *s, struct field_errors *errs)
{
    static const char *const known[] = {"rate", "codes", NULL};
    char p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
    const cJSON *f = topo__member(svc, "failure");
    topo__path_key(p, path, "failure");
    if (!f || !topo__expect_object(f, p, errs))
        return;
    s->has_failure = 1;
    topo__check_unknown(f, p, known, flags, errs);
    topo__read_int(f, "rate", p, &s->failure_rate, errs);
    const cJSON *codes = read_array(f, "codes", p, errs);
    if (!codes)
        return;
    topo__path_key(q, p, "codes");
    size_t n = bounded_count(codes, TOPO_MAX_FAILURE_CODES, q, errs);
    s->failure_codes_set = 1;
    s->failure_codes = xcalloc(n ? n : 1, sizeof(*s->failure_codes));
    const cJSON *c = codes->child;
    for (size_t i = 0; i < n; i++, c = c->next) {
        char ip[TOPO_PATH_MAX];
        topo__path_index(ip, q, i);
        if (cJSON_IsNumber(c) && c->valuedouble == floor(c->valuedouble) &&
            fabs(c->valuedouble) < 1e9) {
            s->failure_codes[s->nfailure_codes++] = (long long)c->valuedouble;
        } else {
            char repr[1024];
            topo__value_repr(c, repr, sizeof(repr));
            field_errors_add(errs, FIELD_ERR_INVALID, ip, repr, "must be of type integer");
        }
    }
}

static void parse_latency(const cJSON *svc, const char *path, unsigned flags,
                          struct topo_service *s, struct field_errors *errs)
{
    static const char *const known[] = {"fixed", "jitter", NULL};
    char p[TOPO_PATH_MAX];
    const cJSON *l = topo__member(svc, "latency");
    topo__path_key(p, path, "latency");
    if (!l || !topo__expect_object(l, p, errs))
        return;
    s->has_latency = 1;
    topo__check_unknown(l, p, known, flags, errs);
    s->latency_fixed = topo__read_string(l, "fixed", p, errs);
    s->latency_jitter = topo__read_string(l, "jitter", p, errs);
}

static void parse_env(const cJSON *svc, const char *path, unsigned flags, struct topo_service *s,
                      struct field_errors *errs)
{
    static const char *const known[] = {"name", "value", "valueFrom", NULL};
    char p[TOPO_PATH_MAX];
    const cJSON *env = read_array(svc, "env", path, errs);
    if (!env)
        return;
    topo__path_key(p, path, "env");
    size_t n = bounded_count(env, TOPO_MAX_ENV, p, errs);
    s->env = xcalloc(n ? n : 1, sizeof(*s->env));
    const cJSON *item = env->child;
    for (size_t i = 0; i < n; i++, item = item->next) {
        char ip[TOPO_PATH_MAX];
        topo__path_index(ip, p, i);
        struct topo_env_var *e = &s->env[s->nenv++];
        if (!topo__expect_object(item, ip, errs))
            continue;
        topo__check_unknown(item, ip, known, flags, errs);
        e->name = topo__read_string(item, "name", ip, errs);
        e->value = topo__read_string(item, "value", ip, errs);
        e->value_from = topo__read_object_copy(item, "valueFrom", ip, errs);
    }
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct topo_kv *)a)->key, ((const struct topo_kv *)b)->key);
}

/* Reads a map of strings (podLabels, podAnnotations), sorted by key. */
static void parse_string_map(const cJSON *svc, const char *key, const char *path,
                             struct topo_kv **out, size_t *count, struct field_errors *errs)
{
    char p[TOPO_PATH_MAX];
    const cJSON *m = topo__member(svc, key);
    topo__path_key(p, path, key);
    if (!m || !topo__expect_object(m, p, errs))
        return;
    size_t n = bounded_count(m, TOPO_MAX_LABELS, p, errs);
    *out = xcalloc(n ? n : 1, sizeof(**out));
    const cJSON *c = m->child;
    for (size_t i = 0; i < n; i++, c = c->next) {
        if (cJSON_IsNull(c))
            continue; /* the API server prunes null map values before validation */
        if (!cJSON_IsString(c)) {
            char ip[TOPO_PATH_MAX], repr[1024];
            topo__path_key(ip, p, c->string);
            topo__value_repr(c, repr, sizeof(repr));
            field_errors_add(errs, FIELD_ERR_INVALID, ip, repr, "must be of type string");
            continue;
        }
        (*out)[*count].key = xstrdup(c->string);
        (*out)[*count].value = xstrdup(c->valuestring);
        (*count)++;
    }
    qsort(*out, *count, sizeof(**out), kv_cmp);
}

static void parse_service(const cJSON *item, const char *path, unsigned flags,
                          struct topo_service *s, struct field_errors *errs)
{
    static const char *const known[] = {
        "name",  "replicas", "port",      "failure",   "latency",        "cutoffTPS", "parallel",
        "calls", "env",      "resources", "podLabels", "podAnnotations", NULL};
    if (!topo__expect_object(item, path, errs))
        return;
    topo__check_unknown(item, path, known, flags, errs);
    s->name = topo__read_string(item, "name", path, errs);
    topo__read_int(item, "replicas", path, &s->replicas, errs);
    topo__read_int(item, "port", path, &s->port, errs);
    parse_failure(item, path, flags, s, errs);
    parse_latency(item, path, flags, s, errs);
    topo__read_int(item, "cutoffTPS", path, &s->cutoff_tps, errs);
    topo__read_bool(item, "parallel", path, &s->parallel, errs);
    const cJSON *calls = read_array(item, "calls", path, errs);
    if (calls) {
        char p[TOPO_PATH_MAX];
        topo__path_key(p, path, "calls");
        size_t n = bounded_count(calls, TOPO_MAX_CALLS, p, errs);
        s->calls = xcalloc(n ? n : 1, sizeof(*s->calls));
        const cJSON *c = calls->child;
        for (size_t i = 0; i < n; i++, c = c->next) {
            char ip[TOPO_PATH_MAX];
            topo__path_index(ip, p, i);
            parse_call(c, ip, flags, &s->calls[s->ncalls++], errs);
        }
    }
    parse_env(item, path, flags, s, errs);
    s->resources = topo__read_object_copy(item, "resources", path, errs);
    parse_string_map(item, "podLabels", path, &s->pod_labels, &s->npod_labels, errs);
    parse_string_map(item, "podAnnotations", path, &s->pod_annotations, &s->npod_annotations, errs);
}

void topo__parse_services(const cJSON *spec, const char *path, unsigned flags, struct topology *t,
                          struct field_errors *errs)
{
    char p[TOPO_PATH_MAX];
    const cJSON *arr = read_array(spec, "services", path, errs);
    if (!arr)
        return;
    topo__path_key(p, path, "services");
    size_t n = bounded_count(arr, TOPO_MAX_SERVICES, p, errs);
    t->services = xcalloc(n ? n : 1, sizeof(*t->services));
    const cJSON *item = arr->child;
    for (size_t i = 0; i < n; i++, item = item->next) {
        char ip[TOPO_PATH_MAX];
        topo__path_index(ip, p, i);
        parse_service(item, ip, flags, &t->services[t->nservices++], errs);
    }
}
