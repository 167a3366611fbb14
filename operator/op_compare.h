/*
 * Comparing a desired object with a live one the way the operator owns fields: the live object
 * matches when it holds every field the desired object sets, with the same value. Fields the
 * server or other controllers add (defaults, extra labels, an autoscaler's replicas when the
 * Topology leaves them unset) are not drift. Lists are compared element by element and must
 * have the same length, except ownerReferences, which are matched by uid.
 */
#ifndef HO11Y_OP_COMPARE_H
#define HO11Y_OP_COMPARE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/**
 * Whether live holds every field of desired. On a difference, path (if given) receives the
 * first differing field ("spec.template.spec.containers[0].env[3].value"). Both borrowed. Pure.
 */
int op_subset(const cJSON *desired, const cJSON *live, char *path, size_t pathlen);

/**
 * The body of an update: a copy of live (without status and managedFields) with every field of
 * desired written over it; other owners' references and fields are kept. Caller frees.
 */
cJSON *op_merge_for_update(const cJSON *live, const cJSON *desired);

#endif
