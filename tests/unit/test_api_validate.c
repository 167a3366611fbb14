/*
 * Validation rules of the Topology API: the table of invalid Topologies in
 * tests/data/topologies/invalid/ (each file says, in "# expect: LINE: ERROR" comments, every error
 * api/ must report, in order, with the source line), the valid ones, the limits, and hostile
 * input.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/field_error.h"
#include "api/topology.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"
#include "test.h"

/* Loads every Topology document of text; returns the number of errors and appends them, as
 * "LINE: ERROR" lines, to out. */
static size_t load_text(const char *text, size_t len, struct hbuf *out)
{
    struct doc_set docs;
    char err[512];
    size_t n = 0;
    if (doc_parse(text, len, NULL, &docs, err, sizeof(err)) != HO11Y_OK) {
        hbuf_addf(out, "0: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < docs.count; i++) {
        struct field_errors errs;
        struct topology *t = NULL;
        if (!topo_is_topology(docs.docs[i].root) && cJSON_IsObject(docs.docs[i].root))
            continue; /* e.g. the Namespace an example creates first */
        field_errors_init(&errs);
        enum ho11y_err result =
            topo_load(docs.docs[i].root, &docs.docs[i], TOPO_PARSE_STRICT, &t, &errs);
        CHECK((result == HO11Y_OK) == (errs.count == 0));
        CHECK((result == HO11Y_OK) == (t != NULL));
        for (size_t k = 0; k < errs.count; k++) {
            char line[2048];
            hbuf_addf(out, "%d: %s\n", errs.items[k].line,
                      field_error_format(&errs.items[k], line, sizeof(line)));
        }
        n += errs.count + errs.dropped;
        topo_free(t);
        field_errors_cleanup(&errs);
    }
    doc_set_cleanup(&docs);
    return n;
}

/* The "# expect: " lines of a fixture, as "LINE: ERROR\n" lines. */
static void expectations(const char *text, struct hbuf *out)
{
    const char *p = text;
    while ((p = strstr(p, "# expect: ")) != NULL) {
        p += strlen("# expect: ");
        size_t n = strcspn(p, "\n");
        hbuf_add(out, p, n);
        hbuf_addc(out, '\n');
        p += n;
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .yaml files of a tests/data directory, sorted; caller frees each and the array. */
static char **list_dir(const char *rel, size_t *count)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_data_path(rel));
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        names = xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n) /* qsort's base must not be NULL, even for no elements */
        qsort(names, n, sizeof(*names), cmp_names);
    *count = n;
    return names;
}

TEST(invalid_table)
{
    size_t count = 0, failures = 0;
    char **files = list_dir("topologies/invalid", &count);
    /* The table covers every rule; keep it from shrinking unnoticed. */
    CHECK(count >= 40);
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        char *text = test_read_file(files[i], &len);
        struct hbuf want, got;
        hbuf_init(&want, 1 << 20);
        hbuf_init(&got, 1 << 20);
        expectations(text, &want);
        size_t n = load_text(text, len, &got);
        if (want.len == 0 || n == 0 || strcmp(hbuf_str(&want), hbuf_str(&got)) != 0) {
            fprintf(stderr, "%s:\n  expected:\n%s  got:\n%s", files[i], hbuf_str(&want),
                    hbuf_str(&got));
            failures++;
        }
        hbuf_cleanup(&want);
        hbuf_cleanup(&got);
        free(text);
        free(files[i]);
    }
    free(files);
    CHECK_INT_EQ(failures, 0);
}

TEST(invalid_table_has_every_rule)
{
    static const char *const required[] = {"cycle-length-1",
                                           "cycle-length-2",
                                           "cycle-length-5",
                                           "unknown-reference",
                                           "duplicate-service-name",
                                           "service-name-uppercase",
                                           "topology-name-41-chars",
                                           "too-many-calls",
                                           "dummy-size-bad",
                                           "duration-no-unit",
                                           "url-scheme-ftp",
                                           "env-reserved-downstream",
                                           "external-without-host",
                                           "too-many-services",
                                           "load-target-unknown",
                                           "service-named-like-collector",
                                           NULL};
    for (size_t i = 0; required[i]; i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "topologies/invalid/%s.yaml", required[i]);
        free(test_read_file(test_data_path(rel), NULL));
    }
}

TEST(valid_fixtures_and_examples)
{
    size_t count = 0;
    char **files = list_dir("topologies/valid", &count);
    CHECK(count >= 5);
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        char *text = test_read_file(files[i], &len);
        struct hbuf got;
        hbuf_init(&got, 1 << 20);
        size_t n = load_text(text, len, &got);
        if (n)
            fprintf(stderr, "%s:\n%s", files[i], hbuf_str(&got));
        CHECK_INT_EQ(n, 0);
        hbuf_cleanup(&got);
        free(text);
        free(files[i]);
    }
    free(files);
    static const char *const examples[] = {"xray-sample.yaml", "deep-graph.yaml",
                                           "external-collector.yaml", NULL};
    for (size_t i = 0; examples[i]; i++) {
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/examples/%s", getenv("HO11Y_SOURCE_DIR"), examples[i]);
        char *text = test_read_file(path, &len);
        struct hbuf got;
        hbuf_init(&got, 1 << 20);
        CHECK_INT_EQ(load_text(text, len, &got), 0);
        hbuf_cleanup(&got);
        free(text);
    }
}

/* A Topology in JSON with n services named s0.. each calling the next (a chain), or the first
 * (a cycle through all of them) when cycle is set. */
static char *chain(size_t n, int cycle)
{
    struct hbuf b;
    hbuf_init(&b, 1 << 22);
    hbuf_adds(&b, "{\"apiVersion\":\"ho11y.dev/v1alpha1\",\"kind\":\"Topology\","
                  "\"metadata\":{\"name\":\"chain\"},\"spec\":{\"services\":[");
    for (size_t i = 0; i < n; i++) {
        hbuf_addf(&b, "%s{\"name\":\"s%zu\"", i ? "," : "", i);
        if (i + 1 < n || cycle)
            hbuf_addf(&b, ",\"calls\":[{\"service\":\"s%zu\"}]", (i + 1) % n);
        hbuf_addc(&b, '}');
    }
    hbuf_adds(&b, "]}}");
    return hbuf_steal(&b, NULL);
}

TEST(long_chain_and_long_cycle)
{
    char *text = chain(TOPO_MAX_SERVICES, 0);
    struct hbuf got;
    hbuf_init(&got, 1 << 20);
    CHECK_INT_EQ(load_text(text, strlen(text), &got), 0);
    free(text);
    text = chain(TOPO_MAX_SERVICES, 1);
    hbuf_reset(&got);
    CHECK_INT_EQ(load_text(text, strlen(text), &got), 1);
    CHECK_STR_CONTAINS(hbuf_str(&got), "spec.services[63].calls[0].service: Invalid value: \"s0\": "
                                       "call cycle s0 -> s1 -> s2 -> ");
    free(text);
    hbuf_cleanup(&got);
}

TEST(every_error_reported)
{
    /* 64 services that each break three rules: all 192 errors are reported. */
    struct hbuf b, got;
    hbuf_init(&b, 1 << 20);
    hbuf_init(&got, 1 << 22);
    hbuf_adds(&b, "apiVersion: ho11y.dev/v1alpha1\nkind: Topology\nmetadata: {name: bad}\n"
                  "spec:\n  services:\n");
    for (int i = 0; i < 64; i++)
        hbuf_addf(&b, "  - {name: S%d, port: 0, calls: [{url: \"nope\"}]}\n", i);
    CHECK_INT_EQ(load_text(hbuf_str(&b), b.len, &got), 192);
    CHECK_STR_CONTAINS(hbuf_str(&got),
                       "69: spec.services[63].calls[0].url: Invalid value: \"nope\"");
    hbuf_cleanup(&b);
    hbuf_cleanup(&got);
}

TEST(error_list_is_bounded)
{
    /* 50,000 unknown fields: the list keeps FIELD_ERRORS_MAX and counts the rest. */
    struct hbuf b;
    hbuf_init(&b, 3u << 20);
    hbuf_adds(&b, "{\"apiVersion\":\"ho11y.dev/v1alpha1\",\"kind\":\"Topology\","
                  "\"metadata\":{\"name\":\"x\"},\"spec\":{\"services\":[{\"name\":\"a\"}]");
    for (int i = 0; i < 50000; i++)
        hbuf_addf(&b, ",\"f%d\":1", i);
    hbuf_adds(&b, "}}");
    struct doc_set docs;
    CHECK_INT_EQ(doc_parse(hbuf_str(&b), b.len, NULL, &docs, NULL, 0), HO11Y_OK);
    struct field_errors errs;
    struct topology *t = NULL;
    field_errors_init(&errs);
    CHECK_INT_EQ(topo_load(docs.docs[0].root, &docs.docs[0], TOPO_PARSE_STRICT, &t, &errs),
                 HO11Y_VALIDATION);
    CHECK(t == NULL);
    CHECK_INT_EQ(errs.count, FIELD_ERRORS_MAX);
    CHECK_INT_EQ(errs.count + errs.dropped, 50000);
    char *msg = field_errors_join(&errs);
    CHECK_STR_CONTAINS(msg, "[spec.f0: Unknown field, spec.f1: Unknown field");
    CHECK_STR_CONTAINS(msg, "and 49744 more errors]");
    free(msg);
    field_errors_cleanup(&errs);
    /* Not strict (objects from the API server): unknown fields are ignored. */
    CHECK_INT_EQ(topo_load(docs.docs[0].root, NULL, 0, &t, &errs), HO11Y_OK);
    CHECK_INT_EQ(errs.count, 0);
    topo_free(t);
    doc_set_cleanup(&docs);
    hbuf_cleanup(&b);
}

TEST(oversized_lists_are_cut)
{
    /* 10,000 services with 1,000 calls each would be 10 million structs; only the allowed prefix
     * is kept and "Too many" reported. */
    struct hbuf b;
    hbuf_init(&b, 3u << 20);
    hbuf_adds(&b, "{\"apiVersion\":\"ho11y.dev/v1alpha1\",\"kind\":\"Topology\","
                  "\"metadata\":{\"name\":\"x\"},\"spec\":{\"services\":[");
    for (int i = 0; i < 10000; i++)
        hbuf_addf(&b, "%s{\"name\":\"s%d\"}", i ? "," : "", i);
    hbuf_adds(&b, "]}}");
    struct doc_set docs;
    CHECK_INT_EQ(doc_parse(hbuf_str(&b), b.len, NULL, &docs, NULL, 0), HO11Y_OK);
    struct field_errors errs;
    struct topology *t = NULL;
    field_errors_init(&errs);
    CHECK_INT_EQ(topo_parse(docs.docs[0].root, TOPO_PARSE_STRICT, &t, &errs), HO11Y_VALIDATION);
    CHECK_INT_EQ(t->nservices, TOPO_MAX_SERVICES);
    CHECK_INT_EQ(errs.count, 1);
    char line[512];
    CHECK_STR_EQ(field_error_format(&errs.items[0], line, sizeof(line)),
                 "spec.services: Too many: 10000: must have at most 64 items");
    topo_free(t);
    field_errors_cleanup(&errs);
    doc_set_cleanup(&docs);
    hbuf_cleanup(&b);
}

TEST(hostile_values_are_quoted_and_cut)
{
    /* A 1 MiB name with control bytes: the error shows a short, escaped prefix. */
    size_t n = 1 << 20;
    char *big = xmalloc(n + 1);
    memset(big, 'x', n);
    memcpy(big, "\x01\"\\\n\xff", 5);
    big[n] = '\0';
    cJSON *obj = cJSON_Parse("{\"apiVersion\":\"ho11y.dev/v1alpha1\",\"kind\":\"Topology\","
                             "\"metadata\":{\"name\":\"x\"},\"spec\":{\"services\":[{}]}}");
    cJSON *svc =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "services"), 0);
    cJSON_AddStringToObject(svc, "name", big);
    struct field_errors errs;
    struct topology *t = NULL;
    field_errors_init(&errs);
    CHECK_INT_EQ(topo_load(obj, NULL, TOPO_PARSE_STRICT, &t, &errs), HO11Y_VALIDATION);
    CHECK_INT_EQ(errs.count, 2);
    char line[2048];
    CHECK_STR_EQ(field_error_format(&errs.items[0], line, sizeof(line)),
                 "spec.services[0].name: Too long: may not be more than 50 bytes");
    field_error_format(&errs.items[1], line, sizeof(line));
    CHECK_STR_CONTAINS(line, "spec.services[0].name: Invalid value: \"\\x01\\\"\\\\\\n\\xffxxx");
    CHECK_STR_CONTAINS(line, "xxx\"...(1048576 bytes): a DNS-1035 label");
    CHECK(strlen(line) < 1024);
    field_errors_cleanup(&errs);
    cJSON_Delete(obj);
    free(big);
}

TEST(wrong_shapes_everywhere)
{
    /* Every field with the wrong JSON type: one clear error each, no follow-on noise. */
    const char *text =
        "{\"apiVersion\":1,\"kind\":\"Topology\",\"metadata\":{\"name\":[]},"
        "\"spec\":{\"image\":5,\"collector\":{\"mode\":true,\"external\":\"x\","
        "\"exporters\":{\"awsxray\":{\"enabled\":\"yes\"}}},"
        "\"services\":[7,{\"name\":\"a\",\"replicas\":1.5,\"calls\":{},\"failure\":{\"codes\":"
        "[\"x\"]},\"env\":[{\"name\":3}],\"podLabels\":{\"k\":1},\"resources\":{\"limits\":"
        "{\"cpu\":0.5}}}],\"load\":[]}}";
    struct hbuf got;
    hbuf_init(&got, 1 << 20);
    CHECK_INT_EQ(load_text(text, strlen(text), &got), 14);
    CHECK_STR_EQ(hbuf_str(&got),
                 "0: apiVersion: Invalid value: 1: must be of type string\n"
                 "0: metadata.name: Invalid value: \"array\": must be of type string\n"
                 "0: spec.image: Invalid value: 5: must be of type string\n"
                 "0: spec.collector.mode: Invalid value: true: must be of type string\n"
                 "0: spec.collector.external: Invalid value: \"x\": must be of type object\n"
                 "0: spec.collector.exporters.awsxray.enabled: Invalid value: \"yes\": must be of "
                 "type boolean\n"
                 "0: spec.services[0]: Invalid value: 7: must be of type object\n"
                 "0: spec.services[1].replicas: Invalid value: 1.5: must be of type integer\n"
                 "0: spec.services[1].failure.codes[0]: Invalid value: \"x\": must be of type "
                 "integer\n"
                 "0: spec.services[1].calls: Invalid value: \"object\": must be of type array\n"
                 "0: spec.services[1].env[0].name: Invalid value: 3: must be of type string\n"
                 "0: spec.services[1].podLabels.k: Invalid value: 1: must be of type string\n"
                 "0: spec.load: Invalid value: \"array\": must be of type object\n"
                 "0: spec.services[1].resources.limits.cpu: Invalid value: 0.5: must be of type "
                 "integer or string\n");
    hbuf_cleanup(&got);
}
