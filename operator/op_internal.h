/*
 * The controller's shared state, for its own modules (op_controller.c, op_reconcile.c,
 * op_metrics.c). Not a public interface.
 */
#ifndef HO11Y_OP_INTERNAL_H
#define HO11Y_OP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "kube/kube_informer.h"
#include "kube/kube_map.h"
#include "kube/kube_queue.h"
#include "op_cache.h"
#include "op_controller.h"
#include "op_events.h"
#include "op_metrics.h"

enum op_kind {
    OP_KIND_SERVICEACCOUNT,
    OP_KIND_CONFIGMAP,
    OP_KIND_SERVICE,
    OP_KIND_DEPLOYMENT,
    OP_KIND_COUNT
};

/* What the operator last established about one child ("Kind/namespace/name"): the live
 * object with digest `live` (uid `uid`) holds every field of the desired object with digest
 * `desired`; or, with deleted set, that the operator deleted it. */
struct op_verified {
    unsigned char uid[OP_DIGEST_LEN]; /* op_uid_fold of the object's uid */
    unsigned char live[OP_DIGEST_LEN];
    unsigned char desired[OP_DIGEST_LEN];
    unsigned char deleted;
};

/** Whether the record v is about the object with uid u. Pure. */
int op__verified_uid_is(const struct op_verified *v, const struct op_uid *u);

struct op_verified_slot;

/* What the operator remembers per Topology ("namespace/name") between reconciles. */
struct op_topo_state {
    struct op_uid uid;            /* of the Topology this state is about */
    long long invalid_generation; /* generation whose InvalidSpec event was sent, -1 none */
    char *conflicts;              /* the NameConflict message last reported, NULL none */
    int status_written;
    unsigned char status_digest[OP_DIGEST_LEN];   /* of the status last written */
    unsigned char status_skeleton[OP_DIGEST_LEN]; /* of its op_status_skeleton */
    int64_t status_written_ms;                    /* when (kube_now_ms) */
    int external_conflict; /* a conflict with an object outside the cache: recheck later */
    int status_postponed;  /* a progress-only status change waits for its interval */
    int error_reported;    /* the ApiError event was sent for the current run of failures */
    /* The children this Topology verified or deleted, in one array (op_state.c): 29 bytes per
     * child, where a map entry and a record per child took about 140. */
    struct op_verified_slot *verified;
    unsigned nverified;
};

struct op_child_source {
    struct op_controller *ctl;
    enum op_kind kind;
};

struct op_controller {
    struct kube_client *client;
    char *ns;
    int workers;
    char *generator_image;
    char *collector_image;
    char *pull_policy;
    char *identity;

    struct kube_informer *topologies;
    struct kube_informer *children[OP_KIND_COUNT];
    struct kube_informer_ops topology_ops; /* the informers borrow these */
    struct kube_informer_ops child_ops[OP_KIND_COUNT];
    struct op_child_source sources[OP_KIND_COUNT];
    struct kube_queue *queue;
    struct op_events *events;
    struct op_metrics metrics;

    pthread_mutex_t state_lock; /* states (with what was verified), conflicts */
    struct kube_map states;     /* "ns/name" -> struct op_topo_state */
    struct kube_map conflicts;  /* "Kind/ns/name" -> char* topology keys waiting ("\n"-sep) */

    pthread_mutex_t lead_lock;
    pthread_cond_t lead_cond;
    int leading;
    int stopping;
    atomic_int cancel; /* aborts the workers' requests (leadership lost, hard stop) */
    atomic_int in_flight;
    atomic_int flushing; /* stopping: postponed status writes are written now */
    pthread_t *threads;
    int started;
};

extern const struct kube_resource *const op_kind_resource[OP_KIND_COUNT];
extern const char *const op_kind_name[OP_KIND_COUNT];

/** The kind of a rendered object, or -1. */
int op_kind_of(const char *kind);

/* Reconcile outcome. */
enum op_result { OP_RESULT_SUCCESS, OP_RESULT_ERROR, OP_RESULT_REQUEUE_AFTER };

/**
 * Reconciles the Topology key ("namespace/name") using conn. On OP_RESULT_REQUEUE_AFTER
 * *after_ms says when to look again. Called by the workers; never two calls for one key. It
 * sets this thread's log context (controller, namespace, name, reconcileID) and leaves it
 * set, so the worker's own lines about the outcome carry it; the worker clears it.
 */
enum op_result op_reconcile(struct op_controller *ctl, struct kube_conn *conn, const char *key,
                            int64_t *after_ms);

/* ---- op_state.c: what is remembered between reconciles ---- */

/**
 * Records what was established about child ck ("Kind/ns/name") of Topology t (key tkey): the
 * object with uid (may be NULL) whose digest is live holds the desired object with digest
 * desired, or (deleted) that the operator deleted it; live and desired may be NULL (zero).
 */
void op__verified_put(struct op_controller *ctl, const struct op_topology *t, const char *tkey,
                      const char *ck, const char *uid, const unsigned char live[OP_DIGEST_LEN],
                      const unsigned char desired[OP_DIGEST_LEN], int deleted);
/** Copies the record of child ck of Topology tkey into out; returns 0 when there is none. */
int op__verified_get(struct op_controller *ctl, const char *tkey, const char *ck,
                     struct op_verified *out);
/**
 * Drops the record of child ck of Topology tkey when it is about the object with uid (NULL:
 * any): that object is gone or no longer controlled by the Topology.
 */
void op__verified_forget(struct op_controller *ctl, const char *tkey, const char *ck,
                         const struct op_uid *uid);
/** Registers Topology key as waiting for the name of child ck (held by another object). */
void op__conflict_add(struct op_controller *ctl, const char *ck, const char *key);
/** Removes Topology key from every waiting list (re-registered when still in conflict). */
void op__conflict_clear(struct op_controller *ctl, const char *key);
/**
 * The state of Topology key (t borrowed), made when missing or when t has another uid (deleted
 * and created again). The caller holds ctl->state_lock; the result is valid while it does.
 */
struct op_topo_state *op__state_get(struct op_controller *ctl, const struct op_topology *t,
                                    const char *key);
/** Frees a state (what op__state_get made); NULL is a no-op. */
void op__state_free(struct op_topo_state *s);

/** "Kind/ns/name" into out. */
void op_child_key(char *out, size_t outlen, enum op_kind kind, const char *ns, const char *name);

#endif
