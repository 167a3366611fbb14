/*
 * Validation of a Topology: the object-level rules (metadata, images, collector, load, the
 * service list and the call graph). Per-service rules are in topo_validate_service.c. Every
 * broken rule adds one Kubernetes-style field error; nothing stops at the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"
#include "api/topology.h"
#include "common/alloc.h"

/* Adds "Required value" unless the field already has an error (e.g. it had the wrong type). */
static void required(struct field_errors *errs, const char *path, const char *detail)
{
    if (!field_errors_has(errs, path))
        field_errors_add(errs, FIELD_ERR_REQUIRED, path, NULL, detail ? "%s" : NULL, detail);
}

static void check_image(const char *image, const char *path, struct field_errors *errs)
{
    if (!image)
        return;
    if (strlen(image) > TOPO_MAX_STRING_LEN) {
        field_errors_add(errs, FIELD_ERR_TOO_LONG, path, NULL, "may not be more than %d bytes",
                         TOPO_MAX_STRING_LEN);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)image; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            field_errors_add_str(errs, FIELD_ERR_INVALID, path, image,
                                 "must not contain spaces or control characters");
            return;
        }
    }
}

static void check_metadata(const struct topology *t, struct field_errors *errs)
{
    if (!t->name) {
        required(errs, "metadata.name", NULL);
    } else {
        const char *why = topo__dns1035_label(t->name);
        if (strlen(t->name) > TOPO_MAX_NAME_LEN)
            field_errors_add(errs, FIELD_ERR_TOO_LONG, "metadata.name", NULL,
                             "may not be more than %d bytes", TOPO_MAX_NAME_LEN);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, "metadata.name", t->name, "%s", why);
    }
    if (t->namespace && *t->namespace) {
        const char *why = topo__dns1123_label(t->namespace);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, "metadata.namespace", t->namespace, "%s",
                                 why);
    }
}

static void check_range(struct field_errors *errs, const char *path, const struct topo_opt_int *v,
                        long long lo, long long hi)
{
    if (v->set && (v->value < lo || v->value > hi))
        field_errors_add_int(errs, FIELD_ERR_INVALID, path, v->value,
                             "must be between %lld and %lld, inclusive", lo, hi);
}

/* An AWS region such as eu-west-1, us-gov-west-1 or cn-north-1. */
static int region_ok(const char *s)
{
    size_t n = strlen(s), parts = 0;
    if (n == 0 || n > 32)
        return 0;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "-");
        if (len == 0)
            return 0;
        for (size_t i = 0; i < len; i++)
            if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')))
                return 0;
        parts++;
        p += len;
        if (*p == '-' && !*++p)
            return 0;
    }
    /* The last part is the number. */
    const char *last = strrchr(s, '-');
    return parts >= 3 && last && strspn(last + 1, "0123456789") == strlen(last + 1);
}

/* arn:<partition>:iam::<12-digit account>:role/<path and name> */
static int role_arn_ok(const char *s)
{
    if (strncmp(s, "arn:aws", 7) != 0)
        return 0;
    const char *p = s + 7;
    while ((*p >= 'a' && *p <= 'z') || *p == '-')
        p++; /* the partition: aws, aws-cn, aws-us-gov */
    if (strncmp(p, ":iam::", 6) != 0)
        return 0;
    p += 6;
    if (strspn(p, "0123456789") != 12 || strncmp(p + 12, ":role/", 6) != 0)
        return 0;
    p += 18;
    if (!*p || strlen(s) > 2048)
        return 0;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("+=,.@_-/", *p)))
            return 0;
    return 1;
}

/* host:port, or an http(s) URL, as the collector's otlp exporter accepts. */
static const char *otlp_endpoint_why(const char *s)
{
    if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)
        return topo__http_url(s);
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return "must be host:port (gRPC) or an http:// or https:// URL";
    char host[TOPO_MAX_STRING_LEN + 1];
    size_t hl = (size_t)(colon - s);
    if (hl > TOPO_MAX_STRING_LEN)
        return "must be host:port (gRPC) or an http:// or https:// URL";
    memcpy(host, s, hl);
    host[hl] = '\0';
    const char *port = colon + 1;
    char *end = NULL;
    long v = strtol(port, &end, 10);
    if (topo__host(host) || !*port || *end || v < 1 || v > 65535 || port[0] == '+' ||
        port[0] == '-')
        return "must be host:port (gRPC) or an http:// or https:// URL";
    return NULL;
}

/* Syntax of every collector field, whatever the mode (the CRD schema checks them all too). */
static void check_collector_fields(const struct topology *t, struct field_errors *errs)
{
    const struct topo_collector *c = &t->collector;
    if (c->external_host && *c->external_host) {
        const char *why = strlen(c->external_host) > 253 ? "must be no more than 253 characters"
                                                         : topo__host(c->external_host);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, "spec.collector.external.host",
                                 c->external_host, "%s", why);
    }
    check_range(errs, "spec.collector.external.grpcPort", &c->external_grpc_port, 1, 65535);
    check_range(errs, "spec.collector.external.httpPort", &c->external_http_port, 1, 65535);
    check_image(c->image, "spec.collector.image", errs);
    check_range(errs, "spec.collector.replicas", &c->replicas, 0, TOPO_MAX_REPLICAS);
    if (c->region && *c->region && !region_ok(c->region))
        field_errors_add_str(errs, FIELD_ERR_INVALID, "spec.collector.region", c->region,
                             "must be an AWS region such as eu-west-1");
    if (c->service_account_name && *c->service_account_name) {
        const char *why = topo__dns1123_subdomain(c->service_account_name);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, "spec.collector.serviceAccountName",
                                 c->service_account_name, "%s", why);
    }
    if (c->role_arn && *c->role_arn && !role_arn_ok(c->role_arn))
        field_errors_add_str(errs, FIELD_ERR_INVALID, "spec.collector.roleArn", c->role_arn,
                             "must be an IAM role ARN such as "
                             "arn:aws:iam::123456789012:role/xray-writer");
    if (c->otlp_endpoint && *c->otlp_endpoint) {
        const char *why = strlen(c->otlp_endpoint) > TOPO_MAX_URL_LEN
                              ? "may not be more than 2048 bytes"
                              : otlp_endpoint_why(c->otlp_endpoint);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, "spec.collector.exporters.otlp.endpoint",
                                 c->otlp_endpoint, "%s", why);
    }
    if (c->resources)
        topo__validate_resources(c->resources, "spec.collector.resources", errs);
}

static void check_collector(const struct topology *t, struct field_errors *errs)
{
    const struct topo_collector *c = &t->collector;
    if (c->mode && strcmp(c->mode, "Managed") != 0 && strcmp(c->mode, "External") != 0) {
        field_errors_add_str(errs, FIELD_ERR_NOT_SUPPORTED, "spec.collector.mode", c->mode,
                             "supported values: \"Managed\", \"External\"");
        check_collector_fields(t, errs);
        return;
    }
    if (topo_collector_mode(t) == TOPO_COLLECTOR_EXTERNAL) {
        /* The services send to an existing collector; the Managed-only fields are unused. */
        if (!c->external_host || !*c->external_host)
            required(errs, "spec.collector.external.host", "needed when mode is External");
        check_collector_fields(t, errs);
        return;
    }
    check_collector_fields(t, errs);
    int awsxray = c->awsxray_enabled.set ? c->awsxray_enabled.value : 1;
    int otlp = c->otlp_endpoint && *c->otlp_endpoint;
    int debug = c->debug_enabled.set && c->debug_enabled.value;
    if (!awsxray && !otlp && !debug)
        field_errors_add(errs, FIELD_ERR_REQUIRED, "spec.collector.exporters", NULL,
                         "at least one exporter must be enabled (awsxray, otlp or debug)");
    if (c->role_arn && *c->role_arn && c->service_account_name && *c->service_account_name)
        field_errors_add(errs, FIELD_ERR_FORBIDDEN, "spec.collector.roleArn", NULL,
                         "may not be set with serviceAccountName: the role belongs on that "
                         "service account");
}

static void check_load(const struct topology *t, struct field_errors *errs)
{
    if (!t->load.set)
        return;
    if (!t->load.target || !*t->load.target)
        required(errs, "spec.load.target", NULL);
    else if (topo_service_index(t, t->load.target) < 0)
        field_errors_add_str(errs, FIELD_ERR_NOT_FOUND, "spec.load.target", t->load.target, NULL);
    check_range(errs, "spec.load.rate", &t->load.rate, 1, TOPO_MAX_LOAD_RATE);
}

/* Names: present, DNS-1035, short enough, unique, and not those of the operator's objects. */
static void check_service_names(const struct topology *t, struct field_errors *errs)
{
    char collector[TOPO_PATH_MAX], load[TOPO_PATH_MAX];
    snprintf(collector, sizeof(collector), "%s%s", t->name ? t->name : "", TOPO_COLLECTOR_SUFFIX);
    snprintf(load, sizeof(load), "%s%s", t->name ? t->name : "", TOPO_LOAD_SUFFIX);
    for (size_t i = 0; i < t->nservices; i++) {
        const struct topo_service *s = &t->services[i];
        char base[TOPO_PATH_MAX], p[TOPO_PATH_MAX];
        topo__path_index(base, "spec.services", i);
        topo__path_key(p, base, "name");
        if (field_errors_has(errs, base))
            continue; /* not an object: already reported */
        if (!s->name || !*s->name) {
            required(errs, p, NULL);
            continue;
        }
        const char *why = topo__dns1035_label(s->name);
        if (strlen(s->name) > TOPO_MAX_SERVICE_NAME_LEN)
            field_errors_add(errs, FIELD_ERR_TOO_LONG, p, NULL, "may not be more than %d bytes",
                             TOPO_MAX_SERVICE_NAME_LEN);
        if (why)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, s->name, "%s", why);
        if (t->name && strcmp(s->name, collector) == 0)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, s->name,
                                 "is reserved for the collector of this Topology");
        if (t->name && strcmp(s->name, load) == 0)
            field_errors_add_str(errs, FIELD_ERR_INVALID, p, s->name,
                                 "is reserved for the load driver of this Topology");
        long first = topo_service_index(t, s->name);
        if (first >= 0 && (size_t)first < i)
            field_errors_add_str(errs, FIELD_ERR_DUPLICATE, p, s->name, NULL);
    }
}

enum ho11y_err topo_validate(const struct topology *t, struct field_errors *errs)
{
    size_t before = errs->count + errs->dropped;
    check_metadata(t, errs);
    check_image(t->image, "spec.image", errs);
    const char *pp = t->image_pull_policy;
    if (pp && *pp && strcmp(pp, "Always") != 0 && strcmp(pp, "IfNotPresent") != 0 &&
        strcmp(pp, "Never") != 0)
        field_errors_add_str(errs, FIELD_ERR_NOT_SUPPORTED, "spec.imagePullPolicy", pp,
                             "supported values: \"Always\", \"IfNotPresent\", \"Never\"");
    check_collector(t, errs);
    if (t->nservices == 0)
        required(errs, "spec.services", "a Topology needs at least one service");
    else if (t->nservices > TOPO_MAX_SERVICES)
        field_errors_add_int(errs, FIELD_ERR_TOO_MANY, "spec.services", (long long)t->nservices,
                             "must have at most %d items", TOPO_MAX_SERVICES);
    check_service_names(t, errs);
    for (size_t i = 0; i < t->nservices; i++)
        topo__validate_service(t, i, errs);
    topo__validate_graph(t, errs);
    check_load(t, errs);
    return errs->count + errs->dropped > before ? HO11Y_VALIDATION : HO11Y_OK;
}
