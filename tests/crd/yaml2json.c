/*
 * yaml2json FILE...: prints the documents of each YAML or JSON FILE as one JSON array (all
 * files' documents in order), using the project's own reader (common/doc.h) so that Python
 * tests, which have no YAML library, see exactly what ho11yctl and the operator see.
 * Exit status 1 with the reader's message when a file cannot be read or parsed.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"

static int read_file(const char *path, struct hbuf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    if (!f)
        return -1;
    hbuf_init(out, doc_limits_default.max_bytes);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hbuf_add(out, chunk, n) != HO11Y_OK) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    ho11y_alloc_init();
    cJSON *all = cJSON_CreateArray();
    int status = 0;
    for (int i = 1; i < argc && !status; i++) {
        struct hbuf text;
        struct doc_set docs;
        char err[512];
        if (read_file(argv[i], &text) != 0) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            hbuf_cleanup(&text);
            status = 1;
            break;
        }
        if (doc_parse(hbuf_str(&text), text.len, NULL, &docs, err, sizeof(err)) != HO11Y_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err);
            status = 1;
        } else {
            for (size_t k = 0; k < docs.count; k++)
                cJSON_AddItemToArray(all, cJSON_Duplicate(docs.docs[k].root, 1));
        }
        doc_set_cleanup(&docs);
        hbuf_cleanup(&text);
    }
    if (!status) {
        char *out = cJSON_PrintUnformatted(all);
        printf("%s\n", out);
        free(out);
    }
    cJSON_Delete(all);
    return status;
}
