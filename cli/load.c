/*
 * Reading Topology files for the commands: bounded reads, every document parsed, every error
 * printed with file and line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/topology.h"
#include "cli/cli.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"

/* Reads at most max bytes of f; HO11Y_LIMIT when there is more, HO11Y_IO on a read error. */
static enum ho11y_err read_bounded(FILE *f, size_t max, struct hbuf *out)
{
    char chunk[65536];
    size_t n;
    hbuf_init(out, max);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (hbuf_add(out, chunk, n) != HO11Y_OK)
            return HO11Y_LIMIT;
    return ferror(f) ? HO11Y_IO : HO11Y_OK;
}

static void print_problem(FILE *err, const char *path, int line, const char *msg)
{
    if (line > 0)
        fprintf(err, "%s:%d: %s\n", path, line, msg);
    else
        fprintf(err, "%s: %s\n", path, msg);
}

/* doc_parse writes "line N: reason"; split it so the message reads "file:N: reason". */
static void print_doc_error(FILE *err, const char *path, const char *msg)
{
    int line = 0, used = 0;
    /* NOLINTNEXTLINE(cert-err34-c): the line number is doc_parse's own, not user input */
    if (sscanf(msg, "line %d: %n", &line, &used) == 1 && used > 0)
        print_problem(err, path, line, msg + used);
    else
        print_problem(err, path, 0, msg);
}

static size_t read_file(const char *path, struct hbuf *text, FILE *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        print_problem(err, path, 0, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        print_problem(err, path, 0, "is a directory");
        if (f != stdin)
            fclose(f);
        return 1;
    }
    enum ho11y_err result = read_bounded(f, doc_limits_default.max_bytes, text);
    if (f != stdin)
        fclose(f);
    if (result == HO11Y_LIMIT) {
        char msg[128];
        snprintf(msg, sizeof(msg), "file is larger than the limit of %zu bytes",
                 doc_limits_default.max_bytes);
        print_problem(err, path, 0, msg);
        return 1;
    }
    if (result) {
        print_problem(err, path, 0, "read error");
        return 1;
    }
    return 0;
}

/* A short description of a document that is not a Topology, for the note. */
static void describe(const cJSON *root, char *out, size_t outlen)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *name = cJSON_IsObject(md) ? cJSON_GetObjectItemCaseSensitive(md, "name") : NULL;
    int named = name && cJSON_IsString(name); /* the analyzer cannot see into cJSON_IsString */
    snprintf(out, outlen, "%.100s%s%.100s%s", cJSON_IsString(kind) ? kind->valuestring : "object",
             named ? " \"" : "", named ? name->valuestring : "", named ? "\"" : "");
}

static size_t load_doc(const char *path, const struct doc *d, struct cli_file *out, FILE *err)
{
    char line[2048];
    if (!cJSON_IsObject(d->root)) {
        print_problem(err, path, d->line, "document is not a mapping (expected a Topology object)");
        return 1;
    }
    if (!topo_is_topology(d->root)) {
        char what[256];
        describe(d->root, what, sizeof(what));
        snprintf(line, sizeof(line), "note: skipping %s: not a Topology", what);
        print_problem(err, path, d->line, line);
        out->skipped++;
        return 0;
    }
    struct field_errors errs;
    struct topology *t = NULL;
    field_errors_init(&errs);
    size_t problems = 0;
    if (topo_load(d->root, d, TOPO_PARSE_STRICT, &t, &errs) != HO11Y_OK) {
        for (size_t i = 0; i < errs.count; i++)
            print_problem(err, path, errs.items[i].line,
                          field_error_format(&errs.items[i], line, sizeof(line)));
        if (errs.dropped) {
            snprintf(line, sizeof(line), "%zu more errors not shown", errs.dropped);
            print_problem(err, path, 0, line);
        }
        problems = errs.count + errs.dropped;
    } else {
        out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
        out->items[out->count++] = (struct cli_topology){.t = t, .line = d->line};
    }
    field_errors_cleanup(&errs);
    return problems;
}

size_t cli_file_load(const char *path, struct cli_file *out, FILE *err)
{
    struct hbuf text = {0}; /* cleaned up even when the file cannot be opened */
    struct doc_set docs = {0};
    char msg[512];
    size_t problems = 0;
    memset(out, 0, sizeof(*out));
    out->path = xstrdup(path);
    problems = read_file(path, &text, err);
    if (problems)
        goto out;
    if (doc_parse(hbuf_str(&text), text.len, NULL, &docs, msg, sizeof(msg)) != HO11Y_OK) {
        print_doc_error(err, path, msg);
        problems = 1;
        goto out;
    }
    for (size_t i = 0; i < docs.count; i++)
        problems += load_doc(path, &docs.docs[i], out, err);
    if (!problems && out->count == 0) {
        print_problem(err, path, 0, "no Topology in this file");
        problems = 1;
    }
out:
    doc_set_cleanup(&docs);
    hbuf_cleanup(&text);
    return problems;
}

void cli_file_cleanup(struct cli_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        topo_free(f->items[i].t);
    free(f->items);
    free(f->path);
    memset(f, 0, sizeof(*f));
}

int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "ho11yctl %s: option %s needs a value\n", argv[0], name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}
