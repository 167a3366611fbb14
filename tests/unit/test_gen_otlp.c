/* OTLP/HTTP JSON encoding, checked rule by rule against the OTLP JSON mapping (hex ids, integer
 * enums, 64-bit integers as strings, lowerCamelCase keys) and the response parser. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "generator/otlp.h"
#include "test.h"

static void client_span(struct gen_span *s)
{
    memset(s, 0, sizeof(*s));
    CHECK(gen_hex_decode("66f1c3a05b8efff798038103d269b633", 16, s->trace_id));
    CHECK(gen_hex_decode("0a1b2c3d4e5f6071", 8, s->span_id));
    CHECK(gen_hex_decode("eee19b7ec3c1b174", 8, s->parent_id));
    s->has_parent = true;
    s->name = "GET";
    s->kind = GEN_SPAN_KIND_CLIENT;
    s->start_ns = 1727120288002000000LL;
    s->end_ns = 1727120288030000000LL;
    s->status = GEN_STATUS_ERROR;
    s->status_message = "upstream \"503\"\n";
    s->trace_state = "rojo=00f067aa0ba902b7";
    gen_span_attr_str(s, "peer.service", "cart");
    gen_span_attr_int(s, "http.response.status_code", 503);
    gen_span_attr_double(s, "ho11y.dummy.duration_seconds", 0.042);
    gen_span_attr_bool(s, "flag", true);
    gen_span_attr_str(s, "ctl",
                      "a\x01"
                      "b\\");
}

static const cJSON *attr(const cJSON *attrs, const char *key)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(a, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return cJSON_GetObjectItemCaseSensitive(a, "value");
    }
    return NULL;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

TEST(span_follows_the_json_mapping)
{
    struct gen_span s;
    struct hbuf b;
    client_span(&s);
    hbuf_init(&b, 1 << 16);
    CHECK_INT_EQ(otlp_span_encode(&s, &b), HO11Y_OK);
    cJSON *j = cJSON_Parse(hbuf_str(&b));
    CHECK(j != NULL);
    CHECK_STR_EQ(str(j, "traceId"), "66f1c3a05b8efff798038103d269b633"); /* hex, not base64 */
    CHECK_STR_EQ(str(j, "spanId"), "0a1b2c3d4e5f6071");
    CHECK_STR_EQ(str(j, "parentSpanId"), "eee19b7ec3c1b174");
    CHECK_STR_EQ(str(j, "traceState"), "rojo=00f067aa0ba902b7");
    CHECK_STR_EQ(str(j, "name"), "GET");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    CHECK(cJSON_IsNumber(kind) && kind->valueint == 3); /* enums are integers: CLIENT = 3 */
    CHECK_STR_EQ(str(j, "startTimeUnixNano"), "1727120288002000000"); /* fixed64 as a string */
    CHECK_STR_EQ(str(j, "endTimeUnixNano"), "1727120288030000000");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(status, "code")));
    CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(status, "code")->valueint, 2); /* ERROR = 2 */
    CHECK_STR_EQ(str(status, "message"), "upstream \"503\"\n");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "attributes");
    CHECK_STR_EQ(str(attr(attrs, "peer.service"), "stringValue"), "cart");
    CHECK_STR_EQ(str(attr(attrs, "http.response.status_code"), "intValue"), "503"); /* int64 */
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(attr(attrs, "ho11y.dummy.duration_seconds"),
                                                      "doubleValue");
    CHECK(cJSON_IsNumber(d) && d->valuedouble == 0.042);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(attr(attrs, "flag"), "boolValue")));
    CHECK_STR_EQ(str(attr(attrs, "ctl"), "stringValue"), "a\x01"
                                                         "b\\");
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "events") == NULL);
    /* No snake_case keys anywhere. */
    CHECK(strstr(hbuf_str(&b), "_unix_nano") == NULL && strstr(hbuf_str(&b), "trace_id") == NULL);
    cJSON_Delete(j);
    hbuf_cleanup(&b);
}

TEST(root_span_and_exception_event)
{
    struct gen_span s;
    struct hbuf b;
    client_span(&s);
    s.has_parent = false;
    s.trace_state = NULL;
    s.kind = GEN_SPAN_KIND_SERVER;
    s.status = GEN_STATUS_UNSET;
    s.status_message = NULL;
    s.has_exception = true;
    s.exception_ns = 1727120288030000000LL;
    s.exception_type = "ConnectError";
    s.exception_message = "Connection refused";
    hbuf_init(&b, 1 << 16);
    CHECK_INT_EQ(otlp_span_encode(&s, &b), HO11Y_OK);
    cJSON *j = cJSON_Parse(hbuf_str(&b));
    CHECK(j != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "parentSpanId") == NULL); /* root: absent */
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "traceState") == NULL);
    CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(j, "kind")->valueint, 2);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
    CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(status, "code")->valueint, 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(status, "message") == NULL);
    const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "events"), 0);
    CHECK_STR_EQ(str(ev, "name"), "exception");
    CHECK_STR_EQ(str(ev, "timeUnixNano"), "1727120288030000000");
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(ev, "attributes");
    CHECK_STR_EQ(str(attr(ea, "exception.type"), "stringValue"), "ConnectError");
    CHECK_STR_EQ(str(attr(ea, "exception.message"), "stringValue"), "Connection refused");
    cJSON_Delete(j);
    hbuf_cleanup(&b);
}

TEST(batch_is_an_export_request)
{
    const struct otlp_kv res[] = {{"service.name", "frontend"}, {"host.name", "pod-1"}};
    struct hbuf b;
    struct gen_span s;
    hbuf_init(&b, 1 << 16);
    CHECK_INT_EQ(otlp_batch_prefix(res, 2, "ho11y", "0.1.0", &b), HO11Y_OK);
    client_span(&s);
    CHECK_INT_EQ(otlp_span_encode(&s, &b), HO11Y_OK);
    CHECK_INT_EQ(hbuf_addc(&b, ','), HO11Y_OK);
    CHECK_INT_EQ(otlp_span_encode(&s, &b), HO11Y_OK);
    CHECK_INT_EQ(hbuf_adds(&b, OTLP_BATCH_SUFFIX), HO11Y_OK);
    cJSON *j = cJSON_Parse(hbuf_str(&b));
    CHECK(j != NULL);
    const cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "resourceSpans"), 0);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(rs, "resource"), "attributes");
    CHECK_STR_EQ(str(attr(ra, "service.name"), "stringValue"), "frontend");
    const cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans"), 0);
    CHECK_STR_EQ(str(cJSON_GetObjectItemCaseSensitive(ss, "scope"), "name"), "ho11y");
    CHECK_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ss, "spans")), 2);
    cJSON_Delete(j);
    hbuf_cleanup(&b);
}

TEST(encode_is_bounded)
{
    struct gen_span s;
    struct hbuf b;
    client_span(&s);
    hbuf_init(&b, 100);
    CHECK_INT_EQ(hbuf_adds(&b, "prefix"), HO11Y_OK);
    CHECK_INT_EQ(otlp_span_encode(&s, &b), HO11Y_LIMIT);
    CHECK_STR_EQ(hbuf_str(&b), "prefix"); /* unchanged */
    hbuf_cleanup(&b);
}

/* A packed span encodes to exactly the JSON of the span it copies, and owns its strings. */
TEST(packed_span_encodes_like_the_span)
{
    struct gen_span s, u;
    struct hbuf direct, packed;
    char msg[32], type[16];
    hbuf_init(&direct, 1 << 16);
    hbuf_init(&packed, 1 << 16);
    client_span(&s);
    snprintf(msg, sizeof(msg), "connect refused");
    snprintf(type, sizeof(type), "ConnectError");
    s.has_exception = true;
    s.exception_ns = s.end_ns - 5;
    s.exception_type = type;
    s.exception_message = msg;
    s.status_message = msg;
    gen_span_attr_str(&s, "empty", "");
    size_t len = gen_span_packed_size(&s);
    char *data = malloc(len);
    CHECK(data != NULL);
    gen_span_pack(&s, data);
    CHECK_INT_EQ(otlp_span_encode(&s, &direct), HO11Y_OK);
    memset(msg, 'x', sizeof(msg) - 1); /* the request's buffers are reused once it is queued */
    memset(type, 'y', sizeof(type) - 1);
    CHECK(gen_span_unpack(data, len, &u));
    CHECK_INT_EQ(otlp_span_encode(&u, &packed), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&packed), hbuf_str(&direct));
    CHECK(len * 2 < direct.len); /* the point of packing */
    /* Anything but one whole packed span is refused. */
    CHECK(!gen_span_unpack(data, len - 1, &u));
    CHECK(!gen_span_unpack(data, 10, &u));
    char *longer = malloc(len + 1);
    CHECK(longer != NULL);
    memcpy(longer, data, len);
    longer[len] = 0;
    CHECK(!gen_span_unpack(longer, len + 1, &u));
    free(longer);
    free(data);
    /* A root span with no optional strings and no attributes. */
    memset(&s, 0, sizeof(s));
    gen_span_id_new(s.span_id);
    s.name = "GET /";
    s.kind = GEN_SPAN_KIND_SERVER;
    len = gen_span_packed_size(&s);
    data = malloc(len);
    CHECK(data != NULL);
    gen_span_pack(&s, data);
    CHECK(gen_span_unpack(data, len, &u));
    CHECK(!u.has_parent && u.trace_state == NULL && u.status_message == NULL);
    CHECK_STR_EQ(u.name, "GET /");
    CHECK_INT_EQ(u.nattrs, 0);
    free(data);
    hbuf_cleanup(&direct);
    hbuf_cleanup(&packed);
}

TEST(response_parsing)
{
    struct otlp_export_result r;
    CHECK_INT_EQ(otlp_response_parse("", 0, &r), HO11Y_OK);
    CHECK_INT_EQ(r.rejected_spans, 0);
    CHECK_INT_EQ(otlp_response_parse("{}", 2, &r), HO11Y_OK);
    CHECK_INT_EQ(otlp_response_parse("{\"partialSuccess\":{}}", 21, &r), HO11Y_OK);
    CHECK_INT_EQ(r.rejected_spans, 0);
    const char *s1 = "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"bad ids\"}}";
    CHECK_INT_EQ(otlp_response_parse(s1, strlen(s1), &r), HO11Y_OK);
    CHECK_INT_EQ(r.rejected_spans, 3);
    CHECK_STR_EQ(r.error_message, "bad ids");
    const char *s2 = "{\"partialSuccess\":{\"rejectedSpans\":7},\"unknownField\":[1]}";
    CHECK_INT_EQ(otlp_response_parse(s2, strlen(s2), &r), HO11Y_OK);
    CHECK_INT_EQ(r.rejected_spans, 7);
    const char *s3 = "{\"partialSuccess\":{\"rejectedSpans\":0,\"errorMessage\":\"warning\"}}";
    CHECK_INT_EQ(otlp_response_parse(s3, strlen(s3), &r), HO11Y_OK);
    CHECK_INT_EQ(r.rejected_spans, 0);
    const char *bad[] = {"{",
                         "[]",
                         "{\"partialSuccess\":{\"rejectedSpans\":\"-1\"}}",
                         "{\"partialSuccess\":{\"rejectedSpans\":1.5}}",
                         "{\"partialSuccess\":{\"rejectedSpans\":\"x\"}}",
                         "{\"partialSuccess\":5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (otlp_response_parse(bad[i], strlen(bad[i]), &r) != HO11Y_PARSE)
            test__fail(__FILE__, __LINE__, "accepted %s", bad[i]);
}
