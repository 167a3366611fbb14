#include "kube_config.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/doc.h"
#include "kube_util.h"

/* A kubeconfig is small; anything larger is a mistake or an attack. */
#define KUBECONFIG_MAX (4u << 20)

struct parse_ctx {
    char *err;
    size_t errlen;
    const char *dir;
};

static enum ho11y_err fail(struct parse_ctx *pc, enum ho11y_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ho11y_err fail(struct parse_ctx *pc, enum ho11y_err code, const char *fmt, ...)
{
    if (pc->err && pc->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pc->err, pc->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Reads an optional string field; HO11Y_CONFIG when present with another type. */
static enum ho11y_err get_str(struct parse_ctx *pc, const cJSON *obj, const char *key,
                              const char *where, const char **out)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return HO11Y_OK;
    if (!cJSON_IsString(v))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.%s: must be a string", where, key);
    if (v->valuestring[0])
        *out = v->valuestring;
    return HO11Y_OK;
}

static enum ho11y_err get_bool(struct parse_ctx *pc, const cJSON *obj, const char *key,
                               const char *where, int *out)
{
    *out = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return HO11Y_OK;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return HO11Y_OK;
    }
    if (cJSON_IsString(v) &&
        (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "false") == 0)) {
        *out = strcmp(v->valuestring, "true") == 0;
        return HO11Y_OK;
    }
    return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.%s: must be a boolean", where, key);
}

static enum ho11y_err get_b64(struct parse_ctx *pc, const cJSON *obj, const char *key,
                              const char *where, unsigned char **out, size_t *outlen)
{
    const char *s;
    enum ho11y_err result = get_str(pc, obj, key, where, &s);
    if (result || !s)
        return result;
    if (kube_base64_decode(s, strlen(s), out, outlen))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.%s: illegal base64 data", where, key);
    return HO11Y_OK;
}

/* Paths in a kubeconfig are relative to the file's folder. */
static char *resolve_path(struct parse_ctx *pc, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '/' || !pc->dir || !pc->dir[0])
        return xstrdup(p);
    return xasprintf("%s/%s", pc->dir, p);
}

/* Finds the entry of a named list (clusters, users, contexts) whose "name" is name. */
static const cJSON *find_named(const cJSON *root, const char *list, const char *name, int *index)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
            *index = i;
            return e;
        }
        i++;
    }
    return NULL;
}

static enum ho11y_err parse_cluster(struct parse_ctx *pc, const cJSON *c, const char *where,
                                    struct kube_config *out)
{
    const char *server, *ca;
    enum ho11y_err result;
    if (!cJSON_IsObject(c))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s: must be a mapping", where);
    if ((result = get_str(pc, c, "server", where, &server)) ||
        (result = get_str(pc, c, "certificate-authority", where, &ca)) ||
        (result =
             get_b64(pc, c, "certificate-authority-data", where, &out->ca_data, &out->ca_len)) ||
        (result = get_bool(pc, c, "insecure-skip-tls-verify", where, &out->insecure)))
        return result;
    if (!server)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.server: Required value", where);
    /* client-go refuses this combination too: which of the two was meant is unclear, and
     * silently dropping the CA would turn verification off for a kubeconfig that names one. */
    if (out->insecure && (ca || out->ca_data))
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.insecure-skip-tls-verify: Invalid value: true: specifying a "
                    "root certificates file with the insecure flag is not allowed",
                    where);
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.server: Invalid value: \"%s\": must be an http(s) URL", where,
                    server);
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    out->server = xstrndup(server, n);
    if (!out->ca_data)
        out->ca_file = resolve_path(pc, ca);
    return HO11Y_OK;
}

static enum ho11y_err parse_exec(struct parse_ctx *pc, const cJSON *e, const char *where,
                                 struct kube_config *out)
{
    const char *api, *cmd, *hint, *mode;
    enum ho11y_err result;
    char w[192];
    snprintf(w, sizeof(w), "%s.exec", where);
    if (!cJSON_IsObject(e))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s: must be a mapping", w);
    if ((result = get_str(pc, e, "apiVersion", w, &api)) ||
        (result = get_str(pc, e, "command", w, &cmd)) ||
        (result = get_str(pc, e, "installHint", w, &hint)) ||
        (result = get_str(pc, e, "interactiveMode", w, &mode)))
        return result;
    if (!cmd)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.command: Required value", w);
    if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
                 strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.apiVersion: Unsupported value: \"%s\": supported values: "
                    "\"client.authentication.k8s.io/v1\", \"client.authentication.k8s.io/v1beta1\"",
                    w, api ? api : "");
    if (!mode && strcmp(api, "client.authentication.k8s.io/v1") == 0)
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.interactiveMode: Required value: must be specified for %s", w,
                    api);
    if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0 &&
        strcmp(mode, "Always") != 0)
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.interactiveMode: Unsupported value: \"%s\": supported values: "
                    "\"Never\", \"IfAvailable\", \"Always\"",
                    w, mode);
    if (mode && strcmp(mode, "Always") == 0)
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.interactiveMode: Forbidden: \"Always\" needs a terminal and "
                    "the operator never has one",
                    w);
    struct kube_exec_config *x = xcalloc(1, sizeof(*x));
    out->exec = x;
    x->api_version = xstrdup(api);
    x->command = strchr(cmd, '/') ? resolve_path(pc, cmd) : xstrdup(cmd);
    x->install_hint = xstrdup(hint);
    if ((result = get_bool(pc, e, "provideClusterInfo", w, &x->provide_cluster_info)))
        return result;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
    if (args && !cJSON_IsNull(args)) {
        if (!cJSON_IsArray(args))
            return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.args: must be a list", w);
        x->args = xcalloc((size_t)cJSON_GetArraySize(args) + 1, sizeof(char *));
        const cJSON *a;
        cJSON_ArrayForEach(a, args)
        {
            if (!cJSON_IsString(a))
                return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.args[%zu]: must be a string", w,
                            x->nargs);
            x->args[x->nargs++] = xstrdup(a->valuestring);
        }
    }
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(e, "env");
    if (env && !cJSON_IsNull(env)) {
        if (!cJSON_IsArray(env))
            return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.env: must be a list", w);
        x->env = xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
        const cJSON *v;
        cJSON_ArrayForEach(v, env)
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "name");
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(v, "value");
            if (!cJSON_IsString(n) || !n->valuestring[0] || strchr(n->valuestring, '='))
                return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.env[%zu].name: Required value", w,
                            x->nenv);
            if (val && !cJSON_IsString(val))
                return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.env[%zu].value: must be a string", w,
                            x->nenv);
            x->env[x->nenv++] = xasprintf("%s=%s", n->valuestring, val ? val->valuestring : "");
        }
    }
    return HO11Y_OK;
}

static enum ho11y_err parse_user(struct parse_ctx *pc, const cJSON *u, const char *where,
                                 struct kube_config *out)
{
    const char *token, *token_file, *cert, *key;
    enum ho11y_err result;
    if (!cJSON_IsObject(u))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s: must be a mapping", where);
    if ((result = get_str(pc, u, "token", where, &token)) ||
        (result = get_str(pc, u, "tokenFile", where, &token_file)) ||
        (result = get_str(pc, u, "client-certificate", where, &cert)) ||
        (result = get_str(pc, u, "client-key", where, &key)) ||
        (result =
             get_b64(pc, u, "client-certificate-data", where, &out->cert_data, &out->cert_len)) ||
        (result = get_b64(pc, u, "client-key-data", where, &out->key_data, &out->key_len)))
        return result;
    if (cJSON_GetObjectItemCaseSensitive(u, "auth-provider"))
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.auth-provider: Forbidden: auth-provider plugins are not "
                    "supported; use an exec credential plugin",
                    where);
    if (cJSON_GetObjectItemCaseSensitive(u, "username") ||
        cJSON_GetObjectItemCaseSensitive(u, "password"))
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: %s.username: Forbidden: basic authentication is not supported",
                    where);
    out->token = xstrdup(token);
    out->token_file = resolve_path(pc, token_file);
    if (!out->cert_data)
        out->cert_file = resolve_path(pc, cert);
    if (!out->key_data)
        out->key_file = resolve_path(pc, key);
    int has_cert = out->cert_data || out->cert_file;
    int has_key = out->key_data || out->key_file;
    if (has_cert != has_key)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.%s: Required value: needed with %s", where,
                    has_cert ? "client-key" : "client-certificate",
                    has_cert ? "client-certificate" : "client-key");
    const cJSON *exec = cJSON_GetObjectItemCaseSensitive(u, "exec");
    if (exec && !cJSON_IsNull(exec))
        return parse_exec(pc, exec, where, out);
    return HO11Y_OK;
}

static enum ho11y_err parse_root(struct parse_ctx *pc, const cJSON *root, const char *context,
                                 struct kube_config *out)
{
    enum ho11y_err result;
    const char *ctx_name = context, *cluster_name, *user_name, *ns;
    char where[160];
    int idx = 0;
    if (!cJSON_IsObject(root))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: not a mapping");
    if (!ctx_name && (result = get_str(pc, root, "current-context", "(root)", &ctx_name)))
        return result;
    if (!ctx_name)
        return fail(pc, HO11Y_CONFIG,
                    "kubeconfig: current-context: Required value: no context selected");
    const cJSON *ctx = find_named(root, "contexts", ctx_name, &idx);
    if (!ctx)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: contexts: Not found: context \"%s\"", ctx_name);
    snprintf(where, sizeof(where), "contexts[%d].context", idx);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ctx, "context");
    if (!cJSON_IsObject(c))
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s: Required value", where);
    if ((result = get_str(pc, c, "cluster", where, &cluster_name)) ||
        (result = get_str(pc, c, "user", where, &user_name)) ||
        (result = get_str(pc, c, "namespace", where, &ns)))
        return result;
    if (!cluster_name)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: %s.cluster: Required value", where);
    out->namespace = xstrdup(ns);
    out->origin = xasprintf("context %s", ctx_name);

    const cJSON *cl = find_named(root, "clusters", cluster_name, &idx);
    if (!cl)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: clusters: Not found: cluster \"%s\"",
                    cluster_name);
    snprintf(where, sizeof(where), "clusters[%d].cluster", idx);
    if ((result = parse_cluster(pc, cJSON_GetObjectItemCaseSensitive(cl, "cluster"), where, out)))
        return result;
    if (!user_name)
        return HO11Y_OK;
    const cJSON *us = find_named(root, "users", user_name, &idx);
    if (!us)
        return fail(pc, HO11Y_CONFIG, "kubeconfig: users: Not found: user \"%s\"", user_name);
    snprintf(where, sizeof(where), "users[%d].user", idx);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(us, "user");
    if (!u || cJSON_IsNull(u))
        return HO11Y_OK;
    return parse_user(pc, u, where, out);
}

enum ho11y_err kube_config_parse(const char *text, size_t len, const char *dir, const char *context,
                                 struct kube_config *out, char *err, size_t errlen)
{
    struct parse_ctx pc = {err, errlen, dir};
    struct doc_set set = {0};
    char perr[256] = "";
    enum ho11y_err result;
    memset(out, 0, sizeof(*out));
    struct doc_limits lim = doc_limits_default;
    lim.max_bytes = KUBECONFIG_MAX;
    if (doc_parse(text, len, &lim, &set, perr, sizeof(perr)))
        return fail(&pc, HO11Y_CONFIG, "kubeconfig: %s", perr);
    if (set.count != 1) {
        result = fail(&pc, HO11Y_CONFIG, "kubeconfig: expected one document, found %zu", set.count);
        goto out;
    }
    result = parse_root(&pc, set.docs[0].root, context, out);
out:
    doc_set_cleanup(&set);
    if (result)
        kube_config_cleanup(out);
    return result;
}

enum ho11y_err kube_config_load_file(const char *path, const char *context, struct kube_config *out,
                                     char *err, size_t errlen)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    char rerr[256];
    memset(out, 0, sizeof(*out));
    enum ho11y_err result = kube_read_file(path, KUBECONFIG_MAX, &text, &len, rerr, sizeof(rerr));
    if (result) {
        if (err)
            snprintf(err, errlen, "kubeconfig: %s", rerr);
        return HO11Y_CONFIG;
    }
    const char *slash = strrchr(path, '/');
    dir = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
    if (slash && slash == path) {
        free(dir);
        dir = xstrdup("/");
    }
    result = kube_config_parse(text, len, dir, context, out, err, errlen);
    if (!result) {
        char *origin = xasprintf("kubeconfig %s %s", path, out->origin);
        free(out->origin);
        out->origin = origin;
    }
    free(text);
    free(dir);
    return result;
}

enum ho11y_err kube_config_load_incluster(const char *sa_dir, struct kube_config *out, char *err,
                                          size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    char rerr[256];
    memset(out, 0, sizeof(*out));
    if (!sa_dir)
        sa_dir = getenv(KUBE_SA_DIR_ENV);
    if (!sa_dir || !sa_dir[0])
        sa_dir = KUBE_SA_DIR_DEFAULT;
    if (!host || !host[0] || !port || !port[0]) {
        if (err)
            snprintf(err, errlen,
                     "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                     "must be set");
        return HO11Y_CONFIG;
    }
    int ipv6 = strchr(host, ':') != NULL;
    out->server = xasprintf("https://%s%s%s:%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
    out->token_file = xasprintf("%s/token", sa_dir);
    out->ca_file = xasprintf("%s/ca.crt", sa_dir);
    out->origin = xstrdup("in-cluster");
    char *ns = NULL, *tok = NULL;
    size_t len = 0;
    /* The token must be readable now; later reads happen in kube_auth. */
    if (kube_read_file(out->token_file, 64 * 1024, &tok, &len, rerr, sizeof(rerr))) {
        if (err)
            snprintf(err, errlen, "in-cluster config: service-account token: %s", rerr);
        kube_config_cleanup(out);
        return HO11Y_CONFIG;
    }
    free(tok);
    char *nspath = xasprintf("%s/namespace", sa_dir);
    if (!kube_read_file(nspath, 1024, &ns, &len, NULL, 0)) {
        while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == ' ' || ns[len - 1] == '\r'))
            ns[--len] = '\0';
        if (len)
            out->namespace = ns;
        else
            free(ns);
    }
    free(nspath);
    return HO11Y_OK;
}

enum ho11y_err kube_config_load_default(const char *path, const char *context,
                                        struct kube_config *out, char *err, size_t errlen)
{
    if (path && path[0])
        return kube_config_load_file(path, context, out, err, errlen);
    const char *env = getenv("KUBECONFIG");
    if (env && env[0]) {
        const char *colon = strchr(env, ':');
        char *first = colon ? xstrndup(env, (size_t)(colon - env)) : xstrdup(env);
        enum ho11y_err result = kube_config_load_file(first, context, out, err, errlen);
        free(first);
        return result;
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && host[0])
        return kube_config_load_incluster(NULL, out, err, errlen);
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        memset(out, 0, sizeof(*out));
        if (err)
            snprintf(err, errlen,
                     "no configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
        return HO11Y_CONFIG;
    }
    char *def = xasprintf("%s/.kube/config", home);
    enum ho11y_err result = kube_config_load_file(def, context, out, err, errlen);
    free(def);
    return result;
}

void kube_exec_config_free(struct kube_exec_config *e)
{
    if (!e)
        return;
    free(e->api_version);
    free(e->command);
    for (size_t i = 0; i < e->nargs; i++)
        free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->nenv; i++)
        free(e->env[i]);
    free(e->env);
    free(e->install_hint);
    free(e);
}

void kube_config_cleanup(struct kube_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->server);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->cert_file);
    free(cfg->key_file);
    free(cfg->cert_data);
    free(cfg->key_data);
    kube_exec_config_free(cfg->exec);
    free(cfg->namespace);
    free(cfg->origin);
    memset(cfg, 0, sizeof(*cfg));
}
