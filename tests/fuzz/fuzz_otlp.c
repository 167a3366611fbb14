/*
 * The generator's one parser of OTLP input: the collector's ExportTraceServiceResponse body
 * (partialSuccess.rejectedSpans and errorMessage), which comes from whatever answers at the
 * configured endpoint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "generator/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    free(body);
    return 0;
}
