/*
 * The HTTP server (libmicrohttpd): a pool of epoll threads, one per core by default, with
 * keep-alive, a connection limit, an idle timeout, and a per-connection memory limit that bounds
 * request headers (larger ones get 431). The idle timeout is also a deadline for a whole request
 * to arrive, counted from the accept or the end of the previous response: a client trickling a
 * header a byte at a time (slowloris) is cut then, although it is never idle
 * (ho11y_http_slow_requests_closed_total counts those).
 *
 * Routes: GET / (handler.h; other methods 405), /metrics (any method; Prometheus text, or
 * OpenMetrics when asked for and allowed), /healthz, everything else 404 "404 page not found".
 * GET / requests that wait for downstream calls are suspended, not parked on a thread.
 */
#ifndef HO11Y_GENERATOR_SERVER_H
#define HO11Y_GENERATOR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "generator/handler.h"
#include "generator/metrics.h"

/* Per connection: request line and headers (about 7 KiB of them fit), response headers and
 * bookkeeping. libmicrohttpd zeroes the area between requests, so keep-alive connections keep
 * it resident: 16 KiB rather than 32 took a leaf holding 256 connections from 8.1 to 5.7 MiB of
 * anonymous memory. */
#define GEN_SERVER_MEMORY_LIMIT (16u << 10)

struct gen_server_options {
    unsigned port;            /* 0 = any free port (see gen_server_port) */
    const char *bind_address; /* NULL = all interfaces, IPv6 and IPv4 when available */
    unsigned threads;
    unsigned max_connections;
    unsigned idle_timeout_s;
    bool open_metrics;
};

struct gen_server;

/**
 * Binds and starts serving. h and reg are kept (not owned) and outlive the server. On failure
 * returns NULL and writes the reason into err.
 */
struct gen_server *gen_server_start(const struct gen_server_options *opts, struct gen_handler *h,
                                    struct metrics_registry *reg, char *err, size_t errlen);

/** The bound TCP port. */
unsigned gen_server_port(const struct gen_server *srv);

/** Stops accepting connections (the listening socket is closed); current ones go on. */
void gen_server_quiesce(struct gen_server *srv);

/** Waits up to timeout_ns for suspended GET / requests to be answered; true when none is left. */
bool gen_server_drain(struct gen_server *srv, int64_t timeout_ns);

/** Closes every connection, stops the threads and frees the server. NULL is a no-op. */
void gen_server_stop(struct gen_server *srv);

#endif
