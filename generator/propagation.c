#include "generator/propagation.h"

#include <stdio.h>
#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrows [*s, *s+*len) to exclude leading and trailing spaces and tabs. */
static void trim(const char **s, size_t *len)
{
    while (*len && is_ows(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_ows((*s)[*len - 1]))
        (*len)--;
}

enum ho11y_err gen_traceparent_parse(const char *value, size_t len, uint8_t trace_id[16],
                                     uint8_t parent_id[8], bool *sampled)
{
    uint8_t version, flags;
    trim(&value, &len);
    if (len < GEN_TRACEPARENT_LEN)
        return HO11Y_PARSE;
    if (!gen_hex_decode(value, 1, &version) || version == 0xff)
        return HO11Y_PARSE;
    if (version == 0 && len != GEN_TRACEPARENT_LEN)
        return HO11Y_PARSE;
    /* A future version may append fields after a '-'; its first four fields are read as 00. */
    if (len > GEN_TRACEPARENT_LEN && value[GEN_TRACEPARENT_LEN] != '-')
        return HO11Y_PARSE;
    if (value[2] != '-' || value[35] != '-' || value[52] != '-')
        return HO11Y_PARSE;
    if (!gen_hex_decode(value + 3, 16, trace_id) || !gen_hex_decode(value + 36, 8, parent_id) ||
        !gen_hex_decode(value + 53, 1, &flags))
        return HO11Y_PARSE;
    if (gen_id_is_zero(trace_id, 16) || gen_id_is_zero(parent_id, 8))
        return HO11Y_PARSE;
    *sampled = flags & 1;
    return HO11Y_OK;
}

void gen_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], bool sampled,
                            char out[GEN_TRACEPARENT_LEN + 1])
{
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    gen_hex_encode(trace_id, 16, out + 3);
    out[35] = '-';
    gen_hex_encode(span_id, 8, out + 36);
    out[52] = '-';
    out[53] = '0';
    out[54] = sampled ? '1' : '0';
    out[55] = '\0';
}

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_key_char(char c)
{
    return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

/* W3C tracestate key: simple-key, or tenant-id "@" system-id. */
static bool tracestate_key_ok(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!at) {
        if (n < 1 || n > 256 || !is_lcalpha(k[0]))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!is_key_char(k[i]))
                return false;
        return true;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return false;
    if (!is_lcalpha(k[0]) && !is_digit(k[0]))
        return false;
    for (size_t i = 1; i < tn; i++)
        if (!is_key_char(k[i]))
            return false;
    if (!is_lcalpha(at[1]))
        return false;
    for (size_t i = 1; i < sn; i++)
        if (!is_key_char(at[1 + i]))
            return false;
    return true;
}

/* W3C tracestate value: 1..256 printable characters, no ',' or '=', not ending in a space. */
static bool tracestate_value_ok(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

enum ho11y_err gen_tracestate_check(const char *value, size_t len)
{
    struct {
        const char *key;
        size_t len;
    } keys[GEN_TRACESTATE_ITEMS];
    size_t members = 0;
    if (len > GEN_TRACESTATE_MAX)
        return HO11Y_LIMIT;
    const char *p = value, *end = value + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *m = p;
        size_t mlen = (size_t)(stop - p);
        trim(&m, &mlen);
        if (mlen) {
            const char *eq = memchr(m, '=', mlen);
            if (!eq)
                return HO11Y_PARSE;
            size_t klen = (size_t)(eq - m);
            if (!tracestate_key_ok(m, klen) || !tracestate_value_ok(eq + 1, mlen - klen - 1))
                return HO11Y_PARSE;
            if (members == GEN_TRACESTATE_ITEMS)
                return HO11Y_LIMIT;
            for (size_t i = 0; i < members; i++)
                if (keys[i].len == klen && memcmp(keys[i].key, m, klen) == 0)
                    return HO11Y_PARSE; /* duplicate key */
            keys[members].key = m;
            keys[members].len = klen;
            members++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return HO11Y_OK;
}

static bool xray_root_parse(const char *v, size_t n, uint8_t trace_id[16])
{
    if (n != GEN_XRAY_ID_LEN || v[0] != '1' || v[1] != '-' || v[10] != '-')
        return false;
    if (!gen_hex_decode(v + 2, 4, trace_id) || !gen_hex_decode(v + 11, 12, trace_id + 4))
        return false;
    return !gen_id_is_zero(trace_id, 16);
}

static bool xray_extra_ok(const char *k, size_t klen, const char *v, size_t vlen)
{
    if (klen < 1 || klen > 64)
        return false;
    for (size_t i = 0; i < klen; i++) {
        char c = k[i];
        if (!(is_lcalpha(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x21 || c > 0x7e || c == ';' || c == ',')
            return false;
    }
    return true;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
    return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

enum ho11y_err gen_xray_header_parse(const char *value, size_t len, struct gen_xray_header *out)
{
    bool have_root = false;
    size_t extra_len = 0;
    memset(out, 0, sizeof(*out));
    out->sampled = true;
    if (len > GEN_XRAY_HEADER_MAX)
        return HO11Y_LIMIT;
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *part = p;
        size_t plen = (size_t)(stop - p);
        p = semi ? semi + 1 : end;
        trim(&part, &plen);
        const char *eq = plen ? memchr(part, '=', plen) : NULL;
        if (!eq)
            continue; /* empty or valueless parts are ignored */
        const char *k = part, *v = eq + 1;
        size_t klen = (size_t)(eq - part), vlen = plen - klen - 1;
        if (key_is(k, klen, "Root")) {
            if (have_root || !xray_root_parse(v, vlen, out->trace_id))
                return HO11Y_PARSE;
            have_root = true;
        } else if (key_is(k, klen, "Parent")) {
            if (out->has_parent || vlen != 16 || !gen_hex_decode(v, 8, out->parent_id) ||
                gen_id_is_zero(out->parent_id, 8))
                return HO11Y_PARSE;
            out->has_parent = true;
        } else if (key_is(k, klen, "Sampled")) {
            out->sampled = !(vlen == 1 && v[0] == '0');
        } else if (key_is(k, klen, "Self")) {
            /* Set by each load balancer hop for itself: not forwarded. */
        } else if (xray_extra_ok(k, klen, v, vlen)) {
            size_t need = plen + (extra_len ? 1 : 0);
            if (extra_len + need <= GEN_XRAY_EXTRA_MAX) {
                if (extra_len)
                    out->extra[extra_len++] = ';';
                memcpy(out->extra + extra_len, part, plen);
                extra_len += plen;
                out->extra[extra_len] = '\0';
            }
        }
    }
    return have_root ? HO11Y_OK : HO11Y_PARSE;
}

enum ho11y_err gen_xray_header_format(const uint8_t trace_id[16], const uint8_t span_id[8],
                                      bool sampled, const char *extra, char *out, size_t outlen)
{
    char root[GEN_XRAY_ID_LEN + 1], parent[17];
    gen_xray_id_format(trace_id, root);
    gen_hex_encode(span_id, 8, parent);
    int n = snprintf(out, outlen, "Root=%s;Parent=%s;Sampled=%c%s%s", root, parent,
                     sampled ? '1' : '0', extra && *extra ? ";" : "", extra ? extra : "");
    if (n < 0 || (size_t)n >= outlen)
        return HO11Y_LIMIT;
    return HO11Y_OK;
}

void gen_propagation_extract(const char *traceparent, const char *tracestate, const char *xray,
                             struct gen_trace_context *out)
{
    struct gen_xray_header xh;
    bool xray_ok = xray && gen_xray_header_parse(xray, strlen(xray), &xh) == HO11Y_OK;
    memset(out, 0, sizeof(*out));
    out->source = GEN_PROP_NONE;
    out->sampled = true;
    if (traceparent && gen_traceparent_parse(traceparent, strlen(traceparent), out->trace_id,
                                             out->parent_id, &out->sampled) == HO11Y_OK) {
        out->source = GEN_PROP_W3C;
        out->has_parent = true;
        if (tracestate) {
            const char *ts = tracestate;
            size_t tslen = strlen(ts);
            trim(&ts, &tslen);
            if (tslen && gen_tracestate_check(ts, tslen) == HO11Y_OK) {
                memcpy(out->tracestate, ts, tslen);
                out->tracestate[tslen] = '\0';
            }
        }
        if (xray_ok && memcmp(xh.trace_id, out->trace_id, 16) == 0)
            memcpy(out->xray_extra, xh.extra, sizeof(out->xray_extra));
        return;
    }
    if (xray_ok) {
        out->source = GEN_PROP_XRAY;
        memcpy(out->trace_id, xh.trace_id, 16);
        memcpy(out->parent_id, xh.parent_id, 8);
        out->has_parent = xh.has_parent;
        out->sampled = xh.sampled;
        memcpy(out->xray_extra, xh.extra, sizeof(out->xray_extra));
    }
}
