/*
 * What the operator caches per object: the few fields reconcile needs, never whole objects.
 *
 * A Topology keeps its identity, generation, and its spec and status as compact JSON. A child
 * (Deployment, Service, ConfigMap, ServiceAccount) keeps its uid, its controlling owner, the
 * Deployment replica counts and a digest of everything but status and server-maintained
 * metadata: when the digest is the one the operator last verified against the desired object,
 * the child needs no look.
 */
#ifndef HO11Y_OP_CACHE_H
#define HO11Y_OP_CACHE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Digests are the first 8 bytes of a SHA-256: a changed object keeps its digest with a
 * probability of 2^-64, and ten thousand cached children each save 8 bytes (24 where the
 * controller also remembers what it verified). */
#define OP_DIGEST_LEN 8

/*
 * A uid in 16 bytes. Kubernetes uids are UUIDs: their canonical lowercase text is stored as its
 * 16 bytes; any other text as the first 16 bytes of its SHA-256, so that equal uids still
 * compare equal (op_child keeps such text beside the record for requests). "" is all zeros.
 */
#define OP_UID_LEN 16
struct op_uid {
    unsigned char b[OP_UID_LEN];
};

/** Fills u from the uid text s (NULL or "" give all zeros); returns 1 when s is a UUID. Pure. */
int op_uid_set(struct op_uid *u, const char *s);
/** Whether a and b are the same uid. Pure. */
int op_uid_eq(const struct op_uid *a, const struct op_uid *b);
/** Whether u is the empty uid. Pure. */
int op_uid_is_zero(const struct op_uid *u);

_Static_assert(OP_UID_LEN == 2 * OP_DIGEST_LEN, "a uid folds to one digest's length");

/** The 16 bytes of u folded to OP_DIGEST_LEN (its halves XORed), the short form kept where a
 * uid is only compared. Pure. */
static inline void op_uid_fold(const struct op_uid *u, unsigned char out[OP_DIGEST_LEN])
{
    for (int i = 0; i < OP_DIGEST_LEN; i++)
        out[i] = (unsigned char)(u->b[i] ^ u->b[i + OP_DIGEST_LEN]);
}

/* Who controls a child: nobody, a Topology (owner_uid and the owner's name are set), or
 * something else. */
enum op_owner { OP_OWNER_NONE, OP_OWNER_TOPOLOGY, OP_OWNER_OTHER };

/* What a Deployment's record adds (op_child_deployment). Of the two generations only their
 * order matters, so the record keeps that. */
struct op_deployment_state {
    int spec_replicas, replicas, ready_replicas, available_replicas, updated_replicas;
    unsigned char has_spec_replicas, has_status;
    unsigned char observed; /* status.observedGeneration >= metadata.generation */
};

/*
 * One allocation per child: a thousand Topologies have ten thousand of them, so the record
 * holds only what every kind needs; a Deployment's replica counts follow in data.
 */
struct op_child {
    unsigned char digest[OP_DIGEST_LEN];
    struct op_uid uid;
    struct op_uid owner_uid; /* the controlling Topology's uid when owner is OP_OWNER_TOPOLOGY */
    unsigned char owner;     /* enum op_owner */
    unsigned char deleting;
    unsigned char uid_text;   /* uid is not a UUID: its text follows the owner's name */
    unsigned char deployment; /* data starts with a struct op_deployment_state */
    /* [the Deployment state], the owner's name (or "") and NUL, [the uid text and NUL] */
    unsigned char data[];
};

/** The name of the controlling Topology (borrowed from c), or NULL when none. */
const char *op_child_owner_name(const struct op_child *c);
/**
 * The uid text of c into out (at most outlen - 1 characters). c must be a whole record (from
 * the cache), not a copy of its fixed part.
 */
void op_child_uid_text(const struct op_child *c, char *out, size_t outlen);
/** The Deployment state of c into out; all zero (has_status 0) for other kinds. */
void op_child_deployment(const struct op_child *c, struct op_deployment_state *out);
/** Whether c is controlled by the Topology with uid topo_uid. Pure. */
int op_child_owned_by(const struct op_child *c, const struct op_uid *topo_uid);

/* A Topology record and its strings are one allocation: the strings are read-only. */
struct op_topology {
    const char *ns;
    const char *name;
    const char *uid;
    struct op_uid id; /* uid, for comparisons with the children's owner */
    long long generation;
    int deleting;       /* deletionTimestamp set */
    const char *json;   /* compact spec, "" when absent */
    const char *status; /* compact status, NULL when absent */
    /* json and status are packed (records in the cache, from op_topology_trim): compare them
     * as they are, read them through op_topology_copy, op_topology_object and
     * op_topology_status_text. */
    int packed;
};

/**
 * Makes the (packed) Topology record of obj (borrowed); NULL when obj lacks a name. The record
 * starts head bytes (a multiple of 8, zeroed) into a block from malloc: the caller frees the
 * block, with op_topology_free when head is 0.
 */
struct op_topology *op_topology_trim(const cJSON *obj, size_t head);
/** Frees a Topology record made with head 0 or by op_topology_copy; NULL is a no-op. */
void op_topology_free(struct op_topology *t);
/** A deep copy with json and status unpacked (caller frees with op_topology_free). */
struct op_topology *op_topology_copy(const struct op_topology *t);
/**
 * The Topology as the api/ parser reads it: apiVersion, kind, metadata (name, namespace, uid,
 * generation) and spec. Caller frees with cJSON_Delete.
 */
cJSON *op_topology_object(const struct op_topology *t);
/** The status of t as compact JSON, packed or not, or NULL when absent. Caller frees. */
char *op_topology_status_text(const struct op_topology *t);
/** Whether two Topology records hold the same fields. Pure. */
int op_topology_same(const struct op_topology *a, const struct op_topology *b);

/**
 * Makes the child record of obj (borrowed); NULL when obj lacks a name. The record starts head
 * bytes (a multiple of 8, zeroed) into a block from malloc, which the caller frees.
 */
struct op_child *op_child_trim(const cJSON *obj, size_t head);
/** Whether two child records hold the same fields. Pure. */
int op_child_same(const struct op_child *a, const struct op_child *b);

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
