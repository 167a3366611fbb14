/*
 * Helpers shared by the api/ source files (not part of the public interface).
 */
#ifndef HO11Y_API_TOPO_INTERNAL_H
#define HO11Y_API_TOPO_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "api/field_error.h"
#include "api/topology.h"

/* Field paths are built in fixed buffers; over-long user keys are cut (paths stay readable). */
#define TOPO_PATH_MAX 512

/**
 * Writes parent + "." + key (or key alone when parent is "") into out. Map entries are written
 * the same way ("resources.limits.memory"), as the API server does for custom resources.
 */
void topo__path_key(char *out, const char *parent, const char *key);
/** Writes parent + "[" + index + "]" into out. */
void topo__path_index(char *out, const char *parent, size_t index);

/** Formats a JSON value the way a type error shows it ("\"x\"", 1.5, true, "object"). */
void topo__value_repr(const cJSON *v, char *out, size_t outlen);

/** Reads the services array of spec into t; appends type errors. */
void topo__parse_services(const cJSON *spec, const char *path, unsigned flags, struct topology *t,
                          struct field_errors *errs);

/* Shape checks used by both parse files. */
int topo__expect_object(const cJSON *v, const char *path, struct field_errors *errs);
void topo__check_unknown(const cJSON *obj, const char *path, const char *const *known,
                         unsigned flags, struct field_errors *errs);
char *topo__read_string(const cJSON *obj, const char *key, const char *parent,
                        struct field_errors *errs);
void topo__read_int(const cJSON *obj, const char *key, const char *parent, struct topo_opt_int *out,
                    struct field_errors *errs);
void topo__read_bool(const cJSON *obj, const char *key, const char *parent,
                     struct topo_opt_bool *out, struct field_errors *errs);
/** Returns a copy of obj[key] when it is an object, else NULL (type error appended). */
cJSON *topo__read_object_copy(const cJSON *obj, const char *key, const char *parent,
                              struct field_errors *errs);
/** The member key of obj, treating JSON null as absent (as the API server does). */
const cJSON *topo__member(const cJSON *obj, const char *key);

/* Validation pieces (topo_validate_*.c). */
void topo__validate_service(const struct topology *t, size_t index, struct field_errors *errs);
void topo__validate_graph(const struct topology *t, struct field_errors *errs);
void topo__validate_resources(const cJSON *res, const char *path, struct field_errors *errs);
void topo__validate_env_from(const cJSON *from, const char *path, struct field_errors *errs);

/* Syntax checks (topo_syntax.c); each returns NULL when s is fine, else the reason. */
const char *topo__dns1035_label(const char *s);
const char *topo__dns1123_label(const char *s);
const char *topo__dns1123_subdomain(const char *s);
const char *topo__qualified_name(const char *s);
const char *topo__label_value(const char *s);
const char *topo__env_name(const char *s);
const char *topo__http_url(const char *s);
const char *topo__host(const char *s);
const char *topo__quantity(const char *s);
/** 1 when s is a name the operator sets in generator containers. */
int topo__env_reserved(const char *s);

#endif
