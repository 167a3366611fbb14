/*
 * What the operator caches per object: the few fields reconcile needs, never whole objects.
 *
 * A Topology keeps its identity, generation, the compact JSON reconcile parses (apiVersion,
 * kind, name, namespace, uid, generation and spec) and its status. A child (Deployment, Service,
 * ConfigMap, ServiceAccount) keeps its uid, its controlling owner, the Deployment replica counts
 * and a digest of everything but status and server-maintained metadata: when the digest is the
 * one the operator last verified against the desired object, the child needs no look.
 */
#ifndef HO11Y_OP_CACHE_H
#define HO11Y_OP_CACHE_H

#include <cjson/cJSON.h>

#define OP_DIGEST_LEN 16

struct op_topology {
    char *ns;
    char *name;
    char *uid;
    long long generation;
    int deleting; /* deletionTimestamp set */
    char *json;   /* compact {apiVersion, kind, metadata{...}, spec} */
    char *status; /* compact status, NULL when absent */
};

struct op_child {
    char uid[48];
    char owner_uid[48]; /* controller ownerReference to a Topology, "" when none */
    char *owner_name;   /* its name, NULL when none */
    unsigned char digest[OP_DIGEST_LEN];
    long long generation;
    int deleting;
    /* Deployments only (has_status 0 otherwise). */
    int has_spec_replicas;
    long long spec_replicas;
    int has_status;
    long long observed_generation, replicas, ready_replicas, available_replicas, updated_replicas;
};

/** Makes the Topology record of obj (borrowed); NULL when obj lacks a name. Caller frees. */
struct op_topology *op_topology_trim(const cJSON *obj);
/** Frees a Topology record; NULL is a no-op. */
void op_topology_free(struct op_topology *t);
/** A deep copy (caller frees with op_topology_free). */
struct op_topology *op_topology_copy(const struct op_topology *t);

/** Makes the child record of obj (borrowed); NULL when obj lacks a name. Caller frees. */
struct op_child *op_child_trim(const cJSON *obj);
/** Frees a child record; NULL is a no-op. */
void op_child_free(struct op_child *c);

/**
 * The digest of a live object, ignoring status and the metadata the server maintains
 * (resourceVersion, generation, managedFields, creationTimestamp, selfLink). Keys are taken in
 * sorted order, so the order the server writes them in does not matter. Pure.
 */
void op_digest_live(const cJSON *obj, unsigned char out[OP_DIGEST_LEN]);
/** The digest of a whole tree (used for desired objects and statuses). Pure. */
void op_digest_all(const cJSON *obj, unsigned char out[OP_DIGEST_LEN]);

/** The controlling ownerReference of obj (borrowed result), or NULL. */
const cJSON *op_controller_ref(const cJSON *obj);

#endif
