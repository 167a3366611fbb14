/*
 * The generator's configuration, read only from the environment.
 *
 * Upstream ho11y names are honoured with their meaning (HO11Y_PORT, HO11Y_LOG_DEST,
 * HO11Y_INJECT_FAILURE, DOWNSTREAM0.., HO11Y_CUTOFF_TPS, OTEL_RESOURCE_ATTRIB, DISABLE_OM,
 * OTEL_EXPORTER_OTLP_ENDPOINT), together with the standard OpenTelemetry variables and our own
 * HO11Y_* knobs. A malformed value is an error naming the variable: the process never runs with
 * a value it did not understand. Formats that are ours:
 *
 *   HO11Y_FAILURE_RATE   percent, 0..100, decimals allowed ("12.5"); overrides the 49 % of
 *                        HO11Y_INJECT_FAILURE and turns failures on by itself
 *   HO11Y_FAILURE_CODES  comma list of HTTP codes 100..599 (default 400,403,301,404,501)
 *   HO11Y_LATENCY        FIXED[+JITTER] Go durations, e.g. "40ms+10ms": every request waits
 *                        FIXED plus a uniform draw in [0, JITTER]; "FIXED,JITTER" and
 *                        "fixed=40ms,jitter=10ms" are accepted too
 *   HO11Y_PARALLEL       boolean (true/false, 1/0, yes/no, on/off)
 *   HO11Y_DOWNSTREAM_TIMEOUT  Go duration, default 10s
 *   HO11Y_CONNECT_TO     comma list of HOST:PORT:CONNECT_HOST:CONNECT_PORT, libcurl's
 *                        CURLOPT_CONNECT_TO for downstream calls and load requests: a call to
 *                        http://HOST:PORT/ connects to CONNECT_HOST:CONNECT_PORT instead, while
 *                        its URL, Host header and spans (peer.service, url.full) stay as they
 *                        are. HOST or PORT empty matches any; CONNECT_HOST or CONNECT_PORT
 *                        empty keeps the request's own; an IPv6 address goes in [brackets].
 *                        `ho11yctl run` uses it to call "http://backend:8765" on a local port.
 *   HO11Y_LOAD_REQUESTS  load mode: send exactly this many requests, then stop sending; a due
 *                        request waits for a free slot under HO11Y_LOAD_CONCURRENCY instead
 *                        of being skipped (whichever of this and HO11Y_LOAD_DURATION ends first)
 */
#ifndef HO11Y_GENERATOR_CONFIG_H
#define HO11Y_GENERATOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/log.h"

#define GEN_MAX_DOWNSTREAMS   16
#define GEN_MAX_FAILURE_CODES 32
#define GEN_MAX_OTLP_HEADERS  32
#define GEN_MAX_RESOURCE_KV   32
#define GEN_MAX_CONNECT_TO    64
#define GEN_DUMMY_MAX_BYTES   (64ULL << 20)
#define GEN_DUMMY_MAX_NS      (60LL * 1000000000LL)

enum gen_downstream_type { GEN_DOWNSTREAM_URL, GEN_DOWNSTREAM_DUMMY };

struct gen_downstream_spec {
    unsigned slot; /* the N of DOWNSTREAMN */
    enum gen_downstream_type type;
    char *raw;  /* the variable's value: log messages and the `downstream` metric label */
    char *url;  /* URL calls */
    char *peer; /* URL calls: the host, used as peer.service */
    uint64_t dummy_bytes;
    int64_t dummy_ns;
};

struct gen_config {
    /* server */
    unsigned port;      /* 0 = any free port */
    char *bind_address; /* NULL = all interfaces */
    unsigned threads;   /* HTTP worker threads; default: the CPUs it may use (affinity, quota) */
    unsigned max_connections;
    unsigned idle_timeout_s;
    int64_t shutdown_timeout_ns;
    /* logs */
    int log_fd;
    enum log_level log_level;
    enum log_format log_format;
    /* identity */
    char *service_name;
    size_t nresource; /* extra resource attributes from OTEL_RESOURCE_ATTRIBUTES */
    char *resource_keys[GEN_MAX_RESOURCE_KV];
    char *resource_values[GEN_MAX_RESOURCE_KV];
    bool open_metrics; /* false when DISABLE_OM is present */
    /* behaviour of GET / */
    double failure_percent; /* 0 = no injected failures */
    bool failure_legacy;    /* failures come from HO11Y_INJECT_FAILURE (49 %) */
    int failure_codes[GEN_MAX_FAILURE_CODES];
    size_t nfailure_codes;
    long cutoff_tps; /* 0 = no throttling */
    int64_t latency_fixed_ns, latency_jitter_ns;
    bool parallel;
    int64_t downstream_timeout_ns;
    struct gen_downstream_spec downstreams[GEN_MAX_DOWNSTREAMS];
    size_t ndownstreams;
    /* HO11Y_CONNECT_TO entries, trimmed, in libcurl's CURLOPT_CONNECT_TO form */
    char *connect_to[GEN_MAX_CONNECT_TO];
    size_t nconnect_to;
    /* trace export */
    bool export_enabled;
    char *otlp_url;
    const char *otlp_url_from;                /* the variable that chose the URL, or "default" */
    char *otlp_headers[GEN_MAX_OTLP_HEADERS]; /* "Name: value" */
    size_t notlp_headers;
    char *otlp_ca_file; /* NULL = system CAs */
    int64_t otlp_timeout_ns;
    size_t bsp_queue_max, bsp_batch_max;
    int64_t bsp_delay_ns, bsp_export_timeout_ns;
    /* load mode (load_target NULL when off) */
    char *load_target;
    double load_rate;
    unsigned load_concurrency;
    int64_t load_duration_ns; /* 0 = until stopped */
    uint64_t load_requests;   /* 0 = no count */
    /* notes for the start-up log (variables read with a surprising meaning, unknown names) */
    char *warnings[16];
    size_t nwarnings;
};

/**
 * Reads the configuration from envp ("NAME=value" strings, NULL-terminated; NULL means the
 * process environment). On success cfg owns its strings (free with gen_config_cleanup). On
 * failure returns HO11Y_CONFIG, writes "<VARIABLE>: <reason>" into err and leaves cfg empty.
 * Not thread-safe with respect to setenv().
 */
enum ho11y_err gen_config_load(struct gen_config *cfg, const char *const *envp, char *err,
                               size_t errlen);

/** Frees everything cfg owns; NULL is a no-op. */
void gen_config_cleanup(struct gen_config *cfg);

#endif
