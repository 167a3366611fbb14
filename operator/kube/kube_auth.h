/*
 * Credentials that change while the operator runs: the bearer token read from a file (re-read
 * at least once a minute and after a 401, as bound service-account tokens rotate), and tokens or
 * client certificates from exec credential plugins (re-run when expired or after a 401).
 * Thread-safe: every connection of a client shares one kube_auth.
 */
#ifndef HO11Y_KUBE_AUTH_H
#define HO11Y_KUBE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kube_config.h"

/* How often a token file is read again even without a 401 (client-go uses one minute). */
#define KUBE_AUTH_TOKEN_FILE_TTL_MS 60000
/* How long an exec plugin may run. */
#define KUBE_AUTH_EXEC_TIMEOUT_MS 30000

struct kube_auth;

/** Copies what it needs from cfg (borrowed). Never NULL. */
struct kube_auth *kube_auth_new(const struct kube_config *cfg);

/** Frees the provider; NULL is a no-op. */
void kube_auth_free(struct kube_auth *a);

/**
 * Returns in *token a fresh copy of the current bearer token (caller frees), or NULL when the
 * configuration has none. Reads the token file or runs the exec plugin when due. On failure the
 * message names the file or plugin (never the token). Thread-safe.
 */
enum ho11y_err kube_auth_token(struct kube_auth *a, char **token, char *err, size_t errlen);

/** After a 401: the next kube_auth_token re-reads the file or re-runs the plugin. */
void kube_auth_invalidate(struct kube_auth *a);

/**
 * After a 401 answered to a request that carried token (borrowed): like kube_auth_invalidate,
 * unless the current token differs from it already (another thread refreshed it meanwhile), so
 * that a burst of 401s re-runs a plugin once, not once per request. Thread-safe.
 */
void kube_auth_reject(struct kube_auth *a, const char *token);

/**
 * Sets how often the token file is read again without a 401 (default
 * KUBE_AUTH_TOKEN_FILE_TTL_MS; at most that is what in-cluster rotation needs). Thread-safe.
 */
void kube_auth_set_token_file_ttl(struct kube_auth *a, int64_t ms);

/**
 * The client certificate and key an exec plugin returned, as fresh copies the caller frees
 * (NULL when none). Returns a generation number that changes whenever they change, so a
 * connection can tell when to reload them.
 */
unsigned kube_auth_exec_cert(struct kube_auth *a, char **cert, char **key);

/** The current generation of exec certificates, without copying them. */
unsigned kube_auth_cert_generation(struct kube_auth *a);

/**
 * Parses an ExecCredential answer (exposed for tests): api_version is what the plugin was asked
 * for. On success fills the token (may be NULL), certificate, key (both or neither) and expiry
 * (0 = none); the caller frees the strings.
 */
enum ho11y_err kube_auth_parse_exec_output(const char *json, size_t len, const char *api_version,
                                           char **token, char **cert, char **key, long long *expiry,
                                           char *err, size_t errlen);

#endif
