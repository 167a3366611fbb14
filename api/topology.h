/*
 * The Topology custom resource (ho11y.dev/v1alpha1): parsing from a cJSON tree (from YAML or
 * JSON alike, see common/doc.h), defaulting and validation with Kubernetes-style field errors.
 * Rendering the objects the operator creates is in api/render.h.
 *
 * Typical use (the operator, with an object from the API server):
 *
 *     struct field_errors errs;
 *     struct topology *t = NULL;
 *     field_errors_init(&errs);
 *     if (topo_load(obj, NULL, 0, &t, &errs) == HO11Y_OK)
 *         ... topo_render(t, &opts, &objects, err, sizeof(err)) ...
 *     else
 *         message = field_errors_join(&errs);   // the InvalidSpec condition
 *     topo_free(t);
 *     field_errors_cleanup(&errs);
 *
 * Every function here is pure: no I/O, no global state; different topologies may be used from
 * different threads at once, and a topology that is not being changed may be read from several.
 *
 * Optional fields are tri-state: absent (NULL, or .set == 0) is distinct from an explicit zero
 * or empty value, because an absent replicas count is left to autoscalers (the renderer then
 * omits it) while an explicit one is enforced.
 */
#ifndef HO11Y_API_TOPOLOGY_H
#define HO11Y_API_TOPOLOGY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "api/constants.h"
#include "api/field_error.h"
#include "common/doc.h"
#include "common/error.h"

struct topo_opt_int {
    int set;
    long long value;
};

struct topo_opt_bool {
    int set;
    int value;
};

/* A string map (podLabels, podAnnotations), kept sorted by key so output is deterministic. */
struct topo_kv {
    char *key;
    char *value;
};

/* One downstream call: exactly one of service, url, dummy is set in a valid topology. */
struct topo_call {
    char *service;        /* another service of the Topology; NULL when absent */
    char *url;            /* absolute http(s) URL; NULL when absent */
    int has_dummy;        /* dummy: {size, duration} present */
    char *dummy_size;     /* as written ("187kB"; an integer is kept as its digits); NULL = "0" */
    char *dummy_duration; /* Go duration as written ("42ms"); NULL = "0s" */
};

/* One extra environment variable: value or valueFrom (a validated copy), never both. */
struct topo_env_var {
    char *name;
    char *value;       /* NULL when absent */
    cJSON *value_from; /* NULL when absent; owned */
};

struct topo_service {
    char *name;
    struct topo_opt_int replicas; /* unset: left to the cluster (and autoscalers) */
    struct topo_opt_int port;     /* Service port; default 80 */
    int has_failure;              /* failure: {...} present */
    struct topo_opt_int failure_rate;
    int failure_codes_set;
    long long *failure_codes;
    size_t nfailure_codes;
    int has_latency;
    char *latency_fixed;  /* NULL = "0s" */
    char *latency_jitter; /* NULL = "0s" */
    struct topo_opt_int cutoff_tps;
    struct topo_opt_bool parallel;
    struct topo_call *calls;
    size_t ncalls;
    struct topo_env_var *env;
    size_t nenv;
    cJSON *resources; /* validated copy of a ResourceRequirements subset; NULL when absent */
    struct topo_kv *pod_labels;
    size_t npod_labels;
    struct topo_kv *pod_annotations;
    size_t npod_annotations;
};

enum topo_collector_mode { TOPO_COLLECTOR_MANAGED, TOPO_COLLECTOR_EXTERNAL };

struct topo_collector {
    char *mode; /* "Managed" or "External" as written; NULL = Managed */
    int has_external;
    char *external_host;
    struct topo_opt_int external_grpc_port; /* default 4317 */
    struct topo_opt_int external_http_port; /* default 4318 */
    char *image;                            /* NULL or "" = the operator's collector image */
    struct topo_opt_int replicas;
    char *region;
    char *service_account_name; /* NULL or "" = create <topology>-collector */
    char *role_arn;
    struct topo_opt_bool awsxray_enabled; /* default true */
    char *otlp_endpoint;                  /* NULL or "" = no OTLP exporter */
    struct topo_opt_bool otlp_insecure;
    struct topo_opt_bool debug_enabled;
    cJSON *resources;
};

struct topo_load {
    int set;
    char *target;
    struct topo_opt_int rate; /* default 5 */
};

struct topology {
    char *name;      /* metadata.name */
    char *namespace; /* metadata.namespace; NULL when absent (e.g. a file for kubectl -n) */
    char *uid;       /* metadata.uid; NULL when absent (not yet created) */
    struct topo_opt_int generation;
    char *image;             /* NULL or "" = the operator's generator image */
    char *image_pull_policy; /* NULL or "" = the operator's default */
    struct topo_collector collector;
    struct topo_service *services;
    size_t nservices;
    struct topo_load load;
};

/* topo_parse flags. */
enum {
    /*
     * Refuse fields the API does not define (as kubectl's strict field validation does). Off for
     * objects from the API server, which has pruned them already and adds metadata of its own.
     */
    TOPO_PARSE_STRICT = 1 << 0,
};

/** True when obj is a mapping whose kind is "Topology" (whatever its apiVersion). Borrowed. */
int topo_is_topology(const cJSON *obj);

/**
 * Reads a Topology object. Type errors, unknown fields (with TOPO_PARSE_STRICT), a wrong
 * apiVersion or kind are appended to errs; whatever could be read is returned in *out (never
 * NULL on return, even with errors, so that validation can report everything at once).
 * obj is borrowed and not kept; the caller frees *out with topo_free.
 * Returns HO11Y_OK, or HO11Y_VALIDATION when it appended errors, or HO11Y_INVAL when obj is
 * not a mapping (then *out is NULL and one error is appended).
 */
enum ho11y_err topo_parse(const cJSON *obj, unsigned flags, struct topology **out,
                          struct field_errors *errs);

/**
 * Fills every absent field that has a default with it, exactly as the CRD schema's defaults do
 * (so a Topology read back from the API server and one read from a file look the same).
 * Idempotent.
 */
void topo_apply_defaults(struct topology *t);

/**
 * Checks every rule of the API (DESIGN §3) and appends one error per broken rule to errs.
 * Works on defaulted and undefaulted topologies alike (absent fields count as their defaults).
 * Returns HO11Y_OK or HO11Y_VALIDATION. t is borrowed.
 */
enum ho11y_err topo_validate(const struct topology *t, struct field_errors *errs);

/**
 * topo_parse + topo_apply_defaults + topo_validate, then (when doc is given) the source line of
 * every error. On HO11Y_OK *out holds a valid, defaulted topology; otherwise *out is NULL and
 * errs holds every error found. doc (borrowed, may be NULL) is the document obj came from.
 */
enum ho11y_err topo_load(const cJSON *obj, const struct doc *doc, unsigned flags,
                         struct topology **out, struct field_errors *errs);

/** Frees a topology and everything it owns. NULL is a no-op. */
void topo_free(struct topology *t);

/** The collector mode (absent = Managed). */
enum topo_collector_mode topo_collector_mode(const struct topology *t);

/** Index of the service named name, or -1. */
long topo_service_index(const struct topology *t, const char *name);

/** The service's port with its default applied. */
long long topo_service_port(const struct topo_service *s);

/** Number of calls of all services (for summaries). */
size_t topo_call_count(const struct topology *t);

#endif
