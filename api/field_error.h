/*
 * Field errors in the shape Kubernetes uses (k8s.io/apimachinery/pkg/util/validation/field):
 * a field path, an error type, the bad value and a detail, printed as
 *
 *     spec.services[1].calls[0].service: Not found: "downstream9"
 *     spec.services[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive
 *     spec.collector.external.host: Required value: needed when mode is External
 *
 * A list collects every error of an object (validation reports all of them, not the first).
 * The list is bounded: past FIELD_ERRORS_MAX entries further errors are only counted, so
 * hostile input cannot make it grow without limit. Not thread-safe; one list per caller.
 */
#ifndef HO11Y_API_FIELD_ERROR_H
#define HO11Y_API_FIELD_ERROR_H

#include <stddef.h>

#include "common/doc.h"

#define FIELD_ERRORS_MAX 256

/* X(name, type string as Kubernetes prints it, cause reason in a Status). */
#define FIELD_ERROR_TYPE_MAP(X)                                                                    \
    X(REQUIRED, "Required value", "FieldValueRequired")                                            \
    X(INVALID, "Invalid value", "FieldValueInvalid")                                               \
    X(NOT_FOUND, "Not found", "FieldValueNotFound")                                                \
    X(DUPLICATE, "Duplicate value", "FieldValueDuplicate")                                         \
    X(NOT_SUPPORTED, "Unsupported value", "FieldValueNotSupported")                                \
    X(TOO_MANY, "Too many", "FieldValueTooMany")                                                   \
    X(TOO_LONG, "Too long", "FieldValueTooLong")                                                   \
    X(FORBIDDEN, "Forbidden", "FieldValueForbidden")                                               \
    X(UNKNOWN_FIELD, "Unknown field", "FieldValueUnknown")                                         \
    X(INTERNAL, "Internal error", "InternalError")

enum field_error_type {
#define FIELD_ERROR_ENUM(name, str, reason) FIELD_ERR_##name,
    FIELD_ERROR_TYPE_MAP(FIELD_ERROR_ENUM)
#undef FIELD_ERROR_ENUM
};

struct field_error {
    enum field_error_type type;
    char *field;  /* "spec.services[1].calls[0].service" */
    char *value;  /* the bad value as printed ("\"x\"", "70000", "true"); NULL = not printed */
    char *detail; /* why, or NULL */
    int line;     /* 1-based line in the source document; 0 when unknown */
};

struct field_errors {
    struct field_error *items;
    size_t count;
    size_t cap;
    size_t dropped; /* errors past FIELD_ERRORS_MAX, counted but not kept */
};

/** "Not found" etc.; a static string. */
const char *field_error_type_string(enum field_error_type type);
/** The Kubernetes Status cause reason ("FieldValueNotFound"); a static string. */
const char *field_error_type_reason(enum field_error_type type);

/** Prepares an empty list. Caller owns the storage. */
void field_errors_init(struct field_errors *list);
/** Frees every entry; the list is empty afterwards and may be reused. NULL is a no-op. */
void field_errors_cleanup(struct field_errors *list);

/**
 * Appends an error. field is copied; value is copied and must already be formatted (use
 * field_value_quote/field_value_int, or NULL to omit it); detail is a printf format (NULL for
 * none). Kubernetes never prints the value of Required, Forbidden, Too long and Internal errors,
 * so it is dropped for those types.
 */
void field_errors_add(struct field_errors *list, enum field_error_type type, const char *field,
                      const char *value, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Appends an error whose value is the string s, quoted as Go's %q does (long values cut). */
void field_errors_add_str(struct field_errors *list, enum field_error_type type, const char *field,
                          const char *s, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Appends an error whose value is the integer v. */
void field_errors_add_int(struct field_errors *list, enum field_error_type type, const char *field,
                          long long v, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** True when some error is recorded for exactly this field. */
int field_errors_has(const struct field_errors *list, const char *field);

/**
 * Writes s quoted as Go's %q prints it into out (outlen bytes, always terminated): control
 * characters and invalid UTF-8 escaped; only the first 200 bytes of s are shown, followed by
 * "...(N bytes)" when longer.
 */
void field_value_quote(const char *s, char *out, size_t outlen);

/**
 * Formats one error the Kubernetes way ("field: Type: value: detail") into out (always
 * terminated, cut to outlen). Returns out.
 */
char *field_error_format(const struct field_error *e, char *out, size_t outlen);

/**
 * The whole list as one message the way the API server joins them: the single error, or
 * "[e1, e2, ...]"; with "and N more errors" when some were dropped. Caller frees. "" when empty.
 */
char *field_errors_join(const struct field_errors *list);

/**
 * Fills in the line of every error that has none by looking its field up in doc (the nearest
 * existing ancestor when the field itself is absent). doc is borrowed; NULL does nothing.
 */
void field_errors_locate(struct field_errors *list, const struct doc *doc);

#endif
