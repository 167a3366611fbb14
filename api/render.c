/*
 * Rendering: object metadata, the per-service Deployment and Service, the load Deployment and
 * the entry point topo_render. The collector's objects are in render_collector.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/render_internal.h"
#include "api/topo_internal.h"
#include "common/alloc.h"

struct pair {
    const char *key;
    const char *value;
};

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->key, ((const struct pair *)b)->key);
}

/* A string map with sorted keys; later pairs with an existing key are ignored. */
static cJSON *sorted_map(struct pair *pairs, size_t n)
{
    cJSON *m = cJSON_CreateObject();
    qsort(pairs, n, sizeof(*pairs), pair_cmp);
    for (size_t i = 0; i < n; i++)
        if (!cJSON_GetObjectItemCaseSensitive(m, pairs[i].key))
            cJSON_AddStringToObject(m, pairs[i].key, pairs[i].value);
    return m;
}

static int cjson_key_cmp(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* A deep copy of a user-supplied tree with every object's keys sorted (deterministic output). */
cJSON *render__sorted_copy(const cJSON *node)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return cJSON_Duplicate(node, 1);
    size_t n = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        n++;
    cJSON *out = cJSON_IsObject(node) ? cJSON_CreateObject() : cJSON_CreateArray();
    const cJSON **items = xcalloc(n ? n : 1, sizeof(*items));
    n = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        items[n++] = c;
    if (cJSON_IsObject(node))
        qsort(items, n, sizeof(*items), cjson_key_cmp);
    for (size_t i = 0; i < n; i++) {
        if (cJSON_IsNull(items[i]))
            continue;
        if (cJSON_IsObject(node))
            cJSON_AddItemToObject(out, items[i]->string, render__sorted_copy(items[i]));
        else
            cJSON_AddItemToArray(out, render__sorted_copy(items[i]));
    }
    free(items);
    return out;
}

cJSON *render__labels(const struct render_ctx *ctx, const char *name, const char *component,
                      int full)
{
    const char *topo = ctx->t->name;
    struct pair pairs[] = {
        {TOPO_LABEL_APP, name},
        {TOPO_LABEL_TOPOLOGY, topo},
        {TOPO_LABEL_COMPONENT, component},
        {TOPO_LABEL_INSTANCE, topo},
        {TOPO_LABEL_MANAGED_BY, TOPO_MANAGED_BY_VALUE},
        {TOPO_LABEL_PART_OF, TOPO_PART_OF_VALUE},
    };
    return sorted_map(pairs, full ? sizeof(pairs) / sizeof(pairs[0]) : 2);
}

cJSON *render__metadata(const struct render_ctx *ctx, const char *name, const char *component)
{
    const struct topology *t = ctx->t;
    cJSON *md = cJSON_CreateObject();
    cJSON_AddStringToObject(md, "name", name);
    if (t->namespace && *t->namespace)
        cJSON_AddStringToObject(md, "namespace", t->namespace);
    cJSON_AddItemToObject(md, "labels", render__labels(ctx, name, component, 1));
    if (t->uid && *t->uid) {
        cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
        cJSON *ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "apiVersion", TOPO_API_VERSION);
        cJSON_AddStringToObject(ref, "kind", TOPO_KIND);
        cJSON_AddStringToObject(ref, "name", t->name);
        cJSON_AddStringToObject(ref, "uid", t->uid);
        cJSON_AddTrueToObject(ref, "controller");
        cJSON_AddTrueToObject(ref, "blockOwnerDeletion");
        cJSON_AddItemToArray(refs, ref);
    }
    return md;
}

cJSON *render__service_port(const char *name, long long port)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddNumberToObject(p, "port", (double)port);
    cJSON_AddStringToObject(p, "targetPort", name);
    cJSON_AddStringToObject(p, "protocol", "TCP");
    return p;
}

cJSON *render__container_port(const char *name, long long port)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddNumberToObject(p, "containerPort", (double)port);
    cJSON_AddStringToObject(p, "protocol", "TCP");
    return p;
}

cJSON *render__service(const struct render_ctx *ctx, const char *name, const char *component,
                       cJSON *ports)
{
    cJSON *svc = cJSON_CreateObject();
    cJSON_AddStringToObject(svc, "apiVersion", "v1");
    cJSON_AddStringToObject(svc, "kind", "Service");
    cJSON_AddItemToObject(svc, "metadata", render__metadata(ctx, name, component));
    cJSON *spec = cJSON_AddObjectToObject(svc, "spec");
    cJSON_AddStringToObject(spec, "type", "ClusterIP");
    cJSON_AddItemToObject(spec, "selector", render__labels(ctx, name, component, 0));
    cJSON_AddItemToObject(spec, "ports", ports);
    return svc;
}

static cJSON *tcp_probe(void)
{
    cJSON *probe = cJSON_CreateObject();
    cJSON *tcp = cJSON_AddObjectToObject(probe, "tcpSocket");
    cJSON_AddStringToObject(tcp, "port", TOPO_GENERATOR_PORT_NAME);
    return probe;
}

/* Pod template labels: the object's labels plus the user's podLabels (which may not clash). */
static cJSON *pod_labels(const struct render_ctx *ctx, const struct topo_service *s)
{
    cJSON *base = render__labels(ctx, s->name, TOPO_COMPONENT_GENERATOR, 1);
    size_t n = 0;
    for (const cJSON *c = base->child; c; c = c->next)
        n++;
    struct pair *pairs = xcalloc(n + s->npod_labels + 1, sizeof(*pairs));
    n = 0;
    for (const cJSON *c = base->child; c; c = c->next)
        pairs[n++] = (struct pair){c->string, c->valuestring};
    for (size_t i = 0; i < s->npod_labels; i++)
        pairs[n++] = (struct pair){s->pod_labels[i].key, s->pod_labels[i].value};
    cJSON *labels = sorted_map(pairs, n);
    free(pairs);
    cJSON_Delete(base);
    return labels;
}

static cJSON *deployment_shell(const struct render_ctx *ctx, const char *name,
                               const char *component, const struct topo_opt_int *replicas,
                               cJSON *pod_meta, cJSON **pod_spec)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "apiVersion", "apps/v1");
    cJSON_AddStringToObject(d, "kind", "Deployment");
    cJSON_AddItemToObject(d, "metadata", render__metadata(ctx, name, component));
    cJSON *spec = cJSON_AddObjectToObject(d, "spec");
    if (replicas && replicas->set)
        cJSON_AddNumberToObject(spec, "replicas", (double)replicas->value);
    cJSON *sel = cJSON_AddObjectToObject(spec, "selector");
    cJSON_AddItemToObject(sel, "matchLabels", render__labels(ctx, name, component, 0));
    cJSON *tmpl = cJSON_AddObjectToObject(spec, "template");
    cJSON_AddItemToObject(tmpl, "metadata", pod_meta);
    *pod_spec = cJSON_AddObjectToObject(tmpl, "spec");
    return d;
}

static cJSON *service_deployment(const struct render_ctx *ctx, size_t index)
{
    const struct topo_service *s = &ctx->t->services[index];
    cJSON *pod_meta = cJSON_CreateObject();
    cJSON_AddItemToObject(pod_meta, "labels", pod_labels(ctx, s));
    if (s->npod_annotations) {
        struct pair *pairs = xcalloc(s->npod_annotations, sizeof(*pairs));
        for (size_t i = 0; i < s->npod_annotations; i++)
            pairs[i] = (struct pair){s->pod_annotations[i].key, s->pod_annotations[i].value};
        cJSON_AddItemToObject(pod_meta, "annotations", sorted_map(pairs, s->npod_annotations));
        free(pairs);
    }
    cJSON *pod_spec = NULL;
    cJSON *d =
        deployment_shell(ctx, s->name, TOPO_COMPONENT_GENERATOR, &s->replicas, pod_meta, &pod_spec);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(pod_spec, "containers"), c);
    cJSON_AddStringToObject(c, "name", TOPO_GENERATOR_CONTAINER);
    cJSON_AddStringToObject(c, "image", ctx->generator_image);
    cJSON_AddStringToObject(c, "imagePullPolicy", ctx->pull_policy);
    if (ctx->generator_is_ours)
        cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "command"),
                             cJSON_CreateString(TOPO_GENERATOR_COMMAND));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "ports"),
                         render__container_port(TOPO_GENERATOR_PORT_NAME, TOPO_GENERATOR_PORT));
    cJSON_AddItemToObject(c, "env", topo_service_env(ctx->t, index, NULL));
    cJSON_AddItemToObject(c, "readinessProbe", tcp_probe());
    cJSON_AddItemToObject(c, "livenessProbe", tcp_probe());
    if (s->resources)
        cJSON_AddItemToObject(c, "resources", render__sorted_copy(s->resources));
    return d;
}

static cJSON *load_deployment(const struct render_ctx *ctx)
{
    const struct topology *t = ctx->t;
    static const struct topo_opt_int one = {1, 1};
    char *name = xasprintf("%s%s", t->name, TOPO_LOAD_SUFFIX);
    cJSON *pod_meta = cJSON_CreateObject();
    cJSON_AddItemToObject(pod_meta, "labels", render__labels(ctx, name, TOPO_COMPONENT_LOAD, 1));
    cJSON *pod_spec = NULL;
    cJSON *d = deployment_shell(ctx, name, TOPO_COMPONENT_LOAD, &one, pod_meta, &pod_spec);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(pod_spec, "containers"), c);
    cJSON_AddStringToObject(c, "name", TOPO_LOAD_CONTAINER);
    cJSON_AddStringToObject(c, "image", ctx->load_image);
    cJSON_AddStringToObject(c, "imagePullPolicy", ctx->pull_policy);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "command"),
                         cJSON_CreateString(TOPO_GENERATOR_COMMAND));
    cJSON_AddItemToObject(c, "env", topo_load_env(t, NULL));
    free(name);
    return d;
}

static int nonempty(const char *s)
{
    return s && *s;
}

/* Resolves images and the pull policy; HO11Y_INVAL when an image is needed but unnamed. */
static enum ho11y_err resolve(const struct topology *t, const struct topo_render_opts *opts,
                              struct render_ctx *ctx, char *err, size_t errlen)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->t = t;
    const char *ours = opts ? opts->generator_image : NULL;
    ctx->generator_is_ours = !nonempty(t->image);
    ctx->generator_image = nonempty(t->image) ? t->image : ours;
    ctx->load_image = ours;
    ctx->collector_image =
        nonempty(t->collector.image) ? t->collector.image : (opts ? opts->collector_image : NULL);
    ctx->pull_policy = nonempty(t->image_pull_policy)              ? t->image_pull_policy
                       : opts && nonempty(opts->image_pull_policy) ? opts->image_pull_policy
                                                                   : TOPO_DEFAULT_PULL_POLICY;
    const char *missing = NULL;
    if (!nonempty(ctx->generator_image))
        missing = "no generator image: spec.image is empty and no default generator image "
                  "was given";
    else if (t->load.set && !nonempty(ctx->load_image))
        missing = "no generator image for the load driver: no default generator image was given";
    else if (topo_collector_mode(t) == TOPO_COLLECTOR_MANAGED && !nonempty(ctx->collector_image))
        missing = "no collector image: spec.collector.image is empty and no default collector "
                  "image was given";
    if (missing) {
        if (err && errlen)
            snprintf(err, errlen, "%s", missing);
        return HO11Y_INVAL;
    }
    return HO11Y_OK;
}

enum ho11y_err topo_render(const struct topology *t, const struct topo_render_opts *opts,
                           cJSON **objects, char *err, size_t errlen)
{
    struct render_ctx ctx;
    struct field_errors errs;
    *objects = NULL;
    field_errors_init(&errs);
    if (topo_validate(t, &errs) != HO11Y_OK) {
        char *msg = field_errors_join(&errs);
        if (err && errlen)
            snprintf(err, errlen, "invalid Topology: %s", msg);
        free(msg);
        field_errors_cleanup(&errs);
        return HO11Y_VALIDATION;
    }
    field_errors_cleanup(&errs);
    enum ho11y_err result = resolve(t, opts, &ctx, err, errlen);
    if (result)
        return result;
    int managed = topo_collector_mode(t) == TOPO_COLLECTOR_MANAGED;
    cJSON *out = cJSON_CreateArray();
    if (managed)
        render__collector_config_objects(&ctx, out);
    if (managed)
        cJSON_AddItemToArray(out, render__collector_service(&ctx));
    for (size_t i = 0; i < t->nservices; i++) {
        cJSON *ports = cJSON_CreateArray();
        cJSON_AddItemToArray(ports, render__service_port(TOPO_GENERATOR_PORT_NAME,
                                                         topo_service_port(&t->services[i])));
        cJSON_AddItemToArray(
            out, render__service(&ctx, t->services[i].name, TOPO_COMPONENT_GENERATOR, ports));
    }
    if (managed)
        cJSON_AddItemToArray(out, render__collector_deployment(&ctx));
    for (size_t i = 0; i < t->nservices; i++)
        cJSON_AddItemToArray(out, service_deployment(&ctx, i));
    if (t->load.set)
        cJSON_AddItemToArray(out, load_deployment(&ctx));
    *objects = out;
    return HO11Y_OK;
}
