/*
 * Validation of one service (replicas, port, failures, latency, calls, env, pod metadata,
 * resources) and of the call graph as a whole (references and cycles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"
#include "api/topology.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/units.h"

#define DURATION_HINT "must be a Go duration such as 42ms, 1.5s or 1m"
#define SIZE_HINT     "must be a size such as 187kB, 13kB or 64MiB (binary units)"

static void check_range(struct field_errors *errs, const char *path, const struct topo_opt_int *v,
                        long long lo, long long hi)
{
    if (v->set && (v->value < lo || v->value > hi))
        field_errors_add_int(errs, FIELD_ERR_INVALID, path, v->value,
                             "must be between %lld and %lld, inclusive", lo, hi);
}

static void check_duration(const char *value, const char *path, struct field_errors *errs)
{
    int64_t ns = 0;
    if (!value)
        return;
    if (strlen(value) > 64) {
        field_errors_add(errs, FIELD_ERR_TOO_LONG, path, NULL, "may not be more than 64 bytes");
        return;
    }
    enum ho11y_err result = ho11y_duration_parse(value, &ns);
    if (result == HO11Y_INVAL)
        field_errors_add_str(errs, FIELD_ERR_INVALID, path, value, DURATION_HINT);
    else if (result || ns > TOPO_MAX_DURATION_NS)
        field_errors_add_str(errs, FIELD_ERR_INVALID, path, value, "must be at most %s",
                             TOPO_MAX_DURATION_TEXT);
}

static void check_failure(const struct topo_service *s, const char *base, struct field_errors *errs)
{
    char p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
    if (!s->has_failure)
        return;
    topo__path_key(p, base, "failure");
    topo__path_key(q, p, "rate");
    check_range(errs, q, &s->failure_rate, 0, 100);
    topo__path_key(q, p, "codes");
    topo__path_index(p, q, 0);
    /* An error at codes[0] means the list had items, all of the wrong type. */
    if (s->failure_codes_set && s->nfailure_codes == 0 && !field_errors_has(errs, q) &&
        !field_errors_has(errs, p))
        field_errors_add(errs, FIELD_ERR_REQUIRED, q, NULL, "at least one status code");
    for (size_t i = 0; i < s->nfailure_codes; i++) {
        char ip[TOPO_PATH_MAX];
        long long code = s->failure_codes[i];
        topo__path_index(ip, q, i);
        if (code < 100 || code > 599)
            field_errors_add_int(errs, FIELD_ERR_INVALID, ip, code,
                                 "must be between 100 and 599, inclusive");
        for (size_t j = 0; j < i; j++) {
            if (s->failure_codes[j] == code) {
                field_errors_add_int(errs, FIELD_ERR_DUPLICATE, ip, code, NULL);
                break;
            }
        }
    }
}

static void check_call(const struct topology *t, size_t si, size_t ci, struct field_errors *errs)
{
    const struct topo_service *s = &t->services[si];
    const struct topo_call *c = &s->calls[ci];
    char base[TOPO_PATH_MAX], cp[TOPO_PATH_MAX], p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
    topo__path_index(base, "spec.services", si);
    topo__path_key(p, base, "calls");
    topo__path_index(cp, p, ci);
    if (field_errors_has(errs, cp))
        return; /* not an object */
    int kinds = (c->service != NULL) + (c->url != NULL) + c->has_dummy;
    if (kinds != 1) {
        field_errors_add(errs, FIELD_ERR_INVALID, cp, "\"object\"",
                         "must set exactly one of service, url or dummy");
        return;
    }
    if (c->service) {
        topo__path_key(p, cp, "service");
        if (s->name && strcmp(c->service, s->name) == 0)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, c->service,
                                 "a service may not call itself (the requests would loop "
                                 "forever)");
        else if (topo_service_index(t, c->service) < 0)
            field_errors_add_str(errs, FIELD_ERR_NOT_FOUND, p, c->service, NULL);
    } else if (c->url) {
        topo__path_key(p, cp, "url");
        const char *why = topo__http_url(c->url);
        if (strlen(c->url) > TOPO_MAX_URL_LEN)
            field_errors_add(errs, FIELD_ERR_TOO_LONG, p, NULL, "may not be more than %d bytes",
                             TOPO_MAX_URL_LEN);
        else if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, c->url, "%s", why);
    } else {
        topo__path_key(p, cp, "dummy");
        topo__path_key(q, p, "size");
        uint64_t bytes = 0;
        if (c->dummy_size) {
            enum ho11y_err result = ho11y_size_parse(c->dummy_size, &bytes);
            if (result == HO11Y_INVAL)
                field_errors_add_str(errs, FIELD_ERR_INVALID, q, c->dummy_size, SIZE_HINT);
            else if (result || bytes > TOPO_MAX_DUMMY_SIZE)
                field_errors_add_str(errs, FIELD_ERR_INVALID, q, c->dummy_size,
                                     "must be at most %s", TOPO_MAX_DUMMY_SIZE_TEXT);
        }
        topo__path_key(q, p, "duration");
        check_duration(c->dummy_duration, q, errs);
    }
}

static void check_env(const struct topo_service *s, const char *base, struct field_errors *errs)
{
    char p[TOPO_PATH_MAX];
    topo__path_key(p, base, "env");
    for (size_t i = 0; i < s->nenv; i++) {
        const struct topo_env_var *e = &s->env[i];
        char ip[TOPO_PATH_MAX], np[TOPO_PATH_MAX], vp[TOPO_PATH_MAX];
        topo__path_index(ip, p, i);
        if (field_errors_has(errs, ip))
            continue;
        topo__path_key(np, ip, "name");
        if (!e->name || !*e->name) {
            if (!field_errors_has(errs, np))
                field_errors_add(errs, FIELD_ERR_REQUIRED, np, NULL, NULL);
        } else if (strlen(e->name) > 256) {
            field_errors_add(errs, FIELD_ERR_TOO_LONG, np, NULL, "may not be more than 256 bytes");
        } else if (topo__env_name(e->name)) {
            field_errors_add_str(errs, FIELD_ERR_INVALID, np, e->name, "%s",
                                 topo__env_name(e->name));
        } else if (topo__env_reserved(e->name)) {
            field_errors_add(errs, FIELD_ERR_FORBIDDEN, np, NULL,
                             "%s is set by the operator and may not be overridden", e->name);
        } else {
            for (size_t j = 0; j < i; j++) {
                if (s->env[j].name && strcmp(s->env[j].name, e->name) == 0) {
                    field_errors_add_str(errs, FIELD_ERR_DUPLICATE, np, e->name, NULL);
                    break;
                }
            }
        }
        topo__path_key(vp, ip, "value");
        if (e->value && strlen(e->value) > 32768)
            field_errors_add(errs, FIELD_ERR_TOO_LONG, vp, NULL,
                             "may not be more than 32768 bytes");
        topo__path_key(vp, ip, "valueFrom");
        if (e->value_from && e->value && *e->value)
            field_errors_add(errs, FIELD_ERR_INVALID, vp, "\"\"",
                             "may not be specified when `value` is not empty");
        else if (e->value_from)
            topo__validate_env_from(e->value_from, vp, errs);
    }
}

/* Keys the operator sets on pods (labels) or owns by prefix. */
static int label_reserved(const char *key)
{
    static const char *const keys[] = {TOPO_LABEL_APP,       TOPO_LABEL_MANAGED_BY,
                                       TOPO_LABEL_PART_OF,   TOPO_LABEL_INSTANCE,
                                       TOPO_LABEL_COMPONENT, NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return strncmp(key, TOPO_RESERVED_KEY_PREFIX, strlen(TOPO_RESERVED_KEY_PREFIX)) == 0;
}

static void check_pod_meta(const struct topo_service *s, const char *base,
                           struct field_errors *errs)
{
    char p[TOPO_PATH_MAX], kp[TOPO_PATH_MAX];
    topo__path_key(p, base, "podLabels");
    for (size_t i = 0; i < s->npod_labels; i++) {
        const struct topo_kv *kv = &s->pod_labels[i];
        const char *why = topo__qualified_name(kv->key);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, kv->key, "%s", why);
        else if (label_reserved(kv->key))
            field_errors_add(errs, FIELD_ERR_FORBIDDEN, p, NULL, "label %s is set by the operator",
                             kv->key);
        why = topo__label_value(kv->value);
        topo__path_key(kp, p, kv->key);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, kp, kv->value, "%s", why);
    }
    topo__path_key(p, base, "podAnnotations");
    for (size_t i = 0; i < s->npod_annotations; i++) {
        const struct topo_kv *kv = &s->pod_annotations[i];
        const char *why = topo__qualified_name(kv->key);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, kv->key, "%s", why);
        else if (strncmp(kv->key, TOPO_RESERVED_KEY_PREFIX, strlen(TOPO_RESERVED_KEY_PREFIX)) == 0)
            field_errors_add(errs, FIELD_ERR_FORBIDDEN, p, NULL,
                             "annotation %s is set by the operator", kv->key);
        topo__path_key(kp, p, kv->key);
        if (strlen(kv->value) > TOPO_MAX_ANNOTATION_VALUE)
            field_errors_add(errs, FIELD_ERR_TOO_LONG, kp, NULL, "may not be more than %d bytes",
                             TOPO_MAX_ANNOTATION_VALUE);
    }
}

void topo__validate_service(const struct topology *t, size_t index, struct field_errors *errs)
{
    const struct topo_service *s = &t->services[index];
    char base[TOPO_PATH_MAX], p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
    topo__path_index(base, "spec.services", index);
    if (field_errors_has(errs, base))
        return;
    topo__path_key(p, base, "replicas");
    check_range(errs, p, &s->replicas, 0, TOPO_MAX_REPLICAS);
    topo__path_key(p, base, "port");
    check_range(errs, p, &s->port, 1, 65535);
    check_failure(s, base, errs);
    if (s->has_latency) {
        topo__path_key(p, base, "latency");
        topo__path_key(q, p, "fixed");
        check_duration(s->latency_fixed, q, errs);
        topo__path_key(q, p, "jitter");
        check_duration(s->latency_jitter, q, errs);
    }
    topo__path_key(p, base, "cutoffTPS");
    check_range(errs, p, &s->cutoff_tps, 0, TOPO_MAX_CUTOFF_TPS);
    topo__path_key(p, base, "calls");
    if (s->ncalls > TOPO_MAX_CALLS)
        field_errors_add_int(errs, FIELD_ERR_TOO_MANY, p, (long long)s->ncalls,
                             "must have at most %d items", TOPO_MAX_CALLS);
    for (size_t i = 0; i < s->ncalls; i++)
        check_call(t, index, i, errs);
    check_env(s, base, errs);
    if (s->resources) {
        topo__path_key(p, base, "resources");
        topo__validate_resources(s->resources, p, errs);
    }
    check_pod_meta(s, base, errs);
}

/*
 * Depth-first search for cycles. Each back edge closes a cycle and is reported at the call that
 * closes it, with the cycle spelled out. Self-calls are reported by check_call already.
 */
struct dfs {
    const struct topology *t;
    unsigned char *state; /* 0 new, 1 on the stack, 2 done */
    size_t *stack;
    size_t depth;
    struct field_errors *errs;
};

static void dfs_visit(struct dfs *d, size_t v)
{
    const struct topo_service *s = &d->t->services[v];
    d->state[v] = 1;
    d->stack[d->depth++] = v;
    for (size_t ci = 0; ci < s->ncalls; ci++) {
        const struct topo_call *c = &s->calls[ci];
        if (!c->service || c->url || c->has_dummy)
            continue;
        long w = topo_service_index(d->t, c->service);
        if (w < 0 || (size_t)w == v)
            continue;
        if (d->state[w] == 0) {
            dfs_visit(d, (size_t)w);
        } else if (d->state[w] == 1) {
            char base[TOPO_PATH_MAX], p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
            struct hbuf cycle;
            size_t from = 0;
            hbuf_init(&cycle, 4096);
            while (d->stack[from] != (size_t)w)
                from++;
            for (size_t k = from; k < d->depth; k++)
                hbuf_addf(&cycle, "%s -> ", d->t->services[d->stack[k]].name);
            hbuf_adds(&cycle, c->service);
            topo__path_index(base, "spec.services", v);
            topo__path_key(q, base, "calls");
            topo__path_index(base, q, ci);
            topo__path_key(p, base, "service");
            field_errors_add_str(d->errs, FIELD_ERR_INVALID, p, c->service,
                                 "call cycle %s (the requests would loop forever)",
                                 hbuf_str(&cycle));
            hbuf_cleanup(&cycle);
        }
    }
    d->depth--;
    d->state[v] = 2;
}

void topo__validate_graph(const struct topology *t, struct field_errors *errs)
{
    if (t->nservices == 0)
        return;
    struct dfs d = {.t = t, .errs = errs};
    d.state = xcalloc(t->nservices, 1);
    d.stack = xcalloc(t->nservices, sizeof(*d.stack));
    for (size_t i = 0; i < t->nservices; i++) {
        /* Only the first of duplicate names takes part (references resolve to it). */
        if (t->services[i].name && topo_service_index(t, t->services[i].name) == (long)i &&
            d.state[i] == 0)
            dfs_visit(&d, i);
    }
    free(d.state);
    free(d.stack);
}
