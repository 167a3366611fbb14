#include "generator/otlp.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends s as a JSON string with quotes. Most of our strings need no escaping: copy runs. */
static enum ho11y_err add_str(struct hbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    enum ho11y_err r = hbuf_addc(b, '"');
    const char *run = s;
    for (const char *p = s; !r && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        r = hbuf_add(b, run, (size_t)(p - run));
        if (r)
            break;
        run = p + 1;
        switch (c) {
        case '"':
            r = hbuf_add(b, "\\\"", 2);
            break;
        case '\\':
            r = hbuf_add(b, "\\\\", 2);
            break;
        case '\n':
            r = hbuf_add(b, "\\n", 2);
            break;
        case '\r':
            r = hbuf_add(b, "\\r", 2);
            break;
        case '\t':
            r = hbuf_add(b, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            r = hbuf_add(b, esc, sizeof(esc));
        }
        }
    }
    if (!r)
        r = hbuf_adds(b, run);
    if (!r)
        r = hbuf_addc(b, '"');
    return r;
}

/* Appends a signed decimal integer, optionally in quotes (OTLP JSON's 64-bit convention). */
static enum ho11y_err add_int(struct hbuf *b, int64_t v, int quoted)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (quoted)
        *--p = '"';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    if (quoted)
        *--p = '"';
    return hbuf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static enum ho11y_err add_hex(struct hbuf *b, const uint8_t *id, size_t n)
{
    char hex[2 * GEN_TRACE_ID_LEN + 3];
    hex[0] = '"';
    gen_hex_encode(id, n, hex + 1);
    hex[2 * n + 1] = '"';
    return hbuf_add(b, hex, 2 * n + 2);
}

static enum ho11y_err add_attr(struct hbuf *b, const struct gen_attr *a)
{
    enum ho11y_err r = hbuf_adds(b, "{\"key\":");
    if (!r)
        r = add_str(b, a->key);
    if (r)
        return r;
    switch (a->type) {
    case GEN_ATTR_STR:
        r = hbuf_adds(b, ",\"value\":{\"stringValue\":");
        if (!r)
            r = add_str(b, a->str);
        break;
    case GEN_ATTR_INT:
        r = hbuf_adds(b, ",\"value\":{\"intValue\":");
        if (!r)
            r = add_int(b, a->i, 1);
        break;
    case GEN_ATTR_DOUBLE:
        r = hbuf_addf(b, ",\"value\":{\"doubleValue\":%.17g", isfinite(a->d) ? a->d : 0.0);
        break;
    case GEN_ATTR_BOOL:
        r = hbuf_adds(b,
                      a->i ? ",\"value\":{\"boolValue\":true" : ",\"value\":{\"boolValue\":false");
        break;
    }
    if (!r)
        r = hbuf_adds(b, "}}");
    return r;
}

static enum ho11y_err add_kv_list(struct hbuf *b, const struct otlp_kv *kv, size_t n)
{
    enum ho11y_err r = hbuf_addc(b, '[');
    for (size_t i = 0; !r && i < n; i++) {
        struct gen_attr a = {.key = kv[i].key, .type = GEN_ATTR_STR, .str = kv[i].value};
        if (i)
            r = hbuf_addc(b, ',');
        if (!r)
            r = add_attr(b, &a);
    }
    if (!r)
        r = hbuf_addc(b, ']');
    return r;
}

enum ho11y_err otlp_batch_prefix(const struct otlp_kv *resource, size_t n, const char *scope_name,
                                 const char *scope_version, struct hbuf *out)
{
    enum ho11y_err r = hbuf_adds(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":");
    if (!r)
        r = add_kv_list(out, resource, n);
    if (!r)
        r = hbuf_adds(out, "},\"scopeSpans\":[{\"scope\":{\"name\":");
    if (!r)
        r = add_str(out, scope_name);
    if (!r)
        r = hbuf_adds(out, ",\"version\":");
    if (!r)
        r = add_str(out, scope_version);
    if (!r)
        r = hbuf_adds(out, "},\"spans\":[");
    return r;
}

static enum ho11y_err span_body(const struct gen_span *s, struct hbuf *b)
{
    enum ho11y_err r = hbuf_adds(b, "{\"traceId\":");
    if (!r)
        r = add_hex(b, s->trace_id, GEN_TRACE_ID_LEN);
    if (!r)
        r = hbuf_adds(b, ",\"spanId\":");
    if (!r)
        r = add_hex(b, s->span_id, GEN_SPAN_ID_LEN);
    if (!r && s->has_parent) {
        r = hbuf_adds(b, ",\"parentSpanId\":");
        if (!r)
            r = add_hex(b, s->parent_id, GEN_SPAN_ID_LEN);
    }
    if (!r && s->trace_state && *s->trace_state) {
        r = hbuf_adds(b, ",\"traceState\":");
        if (!r)
            r = add_str(b, s->trace_state);
    }
    if (!r)
        r = hbuf_adds(b, ",\"name\":");
    if (!r)
        r = add_str(b, s->name ? s->name : "");
    if (!r)
        r = hbuf_adds(b, ",\"kind\":");
    if (!r)
        r = add_int(b, s->kind, 0);
    if (!r)
        r = hbuf_adds(b, ",\"startTimeUnixNano\":");
    if (!r)
        r = add_int(b, s->start_ns, 1);
    if (!r)
        r = hbuf_adds(b, ",\"endTimeUnixNano\":");
    if (!r)
        r = add_int(b, s->end_ns, 1);
    if (!r)
        r = hbuf_adds(b, ",\"attributes\":[");
    for (size_t i = 0; !r && i < s->nattrs; i++) {
        if (i)
            r = hbuf_addc(b, ',');
        if (!r)
            r = add_attr(b, &s->attrs[i]);
    }
    if (!r)
        r = hbuf_addc(b, ']');
    if (!r && s->has_exception) {
        struct gen_attr ea[2] = {
            {.key = "exception.type", .type = GEN_ATTR_STR, .str = s->exception_type},
            {.key = "exception.message", .type = GEN_ATTR_STR, .str = s->exception_message}};
        r = hbuf_adds(b, ",\"events\":[{\"timeUnixNano\":");
        if (!r)
            r = add_int(b, s->exception_ns, 1);
        if (!r)
            r = hbuf_adds(b, ",\"name\":\"exception\",\"attributes\":[");
        for (int i = 0; !r && i < 2; i++) {
            if (!ea[i].str)
                ea[i].str = "";
            r = (i ? hbuf_addc(b, ',') : HO11Y_OK);
            if (!r)
                r = add_attr(b, &ea[i]);
        }
        if (!r)
            r = hbuf_adds(b, "]}]");
    }
    if (!r)
        r = hbuf_adds(b, ",\"status\":{\"code\":");
    if (!r)
        r = add_int(b, s->status, 0);
    if (!r && s->status_message && *s->status_message) {
        r = hbuf_adds(b, ",\"message\":");
        if (!r)
            r = add_str(b, s->status_message);
    }
    if (!r)
        r = hbuf_adds(b, "}}");
    return r;
}

enum ho11y_err otlp_span_encode(const struct gen_span *span, struct hbuf *out)
{
    size_t mark = out->len;
    enum ho11y_err r = span_body(span, out);
    if (r) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return r;
}

enum ho11y_err otlp_response_parse(const char *body, size_t len, struct otlp_export_result *out)
{
    enum ho11y_err result = HO11Y_OK;
    cJSON *root = NULL;
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len)
        return HO11Y_OK; /* an empty body is a full success */
    root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        result = HO11Y_PARSE;
        goto out;
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "partialSuccess");
    if (!ps || cJSON_IsNull(ps))
        goto out;
    if (!cJSON_IsObject(ps)) {
        result = HO11Y_PARSE;
        goto out;
    }
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
    if (cJSON_IsString(rej)) {
        char *end = NULL;
        long long v = strtoll(rej->valuestring, &end, 10);
        if (end == rej->valuestring || *end || v < 0) {
            result = HO11Y_PARSE;
            goto out;
        }
        out->rejected_spans = v;
    } else if (cJSON_IsNumber(rej)) {
        double v = rej->valuedouble;
        if (v < 0 || v != floor(v) || v > 9.0e18) {
            result = HO11Y_PARSE;
            goto out;
        }
        out->rejected_spans = (int64_t)v;
    } else if (rej && !cJSON_IsNull(rej)) {
        result = HO11Y_PARSE;
        goto out;
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
    if (cJSON_IsString(msg))
        snprintf(out->error_message, sizeof(out->error_message), "%s", msg->valuestring);
out:
    cJSON_Delete(root);
    return result;
}
