/*
 * The project's one error enum. Every fallible function returns an `enum ho11y_err`; HO11Y_OK is
 * zero so that `if(result) goto out;` reads naturally. Details go into caller-supplied buffers.
 */
#ifndef HO11Y_COMMON_ERROR_H
#define HO11Y_COMMON_ERROR_H

/* X(name, message): one table for the enum, its names and its messages. */
#define HO11Y_ERR_MAP(X)                                                                           \
    X(OK, "success")                                                                               \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(PARSE, "malformed input")                                                                    \
    X(LIMIT, "input exceeds a size or depth limit")                                                \
    X(VALIDATION, "validation failed")                                                             \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(CONFLICT, "conflict")                                                                        \
    X(IO, "input/output error")                                                                    \
    X(NET, "network error")                                                                        \
    X(TLS, "TLS error")                                                                            \
    X(TIMEOUT, "timed out")                                                                        \
    X(HTTP, "unexpected HTTP status")                                                              \
    X(UNAUTHORIZED, "unauthorized")                                                                \
    X(FORBIDDEN, "forbidden")                                                                      \
    X(GONE, "resource expired")                                                                    \
    X(UNAVAILABLE, "service unavailable")                                                          \
    X(CONFIG, "invalid configuration")                                                             \
    X(CANCELLED, "cancelled")                                                                      \
    X(INTERNAL, "internal error")

enum ho11y_err {
#define HO11Y_ERR_ENUM(name, msg) HO11Y_##name,
    HO11Y_ERR_MAP(HO11Y_ERR_ENUM)
#undef HO11Y_ERR_ENUM
        HO11Y_ERR__COUNT
};

/** Returns the enum's name without prefix ("NOTFOUND"); a static string, never NULL. */
const char *ho11y_err_name(enum ho11y_err err);

/** Returns a short human message ("not found"); a static string, never NULL. */
const char *ho11y_err_message(enum ho11y_err err);

#endif
