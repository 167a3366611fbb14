/*
 * The operator's HTTP endpoints (libmicrohttpd): /healthz (also /livez) and /readyz on the
 * health address, as controller-runtime serves them (checks "ping" and, for /readyz,
 * "informers"; ?verbose, ?exclude=<check>, /readyz/<check>), /metrics (Prometheus text format)
 * on the metrics address; one server serves both when the addresses are the same.
 */
#ifndef HO11Y_OP_HTTP_H
#define HO11Y_OP_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

struct op_http_handlers {
    /* /readyz: 1 when ready; otherwise why is filled. */
    int (*ready)(void *ud, char *why, size_t whylen);
    /* /metrics: appends the exposition to out. */
    void (*metrics)(void *ud, struct hbuf *out);
    void *ud;
};

struct op_http;

/**
 * Parses an address: "host:port", ":port" (every interface) or "0" (disabled: *enabled = 0);
 * the host is an IPv4 address or "localhost". HO11Y_INVAL when malformed.
 */
enum ho11y_err op_http_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
                                  int *enabled);

/**
 * Starts a server on addr serving the health endpoints and/or /metrics. h is borrowed and must
 * outlive the server. Handlers run on the server's thread.
 */
enum ho11y_err op_http_start(const char *addr, int health, int metrics,
                             const struct op_http_handlers *h, struct op_http **out, char *err,
                             size_t errlen);
/** The port the server listens on (useful with port 0). */
int op_http_port(const struct op_http *s);
/** Stops and frees the server; NULL is a no-op. */
void op_http_stop(struct op_http *s);

#endif
