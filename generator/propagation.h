/*
 * Trace-context propagation: W3C `traceparent` / `tracestate` and AWS `X-Amzn-Trace-Id`.
 *
 * Inbound, `traceparent` is read first, then `X-Amzn-Trace-Id`; an invalid header is ignored as
 * if absent (a new trace starts). Outbound, both headers carry the same ids, `tracestate` is
 * forwarded unchanged when it arrived with a valid `traceparent`, and unknown X-Ray pairs (such
 * as `Lineage`) are kept. Every parser takes a length and never reads past it: the values come
 * straight from the network. All functions are pure and thread-safe.
 */
#ifndef HO11Y_GENERATOR_PROPAGATION_H
#define HO11Y_GENERATOR_PROPAGATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "generator/trace.h"

#define GEN_TRACEPARENT_LEN  55  /* version 00 */
#define GEN_TRACESTATE_MAX   512 /* longer lists are dropped, as W3C allows */
#define GEN_TRACESTATE_ITEMS 32
#define GEN_XRAY_HEADER_MAX  1024 /* longer X-Amzn-Trace-Id values are refused */
#define GEN_XRAY_EXTRA_MAX   256  /* unknown pairs kept for forwarding */
/* "Root=1-8hex-24hex;Parent=16hex;Sampled=1;" is 75 bytes, then the extra pairs and the NUL. */
#define GEN_XRAY_HEADER_OUT (80 + GEN_XRAY_EXTRA_MAX)

enum gen_prop_source { GEN_PROP_NONE, GEN_PROP_W3C, GEN_PROP_XRAY };

struct gen_trace_context {
    enum gen_prop_source source;
    uint8_t trace_id[GEN_TRACE_ID_LEN];
    uint8_t parent_id[GEN_SPAN_ID_LEN];
    bool has_parent; /* false for an X-Ray header with Root but no Parent */
    bool sampled;
    char tracestate[GEN_TRACESTATE_MAX + 1]; /* "" when none */
    char xray_extra[GEN_XRAY_EXTRA_MAX + 1]; /* unknown "k=v" pairs joined by ';', or "" */
};

struct gen_xray_header {
    uint8_t trace_id[GEN_TRACE_ID_LEN];
    uint8_t parent_id[GEN_SPAN_ID_LEN];
    bool has_parent;
    bool sampled; /* true unless "Sampled=0" */
    char extra[GEN_XRAY_EXTRA_MAX + 1];
};

/**
 * Parses a `traceparent` value of len bytes. Version 00 must be exactly 55 characters; a higher
 * version (not ff) may be longer if character 55 is '-'. Lower-case hex only; all-zero ids are
 * invalid. HO11Y_PARSE on any violation (outputs then unspecified).
 */
enum ho11y_err gen_traceparent_parse(const char *value, size_t len, uint8_t trace_id[16],
                                     uint8_t parent_id[8], bool *sampled);

/** Writes "00-<trace>-<span>-01|00" and a NUL into out (56 bytes). */
void gen_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], bool sampled,
                            char out[GEN_TRACEPARENT_LEN + 1]);

/**
 * Checks a `tracestate` value against W3C rules (at most 32 list members, keys and values of the
 * allowed characters, total at most GEN_TRACESTATE_MAX). HO11Y_PARSE or HO11Y_LIMIT otherwise.
 */
enum ho11y_err gen_tracestate_check(const char *value, size_t len);

/**
 * Parses an `X-Amzn-Trace-Id` value: ';'-separated Key=Value pairs with Root (1-8hex-24hex,
 * required), Parent (16 hex, optional) and Sampled (0, 1 or ?). Other pairs are kept in
 * out->extra (Self, which a load balancer sets per hop, is not). HO11Y_PARSE when Root is
 * missing or malformed or a known field is malformed; HO11Y_LIMIT past GEN_XRAY_HEADER_MAX.
 */
enum ho11y_err gen_xray_header_parse(const char *value, size_t len, struct gen_xray_header *out);

/**
 * Writes "Root=1-..;Parent=<span>;Sampled=1" (plus ";<extra>" when extra is non-empty) into out.
 * HO11Y_LIMIT if outlen is too small (GEN_XRAY_HEADER_OUT always suffices).
 */
enum ho11y_err gen_xray_header_format(const uint8_t trace_id[16], const uint8_t span_id[8],
                                      bool sampled, const char *extra, char *out, size_t outlen);

/**
 * Picks the inbound context from the three header values (each may be NULL; lengths are taken
 * with strlen since HTTP header values are NUL-terminated strings). Never fails: out->source is
 * GEN_PROP_NONE when no valid header was found, and the caller starts a new trace.
 */
void gen_propagation_extract(const char *traceparent, const char *tracestate, const char *xray,
                             struct gen_trace_context *out);

#endif
