/*
 * OTLP/HTTP JSON encoding of spans (opentelemetry-proto's JSON mapping with its deviations):
 * hex trace and span ids, integer enums (kind 1 internal, 2 server, 3 client; status 0 unset,
 * 1 ok, 2 error), lowerCamelCase keys, 64-bit integers as decimal strings.
 *
 * A batch body is  prefix + span + "," + span ... + OTLP_BATCH_SUFFIX,  where the prefix holds
 * the resource and the instrumentation scope and is built once. Spans are encoded one by one
 * into the body when their batch is sent; the export queue holds packed copies (trace.h),
 * never pointers into request state.
 */
#ifndef HO11Y_GENERATOR_OTLP_H
#define HO11Y_GENERATOR_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "generator/trace.h"

/* Closes the spans array, the scopeSpans entry and array, the resourceSpans entry and array,
 * and the request object. */
#define OTLP_BATCH_SUFFIX "]}]}]}"

struct otlp_kv {
    const char *key;   /* borrowed */
    const char *value; /* borrowed */
};

/**
 * Appends `{"resourceSpans":[{"resource":{"attributes":[...]},"scopeSpans":[{"scope":{...},
 * "spans":[` to out, with the n string attributes of the resource in the given order.
 * HO11Y_LIMIT if out is full. Borrowed arguments; thread-safe.
 */
enum ho11y_err otlp_batch_prefix(const struct otlp_kv *resource, size_t n, const char *scope_name,
                                 const char *scope_version, struct hbuf *out);

/**
 * Appends one span as a JSON object. Non-finite doubles are written as 0 (JSON has no NaN).
 * HO11Y_LIMIT (out restored to its previous length) if out is full. Thread-safe.
 */
enum ho11y_err otlp_span_encode(const struct gen_span *span, struct hbuf *out);

struct otlp_export_result {
    int64_t rejected_spans;  /* partialSuccess.rejectedSpans, 0 when absent */
    char error_message[256]; /* partialSuccess.errorMessage, "" when absent */
};

/**
 * Reads an ExportTraceServiceResponse body (may be empty, meaning full success). rejectedSpans
 * may be a string or a number. HO11Y_PARSE if the body is not such a JSON object or the count is
 * negative or not an integer. Thread-safe.
 */
enum ho11y_err otlp_response_parse(const char *body, size_t len, struct otlp_export_result *out);

#endif
