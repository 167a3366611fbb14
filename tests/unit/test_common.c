#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/units.h"
#include "test.h"

TEST(error_names)
{
    CHECK_STR_EQ(ho11y_err_name(HO11Y_OK), "OK");
    CHECK_STR_EQ(ho11y_err_name(HO11Y_NOTFOUND), "NOTFOUND");
    CHECK_STR_EQ(ho11y_err_message(HO11Y_LIMIT), "input exceeds a size or depth limit");
    CHECK_STR_EQ(ho11y_err_name((enum ho11y_err)999), "UNKNOWN");
}

TEST(buf_bounded)
{
    struct hbuf b;
    hbuf_init(&b, 8);
    CHECK_INT_EQ(hbuf_adds(&b, "12345"), HO11Y_OK);
    CHECK_INT_EQ(hbuf_adds(&b, "6789"), HO11Y_LIMIT);
    CHECK_STR_EQ(hbuf_str(&b), "12345");
    CHECK_INT_EQ(hbuf_addf(&b, "%d", 678), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&b), "12345678");
    CHECK_INT_EQ(hbuf_addc(&b, 'x'), HO11Y_LIMIT);
    hbuf_reset(&b);
    CHECK_INT_EQ(hbuf_add_json_escaped(&b, "a\"\n\x01"), HO11Y_LIMIT);
    CHECK_STR_EQ(hbuf_str(&b), "");
    b.max = 64;
    CHECK_INT_EQ(hbuf_add_json_escaped(&b, "a\"\n\x01"), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&b), "a\\\"\\n\\u0001");
    size_t len = 0;
    char *s = hbuf_steal(&b, &len);
    CHECK_INT_EQ(len, 11);
    free(s);
    hbuf_cleanup(&b);
    hbuf_cleanup(NULL);
}

TEST(sha256)
{
    char hex[65];
    ho11y_sha256_hex("abc", 3, hex);
    CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(number_conversion_saturates)
{
    CHECK_INT_EQ(ho11y_dtoll(410.9), 410);
    CHECK_INT_EQ(ho11y_dtoll(-7.9), -7);
    CHECK(ho11y_dtoll(4.155e30) == LLONG_MAX);
    CHECK(ho11y_dtoll(9223372036854775808.0) == LLONG_MAX);
    CHECK(ho11y_dtoll(-9223372036854775808.0) == LLONG_MIN);
    CHECK(ho11y_dtoll(-1e300) == LLONG_MIN);
    CHECK(ho11y_dtoll(HUGE_VAL) == LLONG_MAX);
    CHECK_INT_EQ(ho11y_dtoll(NAN), 0);
    /* The largest double below 2^63 converts exactly. */
    CHECK(ho11y_dtoll(9223372036854774784.0) == 9223372036854774784LL);
    cJSON *doc = cJSON_Parse("{\"big\": 1e999, \"n\": 12, \"s\": \"12\"}");
    CHECK(doc != NULL);
    CHECK(doc_number_ll(cJSON_GetObjectItem(doc, "big"), 0) == LLONG_MAX);
    CHECK_INT_EQ(doc_number_ll(cJSON_GetObjectItem(doc, "n"), 0), 12);
    CHECK_INT_EQ(doc_number_ll(cJSON_GetObjectItem(doc, "s"), -1), -1);
    CHECK_INT_EQ(doc_number_ll(NULL, 5), 5);
    cJSON_Delete(doc);
}

TEST(float_format_as_go)
{
    static const struct {
        double v;
        bool om;
        const char *want;
    } cases[] = {
        {1, false, "1"},
        {0, false, "0"},
        {0.005, false, "0.005"},
        {60, false, "60"},
        {1.25, false, "1.25"},
        {123456, false, "123456"},
        {1e6, false, "1e+06"},
        {1234567, false, "1.234567e+06"},
        {0.0001, false, "0.0001"},
        {0.00001, false, "1e-05"},
        {1e-8, false, "1e-08"},
        {1e-6 * 10, false, "9.999999999999999e-06"},
        {-2.5, false, "-2.5"},
        {1, true, "1.0"},
        {1e6, true, "1e+06"},
        {HUGE_VAL, false, "+Inf"},
        {-HUGE_VAL, false, "-Inf"},
        {NAN, false, "NaN"},
    };
    char out[40];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ho11y_float_format(cases[i].v, cases[i].om, out, sizeof(out));
        CHECK_STR_EQ(out, cases[i].want);
    }
}

TEST(duration_parse)
{
    int64_t ns = -1;
    CHECK_INT_EQ(ho11y_duration_parse("42ms", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 42000000);
    CHECK_INT_EQ(ho11y_duration_parse("1.5s", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 1500000000);
    CHECK_INT_EQ(ho11y_duration_parse("1h2m3s", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 3723000000000LL);
    CHECK_INT_EQ(ho11y_duration_parse("0", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 0);
    CHECK_INT_EQ(ho11y_duration_parse("10us", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 10000);
    CHECK_INT_EQ(ho11y_duration_parse("2ns", &ns), HO11Y_OK);
    CHECK_INT_EQ(ns, 2);
    CHECK_INT_EQ(ho11y_duration_parse("", &ns), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_duration_parse("42", &ns), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_duration_parse("ms", &ns), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_duration_parse("-1s", &ns), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_duration_parse("1x", &ns), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_duration_parse("1.s", &ns), HO11Y_OK);
    CHECK_INT_EQ(ho11y_duration_parse("99999999999h", &ns), HO11Y_LIMIT);
}

TEST(size_parse)
{
    uint64_t n = 0;
    CHECK_INT_EQ(ho11y_size_parse("187kB", &n), HO11Y_OK);
    CHECK_INT_EQ(n, 191488);
    CHECK_INT_EQ(ho11y_size_parse("13kB", &n), HO11Y_OK);
    CHECK_INT_EQ(n, 13312);
    CHECK_INT_EQ(ho11y_size_parse("64MiB", &n), HO11Y_OK);
    CHECK_INT_EQ(n, 64u << 20);
    CHECK_INT_EQ(ho11y_size_parse("12", &n), HO11Y_OK);
    CHECK_INT_EQ(n, 12);
    CHECK_INT_EQ(ho11y_size_parse("3 kb", &n), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_size_parse("3Kb", &n), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_size_parse("kb", &n), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_size_parse("-1", &n), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_size_parse("1.5kb", &n), HO11Y_INVAL);
    CHECK_INT_EQ(ho11y_size_parse("99999999999999999999", &n), HO11Y_LIMIT);
    CHECK_INT_EQ(ho11y_size_parse("20000000000000EB", &n), HO11Y_LIMIT);
}

static char *parse_one(const char *text, enum ho11y_err want, char *err, size_t errlen)
{
    struct doc_set set;
    enum ho11y_err result = doc_parse(text, strlen(text), NULL, &set, err, errlen);
    CHECK_INT_EQ(result, want);
    if (result) {
        CHECK_INT_EQ(set.count, 0);
        return NULL;
    }
    CHECK_INT_EQ(set.count, 1);
    char *out = cJSON_PrintUnformatted(set.docs[0].root);
    doc_set_cleanup(&set);
    return out;
}

TEST(yaml_scalars_typed_like_kubectl)
{
    char err[256];
    char *out = parse_one("a: 1\nb: on\nc: \"on\"\nd: ~\ne: 1.5\nf: 0x10\ng: 010\nh: abc\n"
                          "i: '12'\nj: !!str 12\nk: 08\nl: -3\nm: [x, 2]\n",
                          HO11Y_OK, err, sizeof(err));
    CHECK_STR_EQ(out, "{\"a\":1,\"b\":true,\"c\":\"on\",\"d\":null,\"e\":1.5,\"f\":16,\"g\":8,"
                      "\"h\":\"abc\",\"i\":\"12\",\"j\":\"12\",\"k\":\"08\",\"l\":-3,"
                      "\"m\":[\"x\",2]}");
    free(out);
}

TEST(yaml_json_parity)
{
    char err[256];
    char *a = parse_one("spec:\n  services:\n  - name: x\n    replicas: 2\n    parallel: true\n",
                        HO11Y_OK, err, sizeof(err));
    char *b = parse_one("{\"spec\": {\"services\": [{\"name\": \"x\", \"replicas\": 2, "
                        "\"parallel\": true}]}}",
                        HO11Y_OK, err, sizeof(err));
    CHECK_STR_EQ(a, b);
    free(a);
    free(b);
}

TEST(yaml_multi_document_and_lines)
{
    const char *text = "---\n# only a comment\n---\nkind: A\n---\nkind: B\nspec:\n  x: 1\n---\n";
    struct doc_set set;
    char err[128];
    CHECK_INT_EQ(doc_parse(text, strlen(text), NULL, &set, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(set.count, 2);
    const cJSON *x = doc_find_path(set.docs[1].root, "spec.x");
    CHECK(cJSON_IsNumber(x));
    CHECK_INT_EQ(doc_line_of(&set.docs[1], x), 8);
    const cJSON *deep = doc_find_path(set.docs[1].root, "spec.y[3].z");
    CHECK(deep == cJSON_GetObjectItem(set.docs[1].root, "spec"));
    doc_set_cleanup(&set);
}

TEST(yaml_refusals)
{
    char err[256];
    CHECK(!parse_one("a: &x 1\nb: *x\n", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "line 2: YAML aliases (*x) are not supported");
    CHECK(!parse_one("a: 1\na: 2\n", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "line 2: duplicate mapping key \"a\"");
    CHECK(!parse_one("? [a]\n: 1\n", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "mapping keys must be scalars");
    CHECK(!parse_one("a: [1, 2\n", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "line ");
    CHECK(!parse_one("a: .inf\n", HO11Y_PARSE, err, sizeof(err)));
    CHECK(!parse_one("{\"a\": 1, \"a\": 2}", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "duplicate key \"a\"");
    CHECK(!parse_one("{\"a\": 1} x", HO11Y_PARSE, err, sizeof(err)));
    CHECK(!parse_one("{\"a\": \n\n  1,,}", HO11Y_PARSE, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "line 3: malformed JSON");
}

TEST(yaml_limits)
{
    char err[256];
    /* Deep nesting: refused with a clear message, not a stack overflow. */
    size_t depth = 5000;
    char *deep = xmalloc(depth * 2 + 1);
    for (size_t i = 0; i < depth; i++) {
        deep[i] = '[';
        deep[depth + i] = ']';
    }
    deep[2 * depth] = '\0';
    struct doc_set set;
    CHECK(doc_parse(deep, strlen(deep), NULL, &set, err, sizeof(err)) != HO11Y_OK);
    char *yaml_deep = xmalloc(depth * 3 + 8);
    size_t n = 0;
    for (size_t i = 0; i < 100; i++) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): terminated after the loop */
        memcpy(yaml_deep + n, "- ", 2);
        n += 2;
    }
    memcpy(yaml_deep + n, "x\n", 3);
    CHECK(!parse_one(yaml_deep, HO11Y_LIMIT, err, sizeof(err)));
    CHECK_STR_CONTAINS(err, "nesting deeper than 64 levels");
    free(deep);
    free(yaml_deep);
    /* A huge scalar and a huge input are refused by the limits. */
    struct doc_limits lim = doc_limits_default;
    lim.max_scalar = 100;
    char big[300];
    memset(big, 'x', sizeof(big));
    memcpy(big, "a: ", 3);
    big[299] = '\0';
    CHECK_INT_EQ(doc_parse(big, strlen(big), &lim, &set, err, sizeof(err)), HO11Y_LIMIT);
    CHECK_STR_CONTAINS(err, "exceeds the limit of 100");
    lim.max_bytes = 10;
    CHECK_INT_EQ(doc_parse(big, strlen(big), &lim, &set, err, sizeof(err)), HO11Y_LIMIT);
    /* Binary garbage. */
    const char garbage[] = "\x01\x02\xff\xfe: \x00\x10";
    CHECK_INT_EQ(doc_parse(garbage, sizeof(garbage) - 1, NULL, &set, err, sizeof(err)),
                 HO11Y_PARSE);
    const char garbage2[] = "\xff\xfe\xfd: [\x01";
    CHECK_INT_EQ(doc_parse(garbage2, sizeof(garbage2) - 1, NULL, &set, err, sizeof(err)),
                 HO11Y_PARSE);
}
