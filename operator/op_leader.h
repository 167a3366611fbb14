/*
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: try to acquire every
 * retry period (with jitter); the leader renews every retry period and stops leading when no
 * renewal succeeded within the renew deadline; expiry of someone else's lease is judged by the
 * local time the record was last seen to change, not by the holder's clock. On a clean stop
 * the leader releases the lease (empty holder, 1 s duration) so a successor takes over fast.
 */
#ifndef HO11Y_OP_LEADER_H
#define HO11Y_OP_LEADER_H

#include <stdint.h>

#include "common/error.h"
#include "kube/kube_client.h"

struct op_leader_opts {
    const char *ns;
    const char *name;     /* the Lease */
    const char *identity; /* hostname plus a random suffix */
    int64_t lease_duration_ms;
    int64_t renew_deadline_ms;
    int64_t retry_period_ms;
    /*
     * Called when leadership starts (1) or stops (0): on the elector's thread, or on the thread
     * calling op_leader_stop. After a loss (a lease not renewed in time) the elector campaigns
     * no more: like controller-runtime, the process is expected to exit and be restarted.
     */
    void (*on_change)(void *ud, int leading);
    void *ud;
};

struct op_leader;

/**
 * Checks lease timings as client-go does: lease > renew deadline > 1.2 x retry period, the lease
 * at least 1 s and the retry period at least 100 ms. HO11Y_INVAL with a message naming the
 * flags otherwise. Pure.
 */
enum ho11y_err op_leader_check_timings(int64_t lease_ms, int64_t renew_ms, int64_t retry_ms,
                                       char *err, size_t errlen);

/**
 * Checks the timings (lease > renew deadline > 1.2 x retry period) and makes a stopped elector;
 * HO11Y_INVAL with a message otherwise. Strings are copied; client is borrowed.
 */
enum ho11y_err op_leader_new(struct kube_client *client, const struct op_leader_opts *opts,
                             struct op_leader **out, char *err, size_t errlen);
/** Starts the election thread. */
enum ho11y_err op_leader_start(struct op_leader *l);
/** Whether this process currently leads. Thread-safe. */
int op_leader_is_leader(struct op_leader *l);
/**
 * Stops the elector; when leading, calls on_change(0) and releases the lease. Idempotent.
 */
void op_leader_stop(struct op_leader *l);
/** Frees a stopped elector; NULL is a no-op. */
void op_leader_free(struct op_leader *l);
/** The Lease name (borrowed). */
const char *op_leader_name(const struct op_leader *l);

#endif
