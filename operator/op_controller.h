/*
 * The Topology controller: informers for Topologies and for the Deployments, Services,
 * ConfigMaps and ServiceAccounts it manages (selected by the managed-by label), a work queue of
 * Topology keys fed by their events (a child's events map to its owning Topology), and workers
 * that reconcile while this process leads. Thread-safe where stated.
 */
#ifndef HO11Y_OP_CONTROLLER_H
#define HO11Y_OP_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "kube/kube_client.h"

struct op_controller_opts {
    const char *ns;              /* NULL or "": every namespace */
    int workers;                 /* >= 1 */
    const char *generator_image; /* used when a Topology names none */
    const char *collector_image;
    const char *pull_policy; /* NULL: IfNotPresent */
    const char *identity;    /* this process, for events */
};

struct op_controller;

/** A stopped controller using client (borrowed; must outlive it). Strings copied. */
struct op_controller *op_controller_new(struct kube_client *client,
                                        const struct op_controller_opts *opts);
/** Starts the informers and the workers (which wait until op_controller_set_leading). */
enum ho11y_err op_controller_start(struct op_controller *ctl);
/**
 * Starts or stops reconciling. Becoming leader enqueues every Topology; losing leadership
 * aborts the requests in flight at once. Thread-safe.
 */
void op_controller_set_leading(struct op_controller *ctl, int leading);
/**
 * Queues every Topology of the cache for a reconcile (the periodic resync); a no-op unless this
 * process leads. Returns how many were queued. Thread-safe.
 */
size_t op_controller_resync(struct op_controller *ctl);
/**
 * Whether every informer has synced; when not, why (the names of those that have not) is
 * written to why. Thread-safe.
 */
int op_controller_synced(struct op_controller *ctl, char *why, size_t whylen);
/**
 * Stops taking work, waits up to drain_ms for reconciles in flight (then aborts them), stops
 * the workers and the informers. A leader with drain_ms > 0 first writes the status changes
 * postponed by the progress interval, within the same drain_ms. Idempotent.
 */
void op_controller_stop(struct op_controller *ctl, int64_t drain_ms);
/** Frees a stopped controller; NULL is a no-op. */
void op_controller_free(struct op_controller *ctl);
/**
 * Appends the controller's metrics in the Prometheus text format: reconcile totals and times,
 * workers (configured, busy), the work queue (depth, adds, retries, how long keys wait and are
 * worked on, the work in progress), REST client requests and their durations, Topologies by
 * condition, events. Thread-safe.
 */
void op_controller_write_metrics(struct op_controller *ctl, struct hbuf *out);
/** Blocks until every informer synced or timeout_ms passed; returns whether synced. */
int op_controller_wait_synced(struct op_controller *ctl, int64_t timeout_ms);

#endif
