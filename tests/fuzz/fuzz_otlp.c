/*
 * Parsers of OTLP/HTTP JSON input: the generator's reading of the collector's
 * ExportTraceServiceResponse (partialSuccess.rejectedSpans and errorMessage, from whatever
 * answers at the configured endpoint), and `ho11yctl run`'s receiver of
 * ExportTraceServiceRequest bodies (from any local process), followed by what it does with the
 * spans: assembling traces and printing each as a tree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/otlp_recv.h"
#include "cli/traces.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "generator/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *label(void *arg, const char *url)
{
    (void)arg;
    return strlen(url) % 2 ? "svc" : NULL;
}

/* The receiver: the body parsed twice (spans of one trace arrive in several batches), then every
 * trace taken and printed. */
static void receive(const char *body, size_t size)
{
    struct trace_set *set = traces_new();
    char err[256];
    for (int64_t now = 1000; now <= 2000; now += 1000) {
        size_t refused = 0;
        if (otlp_recv_parse(body, size, set, now, &refused, err, sizeof(err)) != HO11Y_OK &&
            !memchr(err, '\0', sizeof(err)))
            abort();
    }
    struct trace **traces = NULL;
    size_t n = traces_take(set, 3000, 0, 0, 1, &traces);
    if (traces_pending(set) != 0)
        abort(); /* "all" hands out every trace */
    struct hbuf out;
    hbuf_init(&out, (size_t)4 << 20);
    for (size_t i = 0; i < n; i++) {
        if (traces[i]->nspans == 0)
            abort();
        (void)trace_format(traces[i], label, NULL, &out);
        trace_free(traces[i]);
    }
    free(traces);
    hbuf_cleanup(&out);
    traces_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        ho11y_alloc_init();
        initialised = 1;
    }
    /* An exact-size copy: the parser must not read past len or need a terminator. */
    char *body = xmalloc(size ? size : 1);
    memcpy(body, data, size);
    struct otlp_export_result r;
    memset(&r, 0x5a, sizeof(r));
    if (otlp_response_parse(body, size, &r) == HO11Y_OK) {
        if (r.rejected_spans < 0)
            abort();
        if (!memchr(r.error_message, '\0', sizeof(r.error_message)))
            abort();
    }
    receive(body, size);
    free(body);
    return 0;
}
