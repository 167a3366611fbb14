/*
 * Rendering the Kubernetes objects the operator creates for a Topology (DESIGN §4), as cJSON
 * trees holding exactly the fields the operator owns: the operator compares them field by field
 * with live objects, and `ho11yctl render` prints them for `kubectl apply -f -`.
 *
 * Order of the rendered objects (stable, and the order kubectl apply needs): the collector's
 * ServiceAccount and ConfigMap, then every Service (collector first, then the services in spec
 * order), then every Deployment (collector, services, load). Maps are written with sorted keys.
 * The same topology and options always give byte-identical output.
 *
 * Everything here is pure (no I/O, no global state) and thread-safe for a topology that is not
 * being modified. The operator's defaults come in through the options, never from globals.
 */
#ifndef HO11Y_API_RENDER_H
#define HO11Y_API_RENDER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "api/topology.h"
#include "common/error.h"

struct topo_render_opts {
    /* The operator's --generator-image: used for services when spec.image is empty (and then
     * with command TOPO_GENERATOR_COMMAND), and always for the load driver. */
    const char *generator_image;
    /* The operator's --collector-image: used when spec.collector.image is empty. */
    const char *collector_image;
    /* Used when spec.imagePullPolicy is empty; NULL or "" = IfNotPresent. */
    const char *image_pull_policy;
};

/*
 * How a service's environment reaches its collector and its downstreams. All members may be
 * NULL: the defaults are the in-cluster ones (the collector Service "T-collector" or the
 * external host, and "http://<service>[:port]" for calls). `ho11yctl run` overrides them to
 * point at local processes.
 */
struct topo_env_opts {
    const char *otlp_grpc_endpoint; /* host:port for OTEL_EXPORTER_OTLP_ENDPOINT */
    const char *otlp_traces_url;    /* URL for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
    /* Returns the base URL ("http://127.0.0.1:40001") callers use to reach service; NULL =
     * the in-cluster default. The result is borrowed for the duration of the call. */
    const char *(*service_url)(void *arg, const char *service);
    void *service_url_arg;
};

/**
 * Renders every object for t, which must be valid (topo_load or topo_validate): on HO11Y_OK
 * *objects is a new cJSON array the caller frees with cJSON_Delete. The objects carry a
 * controller ownerReference to t when t->uid is set (objects read from the API server), none
 * otherwise. Returns HO11Y_VALIDATION (t is invalid) or HO11Y_INVAL (no image: neither the
 * Topology nor opts names one), with a message in err (if given), and *objects NULL.
 * t and opts are borrowed. Thread-safe.
 */
enum ho11y_err topo_render(const struct topology *t, const struct topo_render_opts *opts,
                           cJSON **objects, char *err, size_t errlen);

/**
 * The container environment of service index of t, in DESIGN §4 order: a new cJSON array of
 * {name, value} (and {name, valueFrom} for the user's valueFrom entries) the caller frees.
 * opts may be NULL (all defaults). Thread-safe.
 */
cJSON *topo_service_env(const struct topology *t, size_t index, const struct topo_env_opts *opts);

/**
 * The load driver's environment (HO11Y_LOAD_TARGET, HO11Y_LOAD_RATE and the telemetry
 * settings): a new cJSON array; NULL when t has no load. opts may be NULL.
 */
cJSON *topo_load_env(const struct topology *t, const struct topo_env_opts *opts);

/** "http://<name>" plus ":<port>" unless the port is 80: how callers in the cluster reach s. */
char *topo_service_url(const struct topo_service *s);

/**
 * The collector endpoints services send to, for Managed ("T-collector:4317",
 * "http://T-collector:4318/v1/traces") and External mode (the external host and ports).
 * Both results are new strings the caller frees; either out pointer may be NULL.
 */
void topo_collector_endpoints(const struct topology *t, char **grpc, char **traces_url);

/**
 * The Managed collector's configuration (the ConfigMap's config.yaml): a new YAML string the
 * caller frees. Deterministic; its SHA-256 (topo_config_hash) is the pods' config-hash.
 */
char *topo_collector_config(const struct topology *t);

/** Lowercase hex SHA-256 of a config text (65 bytes with the NUL). */
void topo_config_hash(const char *config, char out[65]);

/** The collector's ServiceAccount name: serviceAccountName when given, else "T-collector". */
char *topo_collector_service_account(const struct topology *t);

#endif
