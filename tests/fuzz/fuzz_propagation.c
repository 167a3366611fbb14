/*
 * The generator's trace-context parsers, fed with header values straight from the network:
 * traceparent, tracestate and X-Amzn-Trace-Id, alone and through gen_propagation_extract. What
 * a parser accepts, formatted again, must parse back to the same ids (the generator forwards
 * it downstream).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "generator/propagation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_traceparent(const char *s, size_t len)
{
    uint8_t tid[GEN_TRACE_ID_LEN], pid[GEN_SPAN_ID_LEN], tid2[GEN_TRACE_ID_LEN],
        pid2[GEN_SPAN_ID_LEN];
    bool sampled = false, sampled2 = false;
    if (gen_traceparent_parse(s, len, tid, pid, &sampled) != HO11Y_OK)
        return;
    char out[GEN_TRACEPARENT_LEN + 1];
    gen_traceparent_format(tid, pid, sampled, out);
    if (gen_traceparent_parse(out, strlen(out), tid2, pid2, &sampled2) != HO11Y_OK ||
        memcmp(tid, tid2, sizeof(tid)) != 0 || memcmp(pid, pid2, sizeof(pid)) != 0 ||
        sampled != sampled2)
        abort();
}

static void check_xray(const char *s, size_t len)
{
    struct gen_xray_header h, h2;
    if (gen_xray_header_parse(s, len, &h) != HO11Y_OK)
        return;
    if (strlen(h.extra) > GEN_XRAY_EXTRA_MAX)
        abort();
    char out[GEN_XRAY_HEADER_OUT];
    static const uint8_t span[GEN_SPAN_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    if (gen_xray_header_format(h.trace_id, span, h.sampled, h.extra, out, sizeof(out)) != HO11Y_OK)
        abort();
    if (gen_xray_header_parse(out, strlen(out), &h2) != HO11Y_OK ||
        memcmp(h.trace_id, h2.trace_id, sizeof(h.trace_id)) != 0 ||
        memcmp(span, h2.parent_id, sizeof(span)) != 0 || !h2.has_parent || h.sampled != h2.sampled)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        ho11y_alloc_init();
        initialised = 1;
    }
    /* Each parser on the exact bytes (they take a length and must not read past it). */
    char *exact = xmalloc(size ? size : 1);
    memcpy(exact, data, size);
    check_traceparent(exact, size);
    (void)gen_tracestate_check(exact, size);
    check_xray(exact, size);
    free(exact);

    /* Three header values separated by newlines, as an HTTP server hands them over. */
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *parts[3] = {text, NULL, NULL};
    for (int i = 1; i < 3 && parts[i - 1]; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (nl) {
            *nl = '\0';
            parts[i] = nl + 1;
        }
    }
    struct gen_trace_context ctx;
    gen_propagation_extract(parts[0], parts[1], parts[2], &ctx);
    if (strlen(ctx.tracestate) > GEN_TRACESTATE_MAX || strlen(ctx.xray_extra) > GEN_XRAY_EXTRA_MAX)
        abort();
    if (ctx.source == GEN_PROP_NONE && (ctx.tracestate[0] || ctx.xray_extra[0]))
        abort();
    gen_propagation_extract(parts[2], NULL, parts[0], &ctx);
    free(text);
    return 0;
}
