/*
 * Reading a Topology from a cJSON tree: the object, metadata, spec, collector and load parts.
 * Services are read in topo_parse_service.c. Reading only checks types (and unknown fields in
 * strict mode); the rules are checked by topo_validate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"
#include "api/topology.h"
#include "common/alloc.h"

/* Appends at most max bytes of s to out (TOPO_PATH_MAX bytes), keeping it terminated. */
static void path_cat(char *out, size_t *len, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n > TOPO_PATH_MAX - 1 - *len)
        n = TOPO_PATH_MAX - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

void topo__path_key(char *out, const char *parent, const char *key)
{
    size_t len = 0;
    out[0] = '\0';
    if (parent && *parent) {
        path_cat(out, &len, parent, TOPO_PATH_MAX);
        path_cat(out, &len, ".", 1);
    }
    /* A user's key can be huge (an unknown field); the path keeps its start. */
    path_cat(out, &len, key, 200);
}

void topo__path_index(char *out, const char *parent, size_t index)
{
    char num[32];
    size_t len = 0;
    snprintf(num, sizeof(num), "[%zu]", index);
    out[0] = '\0';
    path_cat(out, &len, parent, TOPO_PATH_MAX);
    path_cat(out, &len, num, sizeof(num));
}

void topo__value_repr(const cJSON *v, char *out, size_t outlen)
{
    if (cJSON_IsString(v))
        field_value_quote(v->valuestring, out, outlen);
    else if (cJSON_IsNumber(v)) {
        /* The shortest form that reads back as the same number. */
        snprintf(out, outlen, "%.15g", v->valuedouble);
        if (strtod(out, NULL) != v->valuedouble)
            snprintf(out, outlen, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v))
        snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(out, outlen, "null");
    else if (cJSON_IsArray(v))
        snprintf(out, outlen, "\"array\"");
    else
        snprintf(out, outlen, "\"object\"");
}

static void type_error(const cJSON *v, const char *path, const char *type,
                       struct field_errors *errs)
{
    char repr[1024];
    topo__value_repr(v, repr, sizeof(repr));
    field_errors_add(errs, FIELD_ERR_INVALID, path, repr, "must be of type %s", type);
}

const cJSON *topo__member(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

int topo__expect_object(const cJSON *v, const char *path, struct field_errors *errs)
{
    if (cJSON_IsObject(v))
        return 1;
    type_error(v, path, "object", errs);
    return 0;
}

void topo__check_unknown(const cJSON *obj, const char *path, const char *const *known,
                         unsigned flags, struct field_errors *errs)
{
    if (!(flags & TOPO_PARSE_STRICT))
        return;
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], c->string) != 0)
            i++;
        if (!known[i]) {
            char p[TOPO_PATH_MAX];
            topo__path_key(p, path, c->string);
            field_errors_add(errs, FIELD_ERR_UNKNOWN_FIELD, p, NULL, NULL);
        }
    }
}

char *topo__read_string(const cJSON *obj, const char *key, const char *parent,
                        struct field_errors *errs)
{
    const cJSON *v = topo__member(obj, key);
    if (!v)
        return NULL;
    if (cJSON_IsString(v))
        return xstrdup(v->valuestring);
    char p[TOPO_PATH_MAX];
    topo__path_key(p, parent, key);
    type_error(v, p, "string", errs);
    return NULL;
}

void topo__read_int(const cJSON *obj, const char *key, const char *parent, struct topo_opt_int *out,
                    struct field_errors *errs)
{
    const cJSON *v = topo__member(obj, key);
    out->set = 0;
    out->value = 0;
    if (!v)
        return;
    /* 2^53: beyond it a double no longer holds every integer. */
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
        fabs(v->valuedouble) <= 9007199254740992.0) {
        out->set = 1;
        out->value = (long long)v->valuedouble;
        return;
    }
    char p[TOPO_PATH_MAX];
    topo__path_key(p, parent, key);
    type_error(v, p, "integer", errs);
}

void topo__read_bool(const cJSON *obj, const char *key, const char *parent,
                     struct topo_opt_bool *out, struct field_errors *errs)
{
    const cJSON *v = topo__member(obj, key);
    out->set = 0;
    out->value = 0;
    if (!v)
        return;
    if (cJSON_IsBool(v)) {
        out->set = 1;
        out->value = cJSON_IsTrue(v);
        return;
    }
    char p[TOPO_PATH_MAX];
    topo__path_key(p, parent, key);
    type_error(v, p, "boolean", errs);
}

cJSON *topo__read_object_copy(const cJSON *obj, const char *key, const char *parent,
                              struct field_errors *errs)
{
    const cJSON *v = topo__member(obj, key);
    if (!v)
        return NULL;
    char p[TOPO_PATH_MAX];
    topo__path_key(p, parent, key);
    if (!topo__expect_object(v, p, errs))
        return NULL;
    return cJSON_Duplicate(v, 1);
}

int topo_is_topology(const cJSON *obj)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    return cJSON_IsObject(obj) && cJSON_IsString(kind) && strcmp(kind->valuestring, TOPO_KIND) == 0;
}

static void parse_metadata(const cJSON *obj, struct topology *t, struct field_errors *errs)
{
    const cJSON *md = topo__member(obj, "metadata");
    if (!md) {
        field_errors_add(errs, FIELD_ERR_REQUIRED, "metadata.name", NULL, NULL);
        return;
    }
    if (!topo__expect_object(md, "metadata", errs))
        return;
    /* metadata is never checked for unknown fields: the API server adds many of its own. */
    t->name = topo__read_string(md, "name", "metadata", errs);
    t->namespace = topo__read_string(md, "namespace", "metadata", errs);
    t->uid = topo__read_string(md, "uid", "metadata", errs);
    topo__read_int(md, "generation", "metadata", &t->generation, errs);
}

static void parse_exporters(const cJSON *col, const char *path, unsigned flags,
                            struct topo_collector *c, struct field_errors *errs)
{
    static const char *const known[] = {"awsxray", "otlp", "debug", NULL};
    static const char *const known_toggle[] = {"enabled", NULL};
    static const char *const known_otlp[] = {"endpoint", "insecure", NULL};
    char p[TOPO_PATH_MAX], q[TOPO_PATH_MAX];
    const cJSON *ex = topo__member(col, "exporters");
    topo__path_key(p, path, "exporters");
    if (!ex || !topo__expect_object(ex, p, errs))
        return;
    topo__check_unknown(ex, p, known, flags, errs);
    const cJSON *v = topo__member(ex, "awsxray");
    topo__path_key(q, p, "awsxray");
    if (v && topo__expect_object(v, q, errs)) {
        topo__check_unknown(v, q, known_toggle, flags, errs);
        topo__read_bool(v, "enabled", q, &c->awsxray_enabled, errs);
    }
    v = topo__member(ex, "otlp");
    topo__path_key(q, p, "otlp");
    if (v && topo__expect_object(v, q, errs)) {
        topo__check_unknown(v, q, known_otlp, flags, errs);
        c->otlp_endpoint = topo__read_string(v, "endpoint", q, errs);
        topo__read_bool(v, "insecure", q, &c->otlp_insecure, errs);
    }
    v = topo__member(ex, "debug");
    topo__path_key(q, p, "debug");
    if (v && topo__expect_object(v, q, errs)) {
        topo__check_unknown(v, q, known_toggle, flags, errs);
        topo__read_bool(v, "enabled", q, &c->debug_enabled, errs);
    }
}

static void parse_collector(const cJSON *spec, unsigned flags, struct topo_collector *c,
                            struct field_errors *errs)
{
    static const char *const known[] = {
        "mode",    "external",  "image",     "replicas", "region", "serviceAccountName",
        "roleArn", "exporters", "resources", NULL};
    static const char *const known_ext[] = {"host", "grpcPort", "httpPort", NULL};
    const char *path = "spec.collector";
    const cJSON *col = topo__member(spec, "collector");
    if (!col || !topo__expect_object(col, path, errs))
        return;
    topo__check_unknown(col, path, known, flags, errs);
    c->mode = topo__read_string(col, "mode", path, errs);
    const cJSON *ext = topo__member(col, "external");
    if (ext && topo__expect_object(ext, "spec.collector.external", errs)) {
        const char *ep = "spec.collector.external";
        c->has_external = 1;
        topo__check_unknown(ext, ep, known_ext, flags, errs);
        c->external_host = topo__read_string(ext, "host", ep, errs);
        topo__read_int(ext, "grpcPort", ep, &c->external_grpc_port, errs);
        topo__read_int(ext, "httpPort", ep, &c->external_http_port, errs);
    }
    c->image = topo__read_string(col, "image", path, errs);
    topo__read_int(col, "replicas", path, &c->replicas, errs);
    c->region = topo__read_string(col, "region", path, errs);
    c->service_account_name = topo__read_string(col, "serviceAccountName", path, errs);
    c->role_arn = topo__read_string(col, "roleArn", path, errs);
    parse_exporters(col, path, flags, c, errs);
    c->resources = topo__read_object_copy(col, "resources", path, errs);
}

static void parse_load(const cJSON *spec, unsigned flags, struct topo_load *l,
                       struct field_errors *errs)
{
    static const char *const known[] = {"target", "rate", NULL};
    const cJSON *load = topo__member(spec, "load");
    if (!load || !topo__expect_object(load, "spec.load", errs))
        return;
    l->set = 1;
    topo__check_unknown(load, "spec.load", known, flags, errs);
    l->target = topo__read_string(load, "target", "spec.load", errs);
    topo__read_int(load, "rate", "spec.load", &l->rate, errs);
}

static void parse_spec(const cJSON *obj, unsigned flags, struct topology *t,
                       struct field_errors *errs)
{
    static const char *const known[] = {"image", "imagePullPolicy", "collector", "services", "load",
                                        NULL};
    const cJSON *spec = topo__member(obj, "spec");
    if (!spec) {
        field_errors_add(errs, FIELD_ERR_REQUIRED, "spec", NULL, NULL);
        return;
    }
    if (!topo__expect_object(spec, "spec", errs))
        return;
    topo__check_unknown(spec, "spec", known, flags, errs);
    t->image = topo__read_string(spec, "image", "spec", errs);
    t->image_pull_policy = topo__read_string(spec, "imagePullPolicy", "spec", errs);
    parse_collector(spec, flags, &t->collector, errs);
    topo__parse_services(spec, "spec", flags, t, errs);
    parse_load(spec, flags, &t->load, errs);
}

static void parse_type_meta(const cJSON *obj, struct field_errors *errs)
{
    const cJSON *av = topo__member(obj, "apiVersion");
    const cJSON *kind = topo__member(obj, "kind");
    if (!av)
        field_errors_add(errs, FIELD_ERR_REQUIRED, "apiVersion", NULL, NULL);
    else if (!cJSON_IsString(av))
        type_error(av, "apiVersion", "string", errs);
    else if (strcmp(av->valuestring, TOPO_API_VERSION) != 0)
        field_errors_add_str(errs, FIELD_ERR_NOT_SUPPORTED, "apiVersion", av->valuestring,
                             "supported values: \"%s\"", TOPO_API_VERSION);
    if (!kind)
        field_errors_add(errs, FIELD_ERR_REQUIRED, "kind", NULL, NULL);
    else if (!cJSON_IsString(kind))
        type_error(kind, "kind", "string", errs);
    else if (strcmp(kind->valuestring, TOPO_KIND) != 0)
        field_errors_add_str(errs, FIELD_ERR_NOT_SUPPORTED, "kind", kind->valuestring,
                             "supported values: \"%s\"", TOPO_KIND);
}

enum ho11y_err topo_parse(const cJSON *obj, unsigned flags, struct topology **out,
                          struct field_errors *errs)
{
    static const char *const known[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    size_t before = errs->count + errs->dropped;
    *out = NULL;
    if (!cJSON_IsObject(obj)) {
        type_error(obj, "<root>", "object", errs);
        return HO11Y_INVAL;
    }
    struct topology *t = xcalloc(1, sizeof(*t));
    parse_type_meta(obj, errs);
    topo__check_unknown(obj, "", known, flags, errs);
    parse_metadata(obj, t, errs);
    parse_spec(obj, flags, t, errs);
    /* status is the operator's to write; its shape is the CRD's business. */
    *out = t;
    return errs->count + errs->dropped > before ? HO11Y_VALIDATION : HO11Y_OK;
}

static void free_service(struct topo_service *s)
{
    free(s->name);
    free(s->failure_codes);
    free(s->latency_fixed);
    free(s->latency_jitter);
    for (size_t i = 0; i < s->ncalls; i++) {
        free(s->calls[i].service);
        free(s->calls[i].url);
        free(s->calls[i].dummy_size);
        free(s->calls[i].dummy_duration);
    }
    free(s->calls);
    for (size_t i = 0; i < s->nenv; i++) {
        free(s->env[i].name);
        free(s->env[i].value);
        cJSON_Delete(s->env[i].value_from);
    }
    free(s->env);
    cJSON_Delete(s->resources);
    for (size_t i = 0; i < s->npod_labels; i++) {
        free(s->pod_labels[i].key);
        free(s->pod_labels[i].value);
    }
    free(s->pod_labels);
    for (size_t i = 0; i < s->npod_annotations; i++) {
        free(s->pod_annotations[i].key);
        free(s->pod_annotations[i].value);
    }
    free(s->pod_annotations);
}

void topo_free(struct topology *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->namespace);
    free(t->uid);
    free(t->image);
    free(t->image_pull_policy);
    struct topo_collector *c = &t->collector;
    free(c->mode);
    free(c->external_host);
    free(c->image);
    free(c->region);
    free(c->service_account_name);
    free(c->role_arn);
    free(c->otlp_endpoint);
    cJSON_Delete(c->resources);
    for (size_t i = 0; i < t->nservices; i++)
        free_service(&t->services[i]);
    free(t->services);
    free(t->load.target);
    free(t);
}

enum ho11y_err topo_load(const cJSON *obj, const struct doc *doc, unsigned flags,
                         struct topology **out, struct field_errors *errs)
{
    struct topology *t = NULL;
    size_t before = errs->count + errs->dropped;
    *out = NULL;
    enum ho11y_err result = topo_parse(obj, flags, &t, errs);
    if (t) {
        topo_apply_defaults(t);
        topo_validate(t, errs);
    }
    if (errs->count + errs->dropped > before) {
        field_errors_locate(errs, doc);
        topo_free(t);
        return result == HO11Y_INVAL ? HO11Y_INVAL : HO11Y_VALIDATION;
    }
    *out = t;
    return HO11Y_OK;
}

enum topo_collector_mode topo_collector_mode(const struct topology *t)
{
    const char *m = t->collector.mode;
    return m && strcmp(m, "External") == 0 ? TOPO_COLLECTOR_EXTERNAL : TOPO_COLLECTOR_MANAGED;
}

long topo_service_index(const struct topology *t, const char *name)
{
    for (size_t i = 0; name && i < t->nservices; i++)
        if (t->services[i].name && strcmp(t->services[i].name, name) == 0)
            return (long)i;
    return -1;
}

long long topo_service_port(const struct topo_service *s)
{
    return s->port.set ? s->port.value : TOPO_DEFAULT_SERVICE_PORT;
}

size_t topo_call_count(const struct topology *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nservices; i++)
        n += t->services[i].ncalls;
    return n;
}
