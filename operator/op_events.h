/*
 * Events (core/v1) on Topologies. Identical events (same object, type, reason and message) are
 * one Event object whose count and lastTimestamp are patched, as client-go's correlator does,
 * and this holds across restarts of the operator: the Event's name is the Topology's name and a
 * hash of its uid, type, reason and message, so when a create is answered 409 AlreadyExists the
 * existing Event is counted on instead. An event sent by this process in the last ten minutes is
 * patched straight away. Events are API writes, so reconcile only records them at transitions.
 * Thread-safe.
 */
#ifndef HO11Y_OP_EVENTS_H
#define HO11Y_OP_EVENTS_H

#include "common/error.h"
#include "kube/kube_client.h"
#include "op_cache.h"

struct op_events;

/** component is the source ("ho11y-operator"); instance identifies this process. Copied. */
struct op_events *op_events_new(const char *component, const char *instance);
/** Frees the recorder; NULL is a no-op. */
void op_events_free(struct op_events *ev);

/**
 * Records an event of type ("Normal"/"Warning") with reason and message on topology t (all
 * borrowed), using conn (borrowed; one thread at a time, as for kube_conn_do). One request (a
 * patch) when this process sent the event recently, else a create, and after 409 AlreadyExists
 * two patches (lastTimestamp, whose answer carries the stored count, then the count), so that
 * events need only the create and patch permissions of client-go's recorder. Returns the API
 * error (logged here as a warning); what failed is not counted as sent, so a retry sends it
 * again (a patch of the same count when the event was already remembered, else a create).
 */
enum ho11y_err op_events_record(struct op_events *ev, struct kube_conn *conn,
                                const struct op_topology *t, const char *type, const char *reason,
                                const char *message);

/** Forgets what was recorded for the Topology with this uid (borrowed; it was deleted). */
void op_events_forget(struct op_events *ev, const struct op_uid *uid);

/** Events created and patched so far (for tests and the benchmark). */
void op_events_counts(struct op_events *ev, unsigned long long *created,
                      unsigned long long *patched);

#endif
