/*
 * Validation of the parts of a Topology that are copied into Deployments as Kubernetes types:
 * container resources (a ResourceRequirements subset) and env valueFrom (an EnvVarSource).
 * They are kept as JSON, so the checks here cover shape as well as content.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/topo_internal.h"

static void shape_error(const cJSON *v, const char *path, const char *type,
                        struct field_errors *errs)
{
    char repr[1024];
    topo__value_repr(v, repr, sizeof(repr));
    field_errors_add(errs, FIELD_ERR_INVALID, path, repr, "must be of type %s", type);
}

static void unknown_fields(const cJSON *obj, const char *path, const char *const *known,
                           struct field_errors *errs)
{
    topo__check_unknown(obj, path, known, TOPO_PARSE_STRICT, errs);
}

static void check_quantity(const cJSON *v, const char *path, struct field_errors *errs)
{
    if (cJSON_IsNumber(v)) {
        /* An int-or-string, as in the CRD: 0.5 must be written "500m" or "0.5". */
        if (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9007199254740992.0)
            shape_error(v, path, "integer or string", errs);
        else if (v->valuedouble < 0)
            field_errors_add_int(errs, FIELD_ERR_INVALID, path, (long long)v->valuedouble,
                                 "must be greater than or equal to 0");
        return;
    }
    if (!cJSON_IsString(v)) {
        shape_error(v, path, "integer or string", errs);
        return;
    }
    const char *why = topo__quantity(v->valuestring);
    if (why)
        field_errors_add_str(errs, FIELD_ERR_INVALID, path, v->valuestring, "%s", why);
    else if (v->valuestring[0] == '-' && strspn(v->valuestring, "-+0.") != strlen(v->valuestring))
        field_errors_add_str(errs, FIELD_ERR_INVALID, path, v->valuestring,
                             "must be greater than or equal to 0");
}

void topo__validate_resources(const cJSON *res, const char *path, struct field_errors *errs)
{
    static const char *const known[] = {"limits", "requests", NULL};
    static const char *const lists[] = {"limits", "requests"};
    unknown_fields(res, path, known, errs);
    for (size_t i = 0; i < 2; i++) {
        const cJSON *m = topo__member(res, lists[i]);
        char p[TOPO_PATH_MAX];
        topo__path_key(p, path, lists[i]);
        if (!m)
            continue;
        if (!cJSON_IsObject(m)) {
            shape_error(m, p, "object", errs);
            continue;
        }
        for (const cJSON *c = m->child; c; c = c->next) {
            char ip[TOPO_PATH_MAX];
            topo__path_key(ip, p, c->string);
            const char *why = topo__qualified_name(c->string);
            if (why)
                field_errors_add_str(errs, FIELD_ERR_INVALID, ip, c->string, "%s", why);
            if (!cJSON_IsNull(c))
                check_quantity(c, ip, errs);
        }
    }
}

/* A required string member; returns it or NULL (with the error added). */
static const char *need_string(const cJSON *obj, const char *key, const char *path,
                               struct field_errors *errs)
{
    char p[TOPO_PATH_MAX];
    const cJSON *v = topo__member(obj, key);
    topo__path_key(p, path, key);
    if (!v || (cJSON_IsString(v) && !*v->valuestring)) {
        field_errors_add(errs, FIELD_ERR_REQUIRED, p, NULL, NULL);
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        shape_error(v, p, "string", errs);
        return NULL;
    }
    return v->valuestring;
}

static void optional_type(const cJSON *obj, const char *key, const char *path, int want_bool,
                          struct field_errors *errs)
{
    char p[TOPO_PATH_MAX];
    const cJSON *v = topo__member(obj, key);
    topo__path_key(p, path, key);
    if (v && want_bool && !cJSON_IsBool(v))
        shape_error(v, p, "boolean", errs);
    else if (v && !want_bool && !cJSON_IsString(v))
        shape_error(v, p, "string", errs);
}

static void check_key_ref(const cJSON *ref, const char *path, struct field_errors *errs)
{
    static const char *const known[] = {"name", "key", "optional", NULL};
    unknown_fields(ref, path, known, errs);
    const char *name = need_string(ref, "name", path, errs);
    if (name && topo__dns1123_subdomain(name)) {
        char p[TOPO_PATH_MAX];
        topo__path_key(p, path, "name");
        field_errors_add_str(errs, FIELD_ERR_INVALID, p, name, "%s", topo__dns1123_subdomain(name));
    }
    const char *key = need_string(ref, "key", path, errs);
    if (key && (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") !=
                    strlen(key) ||
                strlen(key) > 253)) {
        char p[TOPO_PATH_MAX];
        topo__path_key(p, path, "key");
        field_errors_add_str(errs, FIELD_ERR_INVALID, p, key,
                             "a valid config key must consist of alphanumeric characters, '-', "
                             "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                             "regex used for validation is '[-._a-zA-Z0-9]+')");
    }
    optional_type(ref, "optional", path, 1, errs);
}

void topo__validate_env_from(const cJSON *from, const char *path, struct field_errors *errs)
{
    static const char *const known[] = {"fieldRef", "resourceFieldRef", "configMapKeyRef",
                                        "secretKeyRef", NULL};
    unknown_fields(from, path, known, errs);
    int sources = 0;
    for (size_t i = 0; known[i]; i++)
        sources += topo__member(from, known[i]) != NULL;
    if (sources == 0) {
        field_errors_add(errs, FIELD_ERR_INVALID, path, "\"\"",
                         "must specify one of: `fieldRef`, `resourceFieldRef`, "
                         "`configMapKeyRef` or `secretKeyRef`");
        return;
    }
    if (sources > 1) {
        field_errors_add(errs, FIELD_ERR_INVALID, path, "\"\"",
                         "may not have more than one field specified at a time");
        return;
    }
    char p[TOPO_PATH_MAX];
    const cJSON *v;
    if ((v = topo__member(from, "fieldRef"))) {
        static const char *const known_f[] = {"fieldPath", "apiVersion", NULL};
        topo__path_key(p, path, "fieldRef");
        if (!cJSON_IsObject(v)) {
            shape_error(v, p, "object", errs);
            return;
        }
        unknown_fields(v, p, known_f, errs);
        need_string(v, "fieldPath", p, errs);
        optional_type(v, "apiVersion", p, 0, errs);
    } else if ((v = topo__member(from, "resourceFieldRef"))) {
        static const char *const known_r[] = {"resource", "containerName", "divisor", NULL};
        topo__path_key(p, path, "resourceFieldRef");
        if (!cJSON_IsObject(v)) {
            shape_error(v, p, "object", errs);
            return;
        }
        unknown_fields(v, p, known_r, errs);
        need_string(v, "resource", p, errs);
        optional_type(v, "containerName", p, 0, errs);
        const cJSON *div = topo__member(v, "divisor");
        if (div) {
            char dp[TOPO_PATH_MAX];
            topo__path_key(dp, p, "divisor");
            check_quantity(div, dp, errs);
        }
    } else {
        const char *key =
            topo__member(from, "configMapKeyRef") ? "configMapKeyRef" : "secretKeyRef";
        v = topo__member(from, key);
        topo__path_key(p, path, key);
        if (!cJSON_IsObject(v)) {
            shape_error(v, p, "object", errs);
            return;
        }
        check_key_ref(v, p, errs);
    }
}
