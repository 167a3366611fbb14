/*
 * The Kubernetes REST client (the only code of the operator that calls libcurl).
 *
 * A kube_client holds what every request shares (server, TLS settings, credentials, counters);
 * it is thread-safe. A kube_conn is one libcurl handle with its connection, reused request after
 * request; each thread uses its own. Requests carry connect and total timeouts, bounded
 * response sizes, percent-encoded paths and queries, and exactly one Content-Type. Error
 * responses keep the Kubernetes Status reason, code and message.
 */
#ifndef HO11Y_KUBE_CLIENT_H
#define HO11Y_KUBE_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/error.h"
#include "kube_config.h"

/* A resource type: group "" is the core group. */
struct kube_resource {
    const char *group;
    const char *version;
    const char *plural;
    const char *kind;
    int namespaced;
};

extern const struct kube_resource kube_res_deployments;
extern const struct kube_resource kube_res_services;
extern const struct kube_resource kube_res_configmaps;
extern const struct kube_resource kube_res_serviceaccounts;
extern const struct kube_resource kube_res_events;
extern const struct kube_resource kube_res_leases;
extern const struct kube_resource kube_res_namespaces;
extern const struct kube_resource kube_res_topologies;

/** "apps/v1" or "v1" for res, into out. */
void kube_resource_api_version(const struct kube_resource *res, char *out, size_t outlen);

struct kube_param {
    const char *key;
    const char *value;
};

/* Receives body bytes of a successful streaming request; a non-zero return aborts it. */
typedef enum ho11y_err (*kube_data_fn)(void *ud, const char *data, size_t len);

struct kube_req {
    const char *verb; /* GET POST PUT PATCH DELETE */
    const struct kube_resource *res;
    const char *ns;   /* NULL: cluster scope (or all namespaces for a list) */
    const char *name; /* NULL: the collection */
    const char *sub;  /* subresource ("status") or NULL */
    const struct kube_param *params;
    size_t nparams;
    const char *body; /* NULL: no body */
    size_t body_len;
    const char *content_type; /* NULL with a body: application/json */
    long timeout_ms;          /* 0: the client's request timeout */
    kube_data_fn on_data;     /* set: stream a 2xx body to it instead of storing it */
    void *ud;
    int no_retry; /* answer a 429 or 5xx with Retry-After at once instead of waiting and retrying */
    /* Not subject to the client-side rate limit: the leader's Lease renewals must not queue
     * behind reconcile traffic (client-go's elector has a client, and a limiter, of its own). */
    int no_throttle;
};

struct kube_status {
    long code;          /* HTTP status; 0 when no response arrived */
    char reason[64];    /* Status.reason ("NotFound"), "" when none */
    char message[1024]; /* Status.message, the start of a non-Status body, or transport error */
    long retry_after;   /* seconds (Retry-After or details.retryAfterSeconds), 0 when absent */
};

struct kube_resp {
    long code;
    const char *body; /* borrowed; valid until the next request on the same conn */
    size_t body_len;
    struct kube_status status;
};

struct kube_client_opts {
    long connect_timeout_ms; /* default 10 s */
    long request_timeout_ms; /* default 30 s (watches set their own) */
    size_t max_response;     /* default 32 MiB */
    const char *user_agent;  /* default "ho11y-operator/<version>" */
    /* Client-side rate limit, client-go's token bucket: qps requests a second on average,
     * burst at once; qps 0 (the default) sends without waiting, as controller-runtime does. */
    double qps;
    int burst; /* default (0) 1 */
};

/* Retries of a request answered 429 or 5xx with a Retry-After header (client-go retries 10
 * times; fewer here, as reconcile retries with its own backoff afterwards). */
#define KUBE_RETRY_MAX 5
/* The longest Retry-After waited for inside one request. */
#define KUBE_RETRY_AFTER_MAX_S 10

struct kube_client;
struct kube_conn;

/**
 * Initialises libcurl with the project's allocation wrappers. Call once in main before any
 * thread starts.
 */
void kube_global_init(void);
/** Undoes kube_global_init at exit (after every client is freed). */
void kube_global_cleanup(void);

/**
 * Creates a client for cfg (copied; cfg may be freed afterwards). opts may be NULL. Checks that
 * the files the config names exist. Logs a warning when TLS verification is off.
 */
enum ho11y_err kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts,
                               struct kube_client **out, char *err, size_t errlen);
/** Frees the client; every conn must be freed first. NULL is a no-op. */
void kube_client_free(struct kube_client *c);
/** The server URL (borrowed). */
const char *kube_client_server(const struct kube_client *c);

/**
 * A new connection (one curl handle) for the calling thread. cancel, when not NULL, is borrowed
 * and polled during transfers: once non-zero, requests end with HO11Y_CANCELLED.
 */
struct kube_conn *kube_conn_new(struct kube_client *c, const atomic_int *cancel);
/** Frees the connection; NULL is a no-op. */
void kube_conn_free(struct kube_conn *conn);

/**
 * Performs req. HO11Y_OK for a 2xx answer; otherwise the error maps the status
 * (UNAUTHORIZED 401, FORBIDDEN 403, NOTFOUND 404, EXISTS 409 AlreadyExists, CONFLICT other 409,
 * GONE 410, INVAL 400, VALIDATION 422, UNAVAILABLE 429/503, TIMEOUT 504 or a timeout, HTTP other
 * codes; NET, TLS, LIMIT, CANCELLED without an answer), resp->status holds the details and err
 * (optional) a message "VERB path: code Reason: message". After a 401 with a refreshable token
 * the request is retried once with a fresh one. A 429 or 5xx answer carrying a Retry-After
 * header is retried after that many seconds (at most KUBE_RETRY_AFTER_MAX_S each, up to
 * KUBE_RETRY_MAX times, as client-go does) unless req->no_retry is set; the wait ends early
 * with HO11Y_CANCELLED when the conn's cancel flag is raised. Not thread-safe per conn.
 */
enum ho11y_err kube_conn_do(struct kube_conn *conn, const struct kube_req *req,
                            struct kube_resp *resp, char *err, size_t errlen);

/**
 * Counts of finished requests by method and code (code 0: no response); each attempt (a retry
 * after a 401 or a Retry-After) counts. Calls fn for each method and code seen. Thread-safe.
 */
typedef void (*kube_stats_fn)(void *ud, const char *method, long code, unsigned long long count);
void kube_client_stats(struct kube_client *c, kube_stats_fn fn, void *ud);

/* client-go's rest_client_request_duration_seconds buckets, 5 ms to 60 s. */
#define KUBE_CLIENT_NBUCKETS 12
extern const double kube_client_duration_bounds[KUBE_CLIENT_NBUCKETS];

/**
 * Durations of kube_conn_do by method, as client-go's request latency: from the call until it
 * returns, retries and their waits included; watches (watch=true), which last as long as they
 * are allowed to, are left out. buckets[i] (borrowed for the call) counts the requests that
 * took <= kube_client_duration_bounds[i] (cumulative); sum is in seconds. fn is called for each
 * method with at least one request, with no lock held. Thread-safe.
 */
typedef void (*kube_duration_fn)(void *ud, const char *method, const unsigned long long *buckets,
                                 double sum, unsigned long long count);
void kube_client_durations(struct kube_client *c, kube_duration_fn fn, void *ud);
/**
 * The same for the waits of the client-side rate limit (client-go's
 * rest_client_rate_limiter_duration_seconds): one per request attempt, watches included, while
 * a limit is set. Thread-safe.
 */
void kube_client_rate_limiter_durations(struct kube_client *c, kube_duration_fn fn, void *ud);
/**
 * The server's host and port as its URL gives them ("10.0.0.1:6443", "[::1]:6443",
 * "api.example" without a port), the host label of client-go's metrics; "" when the URL does
 * not parse. Borrowed: valid while c lives. Thread-safe.
 */
const char *kube_client_host(const struct kube_client *c);

/** Percent-encodes s for a URL path segment or query value into a fresh string (caller frees). */
char *kube_escape(const char *s);

#endif
