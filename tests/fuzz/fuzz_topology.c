/*
 * Topology files as ho11yctl and the operator read them: YAML or JSON (doc_parse), every
 * document loaded strictly and leniently (parse, defaults, validation, error lines), then, when
 * valid, rendered twice (the output must be identical) and printed as YAML, which must read back
 * as the same objects.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/topology.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"
#include "common/yamlout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s is valid UTF-8 (the YAML printer replaces invalid bytes, so no round trip then). */
static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        size_t n = *s < 0x80             ? 1
                   : (*s & 0xe0) == 0xc0 ? 2
                   : (*s & 0xf0) == 0xe0 ? 3
                   : (*s & 0xf8) == 0xf0 ? 4
                                         : 0;
        if (!n)
            return 0;
        for (size_t i = 1; i < n; i++)
            if ((s[i] & 0xc0) != 0x80)
                return 0;
        s += n;
    }
    return 1;
}

static int tree_utf8_ok(const cJSON *n)
{
    for (; n; n = n->next) {
        if (n->string && !utf8_ok((const unsigned char *)n->string))
            return 0;
        if (cJSON_IsString(n) && !utf8_ok((const unsigned char *)n->valuestring))
            return 0;
        if (!tree_utf8_ok(n->child))
            return 0;
    }
    return 1;
}

static void check_render(const struct topology *t)
{
    struct topo_render_opts opts = {.generator_image = "ho11y:fuzz",
                                    .collector_image = "collector:fuzz"};
    cJSON *a = NULL, *b = NULL;
    if (topo_render(t, &opts, &a, NULL, 0) != HO11Y_OK)
        abort(); /* a valid topology with both images always renders */
    if (topo_render(t, &opts, &b, NULL, 0) != HO11Y_OK || !cJSON_Compare(a, b, 1))
        abort();
    struct hbuf out;
    hbuf_init(&out, (size_t)16 << 20);
    int emitted = 1;
    for (const cJSON *o = a->child; o && emitted; o = o->next)
        emitted = hbuf_adds(&out, "---\n") == HO11Y_OK && yaml_emit(o, &out) == HO11Y_OK;
    if (emitted && tree_utf8_ok(a)) {
        struct doc_set back;
        char err[256];
        if (doc_parse(hbuf_str(&out), out.len, NULL, &back, err, sizeof(err)) != HO11Y_OK)
            abort(); /* the printer wrote YAML its own reader refuses */
        size_t i = 0;
        for (const cJSON *o = a->child; o; o = o->next, i++)
            if (i >= back.count || !cJSON_Compare(o, back.docs[i].root, 1))
                abort(); /* the YAML does not read back as the rendered object */
        if (i != back.count)
            abort();
        doc_set_cleanup(&back);
    }
    hbuf_cleanup(&out);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void load_one(const struct doc *d, unsigned flags)
{
    struct field_errors errs;
    struct topology *t = NULL;
    field_errors_init(&errs);
    enum ho11y_err result = topo_load(d->root, d, flags, &t, &errs);
    if ((result == HO11Y_OK) != (t != NULL) || (result == HO11Y_OK) != (errs.count == 0))
        abort();
    char *msg = field_errors_join(&errs);
    free(msg);
    if (t) {
        check_render(t);
        topo_free(t);
    }
    field_errors_cleanup(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        ho11y_alloc_init();
        initialised = 1;
    }
    struct doc_set docs;
    char err[256];
    if (doc_parse((const char *)data, size, NULL, &docs, err, sizeof(err)) != HO11Y_OK) {
        if (!memchr(err, '\0', sizeof(err)))
            abort();
        return 0;
    }
    for (size_t i = 0; i < docs.count; i++) {
        load_one(&docs.docs[i], TOPO_PARSE_STRICT);
        load_one(&docs.docs[i], 0);
    }
    doc_set_cleanup(&docs);
    return 0;
}
