/*
 * The Managed collector: its configuration and its ServiceAccount, ConfigMap, Service and
 * Deployment (DESIGN §4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/render_internal.h"
#include "api/topo_internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/yamlout.h"

static cJSON *endpoint_obj(long long port)
{
    cJSON *o = cJSON_CreateObject();
    char ep[64];
    snprintf(ep, sizeof(ep), "0.0.0.0:%lld", port);
    cJSON_AddStringToObject(o, "endpoint", ep);
    return o;
}

static cJSON *config_tree(const struct topology *t)
{
    const struct topo_collector *c = &t->collector;
    cJSON *cfg = cJSON_CreateObject();
    cJSON *ext = cJSON_AddObjectToObject(cfg, "extensions");
    cJSON_AddItemToObject(ext, "health_check", endpoint_obj(TOPO_COLLECTOR_HEALTH_PORT));

    cJSON *protocols = cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg, "receivers"), "otlp"), "protocols");
    cJSON_AddItemToObject(protocols, "grpc", endpoint_obj(TOPO_OTLP_GRPC_PORT));
    cJSON_AddItemToObject(protocols, "http", endpoint_obj(TOPO_OTLP_HTTP_PORT));

    cJSON *batch =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg, "processors"), "batch/traces");
    cJSON_AddStringToObject(batch, "timeout", "1s");
    cJSON_AddNumberToObject(batch, "send_batch_size", 50);

    cJSON *exporters = cJSON_AddObjectToObject(cfg, "exporters");
    cJSON *names = cJSON_CreateArray();
    if (!c->awsxray_enabled.set || c->awsxray_enabled.value) {
        cJSON *x = cJSON_AddObjectToObject(exporters, "awsxray");
        if (c->region && *c->region)
            cJSON_AddStringToObject(x, "region", c->region);
        cJSON_AddItemToArray(names, cJSON_CreateString("awsxray"));
    }
    if (c->otlp_endpoint && *c->otlp_endpoint) {
        cJSON *o = cJSON_AddObjectToObject(exporters, "otlp");
        cJSON_AddStringToObject(o, "endpoint", c->otlp_endpoint);
        if (c->otlp_insecure.set && c->otlp_insecure.value)
            cJSON_AddTrueToObject(cJSON_AddObjectToObject(o, "tls"), "insecure");
        cJSON_AddItemToArray(names, cJSON_CreateString("otlp"));
    }
    if (c->debug_enabled.set && c->debug_enabled.value) {
        cJSON_AddObjectToObject(exporters, "debug");
        cJSON_AddItemToArray(names, cJSON_CreateString("debug"));
    }

    cJSON *service = cJSON_AddObjectToObject(cfg, "service");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(service, "extensions"),
                         cJSON_CreateString("health_check"));
    char metrics[64];
    snprintf(metrics, sizeof(metrics), "0.0.0.0:%d", TOPO_COLLECTOR_METRICS_PORT);
    cJSON *tm = cJSON_AddObjectToObject(cJSON_AddObjectToObject(service, "telemetry"), "metrics");
    cJSON_AddStringToObject(tm, "address", metrics);
    cJSON *traces =
        cJSON_AddObjectToObject(cJSON_AddObjectToObject(service, "pipelines"), "traces");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(traces, "receivers"), cJSON_CreateString("otlp"));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(traces, "processors"),
                         cJSON_CreateString("batch/traces"));
    cJSON_AddItemToObject(traces, "exporters", names);
    return cfg;
}

char *topo_collector_config(const struct topology *t)
{
    cJSON *cfg = config_tree(t);
    struct hbuf b;
    hbuf_init(&b, (size_t)1 << 20);
    /* The tree is small and made of safe values; the emitter cannot fail on it. */
    if (yaml_emit(cfg, &b) != HO11Y_OK)
        hbuf_reset(&b);
    cJSON_Delete(cfg);
    return hbuf_steal(&b, NULL);
}

void topo_config_hash(const char *config, char out[65])
{
    ho11y_sha256_hex(config, strlen(config), out);
}

char *topo_collector_service_account(const struct topology *t)
{
    const char *given = t->collector.service_account_name;
    if (given && *given)
        return xstrdup(given);
    return xasprintf("%s%s", t->name, TOPO_COLLECTOR_SUFFIX);
}

static char *collector_name(const struct render_ctx *ctx)
{
    return xasprintf("%s%s", ctx->t->name, TOPO_COLLECTOR_SUFFIX);
}

void render__collector_config_objects(const struct render_ctx *ctx, cJSON *objects)
{
    const struct topo_collector *c = &ctx->t->collector;
    char *name = collector_name(ctx);
    if (!c->service_account_name || !*c->service_account_name) {
        cJSON *sa = cJSON_CreateObject();
        cJSON_AddStringToObject(sa, "apiVersion", "v1");
        cJSON_AddStringToObject(sa, "kind", "ServiceAccount");
        cJSON *md = render__metadata(ctx, name, TOPO_COMPONENT_COLLECTOR);
        if (c->role_arn && *c->role_arn)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"),
                                    TOPO_ANNOTATION_ROLE_ARN, c->role_arn);
        cJSON_AddItemToObject(sa, "metadata", md);
        cJSON_AddItemToArray(objects, sa);
    }
    cJSON *cm = cJSON_CreateObject();
    cJSON_AddStringToObject(cm, "apiVersion", "v1");
    cJSON_AddStringToObject(cm, "kind", "ConfigMap");
    cJSON_AddItemToObject(cm, "metadata", render__metadata(ctx, name, TOPO_COMPONENT_COLLECTOR));
    char *config = topo_collector_config(ctx->t);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "data"), TOPO_COLLECTOR_CONFIG_KEY, config);
    free(config);
    cJSON_AddItemToArray(objects, cm);
    free(name);
}

cJSON *render__collector_service(const struct render_ctx *ctx)
{
    char *name = collector_name(ctx);
    cJSON *ports = cJSON_CreateArray();
    cJSON_AddItemToArray(ports,
                         render__service_port(TOPO_PORT_NAME_OTLP_GRPC, TOPO_OTLP_GRPC_PORT));
    cJSON_AddItemToArray(ports,
                         render__service_port(TOPO_PORT_NAME_OTLP_HTTP, TOPO_OTLP_HTTP_PORT));
    cJSON_AddItemToArray(ports,
                         render__service_port(TOPO_PORT_NAME_METRICS, TOPO_COLLECTOR_METRICS_PORT));
    cJSON *svc = render__service(ctx, name, TOPO_COMPONENT_COLLECTOR, ports);
    free(name);
    return svc;
}

static cJSON *http_probe(void)
{
    cJSON *probe = cJSON_CreateObject();
    cJSON *get = cJSON_AddObjectToObject(probe, "httpGet");
    cJSON_AddStringToObject(get, "path", "/");
    cJSON_AddStringToObject(get, "port", TOPO_PORT_NAME_HEALTH);
    return probe;
}

cJSON *render__collector_deployment(const struct render_ctx *ctx)
{
    const struct topo_collector *c = &ctx->t->collector;
    char *name = collector_name(ctx);
    char *config = topo_collector_config(ctx->t);
    char hash[65];
    topo_config_hash(config, hash);
    free(config);

    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "apiVersion", "apps/v1");
    cJSON_AddStringToObject(d, "kind", "Deployment");
    cJSON_AddItemToObject(d, "metadata", render__metadata(ctx, name, TOPO_COMPONENT_COLLECTOR));
    cJSON *spec = cJSON_AddObjectToObject(d, "spec");
    if (c->replicas.set)
        cJSON_AddNumberToObject(spec, "replicas", (double)c->replicas.value);
    cJSON_AddItemToObject(cJSON_AddObjectToObject(spec, "selector"), "matchLabels",
                          render__labels(ctx, name, TOPO_COMPONENT_COLLECTOR, 0));
    cJSON *tmpl = cJSON_AddObjectToObject(spec, "template");
    cJSON *pod_meta = cJSON_AddObjectToObject(tmpl, "metadata");
    cJSON_AddItemToObject(pod_meta, "labels",
                          render__labels(ctx, name, TOPO_COMPONENT_COLLECTOR, 1));
    cJSON_AddStringToObject(cJSON_AddObjectToObject(pod_meta, "annotations"),
                            TOPO_ANNOTATION_CONFIG_HASH, hash);
    cJSON *pod = cJSON_AddObjectToObject(tmpl, "spec");
    char *sa = topo_collector_service_account(ctx->t);
    cJSON_AddStringToObject(pod, "serviceAccountName", sa);
    free(sa);

    cJSON *ctr = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(pod, "containers"), ctr);
    cJSON_AddStringToObject(ctr, "name", TOPO_COLLECTOR_CONTAINER);
    cJSON_AddStringToObject(ctr, "image", ctx->collector_image);
    cJSON_AddStringToObject(ctr, "imagePullPolicy", ctx->pull_policy);
    char arg[128];
    snprintf(arg, sizeof(arg), "--config=%s/%s", TOPO_COLLECTOR_CONFIG_DIR,
             TOPO_COLLECTOR_CONFIG_KEY);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ctr, "args"), cJSON_CreateString(arg));
    cJSON *ports = cJSON_AddArrayToObject(ctr, "ports");
    cJSON_AddItemToArray(ports,
                         render__container_port(TOPO_PORT_NAME_OTLP_GRPC, TOPO_OTLP_GRPC_PORT));
    cJSON_AddItemToArray(ports,
                         render__container_port(TOPO_PORT_NAME_OTLP_HTTP, TOPO_OTLP_HTTP_PORT));
    cJSON_AddItemToArray(
        ports, render__container_port(TOPO_PORT_NAME_METRICS, TOPO_COLLECTOR_METRICS_PORT));
    cJSON_AddItemToArray(ports,
                         render__container_port(TOPO_PORT_NAME_HEALTH, TOPO_COLLECTOR_HEALTH_PORT));
    cJSON_AddItemToObject(ctr, "readinessProbe", http_probe());
    cJSON_AddItemToObject(ctr, "livenessProbe", http_probe());
    if (c->resources)
        cJSON_AddItemToObject(ctr, "resources", render__sorted_copy(c->resources));
    cJSON *mount = cJSON_CreateObject();
    cJSON_AddStringToObject(mount, "name", TOPO_COLLECTOR_VOLUME);
    cJSON_AddStringToObject(mount, "mountPath", TOPO_COLLECTOR_CONFIG_DIR);
    cJSON_AddTrueToObject(mount, "readOnly");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ctr, "volumeMounts"), mount);

    cJSON *vol = cJSON_CreateObject();
    cJSON_AddStringToObject(vol, "name", TOPO_COLLECTOR_VOLUME);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(vol, "configMap"), "name", name);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(pod, "volumes"), vol);
    free(name);
    return d;
}
