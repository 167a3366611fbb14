/*
 * Helpers shared by the renderer's source files (not part of the public interface).
 */
#ifndef HO11Y_API_RENDER_INTERNAL_H
#define HO11Y_API_RENDER_INTERNAL_H

#include <cjson/cJSON.h>

#include "api/render.h"

/** Resolved images and pull policy for one render. */
struct render_ctx {
    const struct topology *t;
    const char *generator_image; /* spec.image or the operator's */
    int generator_is_ours;       /* the operator's image: run TOPO_GENERATOR_COMMAND */
    const char *load_image;
    const char *collector_image;
    const char *pull_policy;
};

/** New object metadata: name, namespace, labels for component, ownerReferences when known. */
cJSON *render__metadata(const struct render_ctx *ctx, const char *name, const char *component);
/** New label map for pods and selectors of object name; full adds the topology-wide labels. */
cJSON *render__labels(const struct render_ctx *ctx, const char *name, const char *component,
                      int full);
/** New {type: ClusterIP, selector, ports} Service object. ports is consumed. */
cJSON *render__service(const struct render_ctx *ctx, const char *name, const char *component,
                       cJSON *ports);
/** New {name, port, targetPort: name, protocol: TCP} Service port. */
cJSON *render__service_port(const char *name, long long port);
/** New {name, containerPort, protocol: TCP} container port. */
cJSON *render__container_port(const char *name, long long port);

/** A deep copy of a user-supplied tree with object keys sorted and nulls dropped. */
cJSON *render__sorted_copy(const cJSON *node);

/** Appends the collector's ServiceAccount (when created) and ConfigMap to objects. */
void render__collector_config_objects(const struct render_ctx *ctx, cJSON *objects);
/** New collector Service. */
cJSON *render__collector_service(const struct render_ctx *ctx);
/** New collector Deployment. */
cJSON *render__collector_deployment(const struct render_ctx *ctx);

#endif
