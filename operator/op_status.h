/*
 * The Topology status the operator writes (DESIGN §3, §4): observedGeneration, readyServices,
 * the Reconciled and Ready conditions (metav1.Condition shape, lastTransitionTime kept while
 * the status value is unchanged), per-service readiness and the collector.
 */
#ifndef HO11Y_OP_STATUS_H
#define HO11Y_OP_STATUS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define OP_REASON_RECONCILED    "Reconciled"
#define OP_REASON_INVALID_SPEC  "InvalidSpec"
#define OP_REASON_NAME_CONFLICT "NameConflict"
#define OP_REASON_API_ERROR     "ApiError"
#define OP_REASON_READY         "Ready"
#define OP_REASON_PROGRESSING   "Progressing"

struct op_condition {
    int status; /* 1 True, 0 False */
    const char *reason;
    const char *message;
};

struct op_service_status {
    const char *name;
    long long replicas;
    long long ready_replicas;
    const char *url;
    int ready; /* every replica available for the Deployment's current generation */
};

struct op_status_input {
    long long generation;
    struct op_condition reconciled;
    struct op_condition ready;
    /* services: NULL keeps the services, readyServices and collector of the old status (used
     * when the spec is invalid and nothing was rendered). */
    const struct op_service_status *services;
    size_t nservices;
    int has_collector;
    const char *collector_endpoint;
    int collector_has_ready;
    long long collector_ready_replicas;
    const char *collector_config_hash;
};

/**
 * Builds the new status from in and the current one (borrowed, may be NULL); now is the time
 * used for conditions whose status changes ("2026-11-25T18:20:07Z"). Caller frees the result.
 */
cJSON *op_status_build(const struct op_status_input *in, const cJSON *old, const char *now);

/**
 * Whether two statuses are the same for the operator's purposes (order-insensitive). NULL is
 * an absent status.
 */
int op_status_equal(const cJSON *a, const cJSON *b);

/**
 * The body of a merge patch that turns old into new_ on the status subresource:
 * {"status": {...every field of new_..., "<field of old not in new_>": null}}, nested objects
 * alike. Caller frees.
 */
char *op_status_patch(const cJSON *new_, const cJSON *old);

/**
 * A copy of status without the fields that only report progress while nothing else changes:
 * readyServices, the readyReplicas of each service and of the collector, and the Ready
 * condition's message. Two statuses with equal skeletons differ at most in progress. status is
 * borrowed (NULL gives NULL); caller frees. Pure.
 */
cJSON *op_status_skeleton(const cJSON *status);

/** The condition of type in status (both borrowed; the result from status), or NULL. */
const cJSON *op_status_find_condition(const cJSON *status, const char *type);

/** The status and reason of condition type in status (borrowed), or 0 when absent. */
int op_status_condition(const cJSON *status, const char *type, int *is_true, const char **reason);

#endif
