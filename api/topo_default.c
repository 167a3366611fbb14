/*
 * Defaults, exactly those of the CRD schema (crds/ho11y.dev_topologies.yaml): a default applies
 * where the field is absent and its parent object exists, or where the parent has a default of
 * its own ({} for spec.collector, its exporters and exporters.awsxray). Replicas are never
 * defaulted: absent replicas are left to the cluster and to autoscalers.
 */
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"
#include "api/topology.h"
#include "common/alloc.h"

static void default_str(char **field, const char *value)
{
    if (!*field)
        *field = xstrdup(value);
}

static void default_int(struct topo_opt_int *field, long long value)
{
    if (!field->set) {
        field->set = 1;
        field->value = value;
    }
}

static void default_bool(struct topo_opt_bool *field, int value)
{
    if (!field->set) {
        field->set = 1;
        field->value = value;
    }
}

static void default_service(struct topo_service *s)
{
    static const long long codes[] = TOPO_DEFAULT_FAILURE_CODES;
    default_int(&s->port, TOPO_DEFAULT_SERVICE_PORT);
    if (s->has_failure) {
        default_int(&s->failure_rate, TOPO_DEFAULT_FAILURE_RATE);
        if (!s->failure_codes_set) {
            s->failure_codes_set = 1;
            s->nfailure_codes = sizeof(codes) / sizeof(codes[0]);
            s->failure_codes = xcalloc(s->nfailure_codes, sizeof(*s->failure_codes));
            memcpy(s->failure_codes, codes, sizeof(codes));
        }
    }
    if (s->has_latency) {
        default_str(&s->latency_fixed, TOPO_DEFAULT_DURATION);
        default_str(&s->latency_jitter, TOPO_DEFAULT_DURATION);
    }
    for (size_t i = 0; i < s->ncalls; i++) {
        struct topo_call *c = &s->calls[i];
        if (c->has_dummy) {
            default_str(&c->dummy_size, TOPO_DEFAULT_DUMMY_SIZE);
            default_str(&c->dummy_duration, TOPO_DEFAULT_DURATION);
        }
    }
}

void topo_apply_defaults(struct topology *t)
{
    struct topo_collector *c = &t->collector;
    default_str(&c->mode, TOPO_DEFAULT_COLLECTOR_MODE);
    if (c->has_external) {
        default_int(&c->external_grpc_port, TOPO_OTLP_GRPC_PORT);
        default_int(&c->external_http_port, TOPO_OTLP_HTTP_PORT);
    }
    default_bool(&c->awsxray_enabled, 1);
    for (size_t i = 0; i < t->nservices; i++)
        default_service(&t->services[i]);
    if (t->load.set)
        default_int(&t->load.rate, TOPO_DEFAULT_LOAD_RATE);
}
