#include "generator/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/units.h"

struct env {
    const char *const *envp;
    char *err;
    size_t errlen;
};

static const char *const known_ho11y[] = {"HO11Y_PORT",
                                          "HO11Y_LOG_DEST",
                                          "HO11Y_LOG_LEVEL",
                                          "HO11Y_LOG_FORMAT",
                                          "HO11Y_INJECT_FAILURE",
                                          "HO11Y_CUTOFF_TPS",
                                          "HO11Y_FAILURE_RATE",
                                          "HO11Y_FAILURE_CODES",
                                          "HO11Y_LATENCY",
                                          "HO11Y_PARALLEL",
                                          "HO11Y_DOWNSTREAM_TIMEOUT",
                                          "HO11Y_CONNECT_TO",
                                          "HO11Y_BIND_ADDRESS",
                                          "HO11Y_THREADS",
                                          "HO11Y_MAX_CONNECTIONS",
                                          "HO11Y_IDLE_TIMEOUT",
                                          "HO11Y_SHUTDOWN_TIMEOUT",
                                          "HO11Y_LOAD_TARGET",
                                          "HO11Y_LOAD_RATE",
                                          "HO11Y_LOAD_CONCURRENCY",
                                          "HO11Y_LOAD_DURATION",
                                          "HO11Y_LOAD_REQUESTS",
                                          NULL};

static const char *env_get(const struct env *e, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *p = e->envp; p && *p; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

/* Quotes a value for an error message: printable ASCII, at most 64 characters. */
static void quote(const char *v, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; v[i] && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (i == 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else {
            int w = snprintf(out + o, outlen - o, "\\x%02x", c);
            o += (size_t)w;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

static enum ho11y_err fail(const struct env *e, const char *name, const char *value,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum ho11y_err fail(const struct env *e, const char *name, const char *value,
                           const char *fmt, ...)
{
    char q[300], why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (value) {
        quote(value, q, sizeof(q));
        snprintf(e->err, e->errlen, "%s: invalid value %s: %s", name, q, why);
    } else {
        snprintf(e->err, e->errlen, "%s: %s", name, why);
    }
    return HO11Y_CONFIG;
}

static void warn(struct gen_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct gen_config *cfg, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (cfg->nwarnings == sizeof(cfg->warnings) / sizeof(cfg->warnings[0]))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cfg->warnings[cfg->nwarnings++] = xstrdup(msg);
}

/* Strict unsigned decimal: digits only, no sign, no blanks, within [min, max]. */
static bool parse_uint(const char *s, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    if (!*s || strlen(s) > 20)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Strict non-negative decimal number "12" or "12.5". */
static bool parse_decimal(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        size_t frac = 0;
        while (isdigit((unsigned char)*p)) {
            p++;
            frac++;
        }
        if (!frac)
            return false;
    }
    if (!digits || *p || p - s > 32)
        return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

static enum ho11y_err get_uint(const struct env *e, const char *name, unsigned long long min,
                               unsigned long long max, unsigned long long def,
                               unsigned long long *out)
{
    const char *v = env_get(e, name);
    *out = def;
    if (!v || !*v)
        return HO11Y_OK;
    if (!parse_uint(v, min, max, out))
        return fail(e, name, v, "want an integer from %llu to %llu", min, max);
    return HO11Y_OK;
}

static enum ho11y_err get_duration(const struct env *e, const char *name, int64_t min, int64_t max,
                                   int64_t def, int64_t *out)
{
    const char *v = env_get(e, name);
    char lo[32], hi[32];
    *out = def;
    if (!v || !*v)
        return HO11Y_OK;
    ho11y_duration_format(min, lo, sizeof(lo));
    ho11y_duration_format(max, hi, sizeof(hi));
    if (ho11y_duration_parse(v, out) || *out < min || *out > max)
        return fail(e, name, v, "want a Go duration from %s to %s (e.g. \"10s\", \"250ms\")", lo,
                    hi);
    return HO11Y_OK;
}

static bool bool_parse(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "t", "true", "yes", "y", "on", "enabled"};
    static const char *const no[] = {"0", "f", "false", "no", "n", "off", "disabled"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static enum ho11y_err get_bool(const struct env *e, const char *name, bool def, bool *out)
{
    const char *v = env_get(e, name);
    *out = def;
    if (!v || !*v)
        return HO11Y_OK;
    if (!bool_parse(v, out))
        return fail(e, name, v, "want true or false (also 1/0, yes/no, on/off)");
    return HO11Y_OK;
}

/* Checks an absolute http(s) URL; returns the host (caller frees) through host if wanted. */
static bool url_check(const char *v, char **host)
{
    bool ok = false;
    char *scheme = NULL, *h = NULL;
    CURLU *u = curl_url();
    if (!u)
        return false;
    if (strlen(v) > 2048 || curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h)
        goto out;
    if (host)
        *host = xstrdup(h);
    ok = true;
out:
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return ok;
}

static enum ho11y_err parse_dummy(const struct env *e, const char *name, const char *v,
                                  struct gen_downstream_spec *d)
{
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    char size[64], dur[64];
    if (strncmp(v, "DUMMY:", 6) != 0 || !c2 || strchr(c2 + 1, ':'))
        return fail(e, name, v, "want DUMMY:<size>:<duration>, e.g. DUMMY:187kB:42ms");
    snprintf(size, sizeof(size), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    snprintf(dur, sizeof(dur), "%s", c2 + 1);
    if ((size_t)(c2 - c1 - 1) >= sizeof(size) || ho11y_size_parse(size, &d->dummy_bytes) ||
        d->dummy_bytes > GEN_DUMMY_MAX_BYTES)
        return fail(e, name, v, "size \"%s\" is not a byte size up to 64MiB (binary units: 187kB)",
                    size);
    if (strlen(c2 + 1) >= sizeof(dur) || ho11y_duration_parse(dur, &d->dummy_ns) ||
        d->dummy_ns > GEN_DUMMY_MAX_NS)
        return fail(e, name, v, "duration \"%s\" is not a Go duration up to 60s (e.g. 42ms)", dur);
    d->type = GEN_DOWNSTREAM_DUMMY;
    return HO11Y_OK;
}

static enum ho11y_err load_downstreams(const struct env *e, struct gen_config *cfg)
{
    for (const char *const *p = e->envp; p && *p; p++) {
        unsigned long long n;
        const char *eq = strchr(*p, '=');
        char num[32];
        if (strncmp(*p, "DOWNSTREAM", 10) != 0 || !eq || eq - *p - 10 < 1 || eq - *p - 10 > 20)
            continue;
        snprintf(num, sizeof(num), "%.*s", (int)(eq - *p - 10), *p + 10);
        if (parse_uint(num, 0, ~0ULL, &n) && n >= GEN_MAX_DOWNSTREAMS && eq[1])
            return fail(e, "DOWNSTREAM", NULL,
                        "%.*s is set, but only DOWNSTREAM0 to DOWNSTREAM15 are read",
                        (int)(eq - *p), *p);
    }
    for (unsigned i = 0; i < GEN_MAX_DOWNSTREAMS; i++) {
        char name[24];
        snprintf(name, sizeof(name), "DOWNSTREAM%u", i);
        const char *v = env_get(e, name);
        if (!v || !*v)
            continue;
        struct gen_downstream_spec *d = &cfg->downstreams[cfg->ndownstreams];
        memset(d, 0, sizeof(*d));
        d->slot = i;
        if (strncmp(v, "DUMMY", 5) == 0) {
            enum ho11y_err r = parse_dummy(e, name, v, d);
            if (r)
                return r;
        } else {
            if (!url_check(v, &d->peer))
                return fail(e, name, v,
                            "want an absolute http:// or https:// URL or DUMMY:<size>:<duration>");
            d->type = GEN_DOWNSTREAM_URL;
            d->url = xstrdup(v);
        }
        d->raw = xstrdup(v);
        cfg->ndownstreams++;
    }
    return HO11Y_OK;
}

static int hexval(char c)
{
    return ho11y_hex_digit((char)tolower((unsigned char)c));
}

/* Percent-decodes s[0..n) into a fresh string; NULL on a bad escape or a NUL byte. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static void trim_span(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/*
 * One field of a HO11Y_CONNECT_TO entry at *p: a host (name, IPv4, or IPv6 in brackets), or a
 * port when want_port. Empty is allowed (libcurl: any host or port, or the request's own).
 * Advances *p past the field; false with a reason when the field is malformed.
 */
static bool connect_field(const char **p, const char *end, bool want_port, const char **why)
{
    const char *s = *p, *f = s;
    if (!want_port && f < end && *f == '[') {
        char addr[64];
        unsigned char bin[16];
        const char *close = memchr(f, ']', (size_t)(end - f));
        if (!close || (size_t)(close - f - 1) >= sizeof(addr)) {
            *why = "an IPv6 address without its closing ']'";
            return false;
        }
        snprintf(addr, sizeof(addr), "%.*s", (int)(close - f - 1), f + 1);
        if (inet_pton(AF_INET6, addr, bin) != 1) {
            *why = "not an IPv6 address in [brackets]";
            return false;
        }
        *p = close + 1;
        return true;
    }
    while (f < end && *f != ':') {
        unsigned char c = (unsigned char)*f;
        if (want_port ? !isdigit(c) : !(isalnum(c) || c == '-' || c == '.' || c == '_')) {
            *why = want_port ? "a port is a number from 1 to 65535"
                             : "a host is a name, an IPv4 address or an IPv6 address in [brackets]";
            return false;
        }
        f++;
    }
    if (!want_port && f - s > 253) {
        *why = "a host name is at most 253 characters";
        return false;
    }
    if (want_port && f > s) {
        char num[8];
        unsigned long long port;
        snprintf(num, sizeof(num), "%.*s", (int)(f - s < 7 ? f - s : 7), s);
        if (f - s > 5 || !parse_uint(num, 1, 65535, &port)) {
            *why = "a port is a number from 1 to 65535";
            return false;
        }
    }
    *p = f;
    return true;
}

/*
 * Checks one HOST:PORT:CONNECT_HOST:CONNECT_PORT entry s[0..n). An entry whose connect host and
 * port are both empty would change nothing: it is refused as the mistake it must be.
 */
static bool connect_entry_check(const char *s, size_t n, const char **why)
{
    const char *p = s, *end = s + n;
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        const char *start = p;
        if (!connect_field(&p, end, i % 2 == 1, why))
            return false;
        len[i] = (size_t)(p - start);
        if (i < 3 && (p == end || *p++ != ':'))
            goto malformed;
    }
    if (p != end)
        goto malformed;
    if (!len[2] && !len[3]) {
        *why = "CONNECT_HOST and CONNECT_PORT are both empty: the entry changes nothing";
        return false;
    }
    return true;
malformed:
    *why = "want HOST:PORT:CONNECT_HOST:CONNECT_PORT";
    return false;
}

/* HO11Y_CONNECT_TO: comma-separated entries, blanks around them ignored. */
static enum ho11y_err load_connect_to(const struct env *e, struct gen_config *cfg)
{
    static const char name[] = "HO11Y_CONNECT_TO";
    const char *v = env_get(e, name);
    if (!v || !*v)
        return HO11Y_OK;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = p, *why = NULL;
        trim_span(&item, &len);
        if (!len)
            return fail(e, name, v, "an empty entry");
        if (cfg->nconnect_to == GEN_MAX_CONNECT_TO)
            return fail(e, name, v, "at most %d entries", GEN_MAX_CONNECT_TO);
        if (!connect_entry_check(item, len, &why))
            return fail(e, name, v, "entry \"%.*s\": %s", (int)(len < 80 ? len : 80), item, why);
        cfg->connect_to[cfg->nconnect_to++] = xstrndup(item, len);
        if (!comma)
            return HO11Y_OK;
        p = comma + 1;
    }
}

/*
 * Parses "k=v,k2=v2" (W3C baggage-like, values percent-encoded) into keys and values (fresh
 * strings). Returns false with a reason on malformed input.
 */
static bool kv_list_parse(const char *v, size_t max, char **keys, char **values, size_t *n,
                          const char **why)
{
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = p;
        trim_span(&item, &len);
        p = comma ? comma + 1 : p + strlen(p);
        if (!len)
            continue;
        const char *eq = memchr(item, '=', len);
        const char *k = item;
        size_t klen = eq ? (size_t)(eq - item) : 0;
        trim_span(&k, &klen);
        if (!eq || !klen) {
            *why = "want key=value pairs separated by commas";
            return false;
        }
        if (*n == max) {
            *why = "too many entries";
            return false;
        }
        const char *val = eq + 1;
        size_t vlen = len - (size_t)(eq + 1 - item);
        trim_span(&val, &vlen);
        char *dv = pct_decode(val, vlen);
        if (!dv) {
            *why = "bad percent-encoding in a value";
            return false;
        }
        keys[*n] = xstrndup(k, klen);
        values[*n] = dv;
        (*n)++;
    }
    return true;
}

static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
            return false;
    }
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static enum ho11y_err add_headers(const struct env *e, struct gen_config *cfg, const char *name)
{
    char *keys[GEN_MAX_OTLP_HEADERS], *vals[GEN_MAX_OTLP_HEADERS];
    size_t n = 0;
    const char *why = NULL;
    enum ho11y_err r = HO11Y_OK;
    const char *v = env_get(e, name);
    if (!v || !*v)
        return HO11Y_OK;
    if (!kv_list_parse(v, GEN_MAX_OTLP_HEADERS, keys, vals, &n, &why)) {
        r = fail(e, name, v, "%s", why);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!header_name_ok(keys[i]) || !header_value_ok(vals[i])) {
            r = fail(e, name, v, "header \"%s\" has a bad name or value", keys[i]);
            goto out;
        }
        if (strcasecmp(keys[i], "content-type") == 0 ||
            strcasecmp(keys[i], "content-length") == 0) {
            r = fail(e, name, v, "header \"%s\" is set by the exporter itself", keys[i]);
            goto out;
        }
        /* A later variable (the traces one) overrides a header of the same name. */
        size_t klen = strlen(keys[i]);
        for (size_t j = 0; j < cfg->notlp_headers; j++) {
            if (strncasecmp(cfg->otlp_headers[j], keys[i], klen) == 0 &&
                cfg->otlp_headers[j][klen] == ':') {
                free(cfg->otlp_headers[j]);
                cfg->otlp_headers[j] = cfg->otlp_headers[--cfg->notlp_headers];
                break;
            }
        }
        if (cfg->notlp_headers == GEN_MAX_OTLP_HEADERS) {
            r = fail(e, name, v, "too many headers");
            goto out;
        }
        cfg->otlp_headers[cfg->notlp_headers++] = xasprintf("%s: %s", keys[i], vals[i]);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    return r;
}

/* An upstream-style "host:port" gRPC target (no scheme). */
static bool host_port_ok(const char *v, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(v, ':');
    unsigned long long p = 0;
    size_t hl = colon ? (size_t)(colon - v) : strlen(v);
    if (!hl || hl >= hostlen)
        return false;
    if (colon && !parse_uint(colon + 1, 1, 65535, &p))
        return false;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == ':'))
            return false;
    }
    memcpy(host, v, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return true;
}

static enum ho11y_err load_export(const struct env *e, struct gen_config *cfg)
{
    enum ho11y_err r;
    unsigned long long u;
    const char *v;
    bool disabled = false;
    if ((r = get_bool(e, "OTEL_SDK_DISABLED", false, &disabled)))
        return r;
    v = env_get(e, "OTEL_TRACES_EXPORTER");
    if (v && *v && strcmp(v, "otlp") != 0 && strcmp(v, "none") != 0)
        return fail(e, "OTEL_TRACES_EXPORTER", v, "want otlp or none");
    cfg->export_enabled = !disabled && !(v && strcmp(v, "none") == 0);
    const char *protos[] = {"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"};
    for (int i = 0; i < 2; i++) {
        v = env_get(e, protos[i]);
        if (v && *v && strcmp(v, "http/json") != 0)
            return fail(e, protos[i], v, "only http/json is supported (OTLP/HTTP with JSON)");
    }
    const char *comps[] = {"OTEL_EXPORTER_OTLP_COMPRESSION",
                           "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"};
    for (int i = 0; i < 2; i++) {
        v = env_get(e, comps[i]);
        if (v && *v && strcmp(v, "none") != 0)
            return fail(e, comps[i], v, "only none is supported");
    }
    /* Endpoint precedence (OpenTelemetry spec): the per-signal URL is used as is; the generic
     * one is a base URL that gets "v1/traces" appended. */
    const char *tv = env_get(e, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    const char *gv = env_get(e, "OTEL_EXPORTER_OTLP_ENDPOINT");
    if (tv && *tv) {
        if (!url_check(tv, NULL))
            return fail(e, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tv,
                        "want an http:// or https:// URL such as http://collector:4318/v1/traces");
        cfg->otlp_url = xstrdup(tv);
        cfg->otlp_url_from = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    } else if (gv && *gv && strstr(gv, "://")) {
        if (!url_check(gv, NULL) || strchr(gv, '?') || strchr(gv, '#'))
            return fail(e, "OTEL_EXPORTER_OTLP_ENDPOINT", gv,
                        "want an http:// or https:// base URL such as http://collector:4318");
        size_t n = strlen(gv);
        cfg->otlp_url = xasprintf("%s%sv1/traces", gv, gv[n - 1] == '/' ? "" : "/");
        cfg->otlp_url_from = "OTEL_EXPORTER_OTLP_ENDPOINT";
    } else if (gv && *gv) {
        char host[256];
        unsigned port;
        if (!host_port_ok(gv, host, sizeof(host), &port))
            return fail(e, "OTEL_EXPORTER_OTLP_ENDPOINT", gv,
                        "want host:port (upstream gRPC form) or an http(s):// base URL");
        cfg->otlp_url = xasprintf("http://%s:4318/v1/traces", host);
        cfg->otlp_url_from = "OTEL_EXPORTER_OTLP_ENDPOINT";
        warn(cfg,
             "OTEL_EXPORTER_OTLP_ENDPOINT=%s has no scheme: it is an OTLP/gRPC address for the "
             "upstream ho11y; this generator speaks OTLP/HTTP JSON and exports to %s instead "
             "(set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT to choose)",
             gv, cfg->otlp_url);
    } else {
        cfg->otlp_url = xstrdup("http://localhost:4318/v1/traces");
        cfg->otlp_url_from = "default";
    }
    if ((r = add_headers(e, cfg, "OTEL_EXPORTER_OTLP_HEADERS")) ||
        (r = add_headers(e, cfg, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")))
        return r;
    const char *certs[] = {"OTEL_EXPORTER_OTLP_CERTIFICATE",
                           "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"};
    for (int i = 0; i < 2; i++) {
        v = env_get(e, certs[i]);
        if (!v || !*v)
            continue;
        if (access(v, R_OK) != 0)
            return fail(e, certs[i], v, "cannot read this CA file");
        free(cfg->otlp_ca_file);
        cfg->otlp_ca_file = xstrdup(v);
    }
    const char *touts[] = {"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"};
    cfg->otlp_timeout_ns = 10000LL * 1000000;
    for (int i = 0; i < 2; i++) {
        if ((r = get_uint(e, touts[i], 1, 600000,
                          (unsigned long long)(cfg->otlp_timeout_ns / 1000000), &u)))
            return r;
        cfg->otlp_timeout_ns = (int64_t)u * 1000000;
    }
    if ((r = get_uint(e, "OTEL_BSP_SCHEDULE_DELAY", 0, 3600000, 5000, &u)))
        return r;
    cfg->bsp_delay_ns = (int64_t)u * 1000000;
    if ((r = get_uint(e, "OTEL_BSP_EXPORT_TIMEOUT", 1, 3600000, 30000, &u)))
        return r;
    cfg->bsp_export_timeout_ns = (int64_t)u * 1000000;
    if ((r = get_uint(e, "OTEL_BSP_MAX_QUEUE_SIZE", 1, 1000000, 2048, &u)))
        return r;
    cfg->bsp_queue_max = (size_t)u;
    if ((r = get_uint(e, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 100000, 512, &u)))
        return r;
    cfg->bsp_batch_max = (size_t)u;
    if (cfg->bsp_batch_max > cfg->bsp_queue_max) {
        v = env_get(e, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
        if (v && *v)
            return fail(e, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", v,
                        "must not exceed OTEL_BSP_MAX_QUEUE_SIZE (%zu)", cfg->bsp_queue_max);
        cfg->bsp_batch_max = cfg->bsp_queue_max;
    }
    return HO11Y_OK;
}

static enum ho11y_err load_identity(const struct env *e, struct gen_config *cfg)
{
    const char *why = NULL;
    const char *v = env_get(e, "OTEL_RESOURCE_ATTRIBUTES");
    char *name = NULL;
    if (v && *v) {
        if (!kv_list_parse(v, GEN_MAX_RESOURCE_KV, cfg->resource_keys, cfg->resource_values,
                           &cfg->nresource, &why))
            return fail(e, "OTEL_RESOURCE_ATTRIBUTES", v, "%s", why);
        for (size_t i = 0; i < cfg->nresource; i++)
            if (strcmp(cfg->resource_keys[i], "service.name") == 0)
                name = cfg->resource_values[i];
    }
    /* Precedence: OTEL_SERVICE_NAME, then upstream's OTEL_RESOURCE_ATTRIB, then the standard
     * list, then upstream's default. */
    const char *sn = env_get(e, "OTEL_SERVICE_NAME");
    const char *ra = env_get(e, "OTEL_RESOURCE_ATTRIB");
    if (sn && *sn)
        cfg->service_name = xstrdup(sn);
    else if (ra && *ra)
        cfg->service_name = xstrdup(ra);
    else
        cfg->service_name = xstrdup(name ? name : "ho11y-svc");
    if (sn && *sn && ra && *ra && strcmp(sn, ra) != 0)
        warn(cfg, "OTEL_SERVICE_NAME=%s and OTEL_RESOURCE_ATTRIB=%s differ; using %s", sn, ra, sn);
    if (strlen(cfg->service_name) > 255)
        return fail(e, sn && *sn ? "OTEL_SERVICE_NAME" : "OTEL_RESOURCE_ATTRIB", cfg->service_name,
                    "a service name is at most 255 characters");
    cfg->open_metrics = env_get(e, "DISABLE_OM") == NULL;
    return HO11Y_OK;
}

static enum ho11y_err parse_latency(const struct env *e, struct gen_config *cfg)
{
    const char *v = env_get(e, "HO11Y_LATENCY");
    char a[64] = "", b[64] = "";
    if (!v || !*v)
        return HO11Y_OK;
    if (strlen(v) >= 64)
        return fail(e, "HO11Y_LATENCY", v, "too long");
    if (strncmp(v, "fixed=", 6) == 0 || strncmp(v, "jitter=", 7) == 0) {
        const char *p = v;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (len > 6 && strncmp(p, "fixed=", 6) == 0 && !a[0])
                snprintf(a, sizeof(a), "%.*s", (int)(len - 6), p + 6);
            else if (len > 7 && strncmp(p, "jitter=", 7) == 0 && !b[0])
                snprintf(b, sizeof(b), "%.*s", (int)(len - 7), p + 7);
            else
                return fail(e, "HO11Y_LATENCY", v, "want fixed=<duration>,jitter=<duration>");
            p = comma ? comma + 1 : p + len;
        }
        if (!a[0])
            snprintf(a, sizeof(a), "0");
    } else {
        const char *sep = strpbrk(v, "+,");
        snprintf(a, sizeof(a), "%.*s", sep ? (int)(sep - v) : (int)strlen(v), v);
        if (sep)
            snprintf(b, sizeof(b), "%s", sep[1] ? sep + 1 : "?");
    }
    if (ho11y_duration_parse(a, &cfg->latency_fixed_ns) ||
        cfg->latency_fixed_ns > GEN_DUMMY_MAX_NS ||
        (b[0] && (ho11y_duration_parse(b, &cfg->latency_jitter_ns) ||
                  cfg->latency_jitter_ns > GEN_DUMMY_MAX_NS)))
        return fail(e, "HO11Y_LATENCY", v,
                    "want FIXED[+JITTER] Go durations up to 60s each, e.g. 40ms+10ms");
    return HO11Y_OK;
}

static enum ho11y_err load_behaviour(const struct env *e, struct gen_config *cfg)
{
    enum ho11y_err r;
    unsigned long long u;
    const char *v = env_get(e, "HO11Y_INJECT_FAILURE");
    if (v && *v) {
        bool b = true;
        cfg->failure_percent = 49.0; /* upstream fails when rand.Intn(100) > 50 */
        cfg->failure_legacy = true;
        if (bool_parse(v, &b) && !b)
            warn(cfg,
                 "HO11Y_INJECT_FAILURE=%s turns failure injection on: any non-empty value "
                 "does, as in the upstream ho11y; unset it to turn failures off",
                 v);
    }
    v = env_get(e, "HO11Y_FAILURE_RATE");
    if (v && *v) {
        char tmp[40];
        size_t n = strlen(v);
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(n && v[n - 1] == '%' ? n - 1 : n), v);
        if (n >= sizeof(tmp) || !parse_decimal(tmp, &cfg->failure_percent) ||
            cfg->failure_percent > 100.0)
            return fail(e, "HO11Y_FAILURE_RATE", v, "want a percentage from 0 to 100, e.g. 12.5");
        cfg->failure_legacy = false;
    }
    static const int upstream_codes[] = {400, 403, 301, 404, 501};
    memcpy(cfg->failure_codes, upstream_codes, sizeof(upstream_codes));
    cfg->nfailure_codes = 5;
    v = env_get(e, "HO11Y_FAILURE_CODES");
    if (v && *v) {
        const char *p = v;
        cfg->nfailure_codes = 0;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *item = p;
            char num[16];
            trim_span(&item, &len);
            if (len >= sizeof(num) || cfg->nfailure_codes == GEN_MAX_FAILURE_CODES)
                return fail(e, "HO11Y_FAILURE_CODES", v, "want up to 32 HTTP codes, e.g. 500,503");
            snprintf(num, sizeof(num), "%.*s", (int)len, item);
            if (!parse_uint(num, 100, 599, &u))
                return fail(e, "HO11Y_FAILURE_CODES", v,
                            "\"%s\" is not an HTTP status code from 100 to 599", num);
            cfg->failure_codes[cfg->nfailure_codes++] = (int)u;
            if (!comma)
                break;
            p = comma + 1;
            if (!*p)
                return fail(e, "HO11Y_FAILURE_CODES", v, "trailing comma");
        }
    }
    v = env_get(e, "HO11Y_CUTOFF_TPS");
    if (v && *v) {
        if (!parse_uint(v, 0, 100000000, &u))
            return fail(e, "HO11Y_CUTOFF_TPS", v,
                        "want a whole number of requests per second (0 turns throttling off)");
        cfg->cutoff_tps = (long)u;
    }
    if ((r = parse_latency(e, cfg)))
        return r;
    if ((r = get_bool(e, "HO11Y_PARALLEL", false, &cfg->parallel)))
        return r;
    if ((r = get_duration(e, "HO11Y_DOWNSTREAM_TIMEOUT", 1000000, 3600LL * 1000000000,
                          10LL * 1000000000, &cfg->downstream_timeout_ns)))
        return r;
    if ((r = load_connect_to(e, cfg)))
        return r;
    return load_downstreams(e, cfg);
}

/*
 * The cores this process may use: the CPUs of its affinity mask, capped by a cgroup v2 CPU quota
 * (cpu.max, "max 100000" or "<quota> <period>", rounded up). In a container the online CPUs are
 * the node's, and a thread per node core would only cost memory.
 */
static long cpu_budget(void)
{
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char quota[32] = "";
        unsigned long long period = 0;
        /* NOLINTNEXTLINE(cert-err34-c): the kernel writes the period */
        if (fscanf(f, "%31s %llu", quota, &period) == 2 && strcmp(quota, "max") != 0 && period) {
            unsigned long long q;
            if (parse_uint(quota, 1, 1ULL << 40, &q)) {
                long cores = (long)((q + period - 1) / period);
                if (cores < n)
                    n = cores;
            }
        }
        fclose(f);
    }
    return n > 0 ? n : 1;
}

static enum ho11y_err load_server(const struct env *e, struct gen_config *cfg)
{
    enum ho11y_err r;
    unsigned long long u;
    long ncpu = cpu_budget();
    if ((r = get_uint(e, "HO11Y_PORT", 0, 65535, 8765, &u)))
        return r;
    cfg->port = (unsigned)u;
    const char *v = env_get(e, "HO11Y_BIND_ADDRESS");
    if (v && *v) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
            return fail(e, "HO11Y_BIND_ADDRESS", v, "want an IPv4 or IPv6 address");
        cfg->bind_address = xstrdup(v);
    }
    if ((r = get_uint(e, "HO11Y_THREADS", 1, 256, ncpu > 0 ? (unsigned long long)ncpu : 1, &u)))
        return r;
    cfg->threads = (unsigned)u;
    if ((r = get_uint(e, "HO11Y_MAX_CONNECTIONS", 1, 100000, 1000, &u)))
        return r;
    cfg->max_connections = (unsigned)u;
    int64_t ns;
    if ((r = get_duration(e, "HO11Y_IDLE_TIMEOUT", 1000000000LL, 3600LL * 1000000000,
                          30LL * 1000000000, &ns)))
        return r;
    cfg->idle_timeout_s = (unsigned)(ns / 1000000000);
    if ((r = get_duration(e, "HO11Y_SHUTDOWN_TIMEOUT", 0, 600LL * 1000000000, 10LL * 1000000000,
                          &cfg->shutdown_timeout_ns)))
        return r;
    v = env_get(e, "HO11Y_LOG_DEST");
    cfg->log_fd = 2;
    if (v && strcmp(v, "stdout") == 0)
        cfg->log_fd = 1;
    else if (v && *v && strcmp(v, "stderr") != 0)
        return fail(e, "HO11Y_LOG_DEST", v, "want stdout or stderr");
    cfg->log_level = LOG_LEVEL_INFO;
    v = env_get(e, "HO11Y_LOG_LEVEL");
    if (v && *v && log_level_parse(v, &cfg->log_level))
        return fail(e, "HO11Y_LOG_LEVEL", v, "want debug, info, warn, error or off");
    cfg->log_format = LOG_FORMAT_JSON;
    v = env_get(e, "HO11Y_LOG_FORMAT");
    if (v && *v && log_format_parse(v, &cfg->log_format))
        return fail(e, "HO11Y_LOG_FORMAT", v, "want json or text");
    return HO11Y_OK;
}

static enum ho11y_err load_load(const struct env *e, struct gen_config *cfg)
{
    enum ho11y_err r;
    unsigned long long u;
    const char *t = env_get(e, "HO11Y_LOAD_TARGET"), *rate = env_get(e, "HO11Y_LOAD_RATE");
    if ((r = get_uint(e, "HO11Y_LOAD_CONCURRENCY", 1, 10000, 64, &u)))
        return r;
    cfg->load_concurrency = (unsigned)u;
    if ((r = get_duration(e, "HO11Y_LOAD_DURATION", 0, INT64_MAX, 0, &cfg->load_duration_ns)))
        return r;
    if ((r = get_uint(e, "HO11Y_LOAD_REQUESTS", 1, 1000000000000ULL, 0, &u)))
        return r;
    cfg->load_requests = u;
    if ((!t || !*t) && (!rate || !*rate))
        return HO11Y_OK;
    if (!t || !*t)
        return fail(e, "HO11Y_LOAD_TARGET", NULL, "must be set when HO11Y_LOAD_RATE is");
    if (!rate || !*rate)
        return fail(e, "HO11Y_LOAD_RATE", NULL, "must be set when HO11Y_LOAD_TARGET is");
    if (!url_check(t, NULL))
        return fail(e, "HO11Y_LOAD_TARGET", t, "want an http:// or https:// URL");
    if (!parse_decimal(rate, &cfg->load_rate) || cfg->load_rate < 0.001 || cfg->load_rate > 1e6)
        return fail(e, "HO11Y_LOAD_RATE", rate, "want requests per second, from 0.001 to 1000000");
    cfg->load_target = xstrdup(t);
    return HO11Y_OK;
}

static void warn_unknown(const struct env *e, struct gen_config *cfg)
{
    for (const char *const *p = e->envp; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (strncmp(*p, "HO11Y_", 6) != 0 || !eq)
            continue;
        bool known = false;
        for (size_t i = 0; known_ho11y[i] && !known; i++)
            known = strlen(known_ho11y[i]) == (size_t)(eq - *p) &&
                    strncmp(*p, known_ho11y[i], (size_t)(eq - *p)) == 0;
        if (!known)
            warn(cfg, "%.*s is not a variable this generator reads (misspelt?)",
                 (int)(eq - *p > 64 ? 64 : eq - *p), *p);
    }
}

enum ho11y_err gen_config_load(struct gen_config *cfg, const char *const *envp, char *err,
                               size_t errlen)
{
    char dummy[8];
    struct env e = {envp ? envp : (const char *const *)environ, err ? err : dummy,
                    err ? errlen : sizeof(dummy)};
    enum ho11y_err r;
    memset(cfg, 0, sizeof(*cfg));
    if (errlen && err)
        err[0] = '\0';
    if ((r = load_server(&e, cfg)) || (r = load_identity(&e, cfg)) ||
        (r = load_behaviour(&e, cfg)) || (r = load_export(&e, cfg)) || (r = load_load(&e, cfg))) {
        gen_config_cleanup(cfg);
        return r;
    }
    warn_unknown(&e, cfg);
    return HO11Y_OK;
}

void gen_config_cleanup(struct gen_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->bind_address);
    free(cfg->service_name);
    for (size_t i = 0; i < cfg->nresource; i++) {
        free(cfg->resource_keys[i]);
        free(cfg->resource_values[i]);
    }
    for (size_t i = 0; i < cfg->ndownstreams; i++) {
        free(cfg->downstreams[i].raw);
        free(cfg->downstreams[i].url);
        free(cfg->downstreams[i].peer);
    }
    for (size_t i = 0; i < cfg->nconnect_to; i++)
        free(cfg->connect_to[i]);
    free(cfg->otlp_url);
    for (size_t i = 0; i < cfg->notlp_headers; i++)
        free(cfg->otlp_headers[i]);
    free(cfg->otlp_ca_file);
    free(cfg->load_target);
    for (size_t i = 0; i < cfg->nwarnings; i++)
        free(cfg->warnings[i]);
    memset(cfg, 0, sizeof(*cfg));
}
