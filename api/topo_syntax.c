/*
 * Syntax checks with the messages Kubernetes uses (k8s.io/apimachinery/pkg/util/validation),
 * so that `ho11yctl validate`, the operator and the API server describe a bad name alike.
 * Lengths are checked by the callers, which know each field's limit.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/topo_internal.h"

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return isalnum((unsigned char)c) && !((unsigned char)c & 0x80);
}

const char *topo__dns1035_label(const char *s)
{
    size_t n = strlen(s);
    int ok = n > 0 && s[0] >= 'a' && s[0] <= 'z' && is_lower_alnum(s[n - 1]);
    for (size_t i = 0; ok && i < n; i++)
        ok = is_lower_alnum(s[i]) || s[i] == '-';
    if (ok)
        return NULL;
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static int label_1123(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

const char *topo__dns1123_label(const char *s)
{
    if (label_1123(s, strlen(s)))
        return NULL;
    if (strlen(s) > 63)
        return "must be no more than 63 characters";
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
           "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
}

static int subdomain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!label_1123(s + start, i - start))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

const char *topo__dns1123_subdomain(const char *s)
{
    if (subdomain_ok(s, strlen(s)))
        return NULL;
    if (strlen(s) > 253)
        return "must be no more than 253 characters";
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static int name_part_ok(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

const char *topo__qualified_name(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *name = slash ? slash + 1 : s;
    if (slash) {
        if (strchr(name, '/'))
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                   "'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                   "prefix and '/' (e.g. 'example.com/MyName')";
        if (slash == s)
            return "prefix part must be non-empty";
        if (!subdomain_ok(s, (size_t)(slash - s)))
            return "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                   "alphanumeric characters, '-' or '.', and must start and end with an "
                   "alphanumeric character (e.g. 'example.com', regex used for validation is "
                   "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
    size_t n = strlen(name);
    if (n == 0)
        return "name part must be non-empty";
    if (n > 63)
        return "name part must be no more than 63 characters";
    if (!name_part_ok(name, n))
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
               "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
               "'123-abc', regex used for validation is "
               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    return NULL;
}

const char *topo__label_value(const char *s)
{
    size_t n = strlen(s);
    if (n > 63)
        return "must be no more than 63 characters";
    if (n == 0 || name_part_ok(s, n))
        return NULL;
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', "
           "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
           "or 'my_value',  or '12345', regex used for validation is "
           "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
}

const char *topo__env_name(const char *s)
{
    int ok = s[0] != '\0' && !(s[0] >= '0' && s[0] <= '9');
    for (const char *p = s; ok && *p; p++)
        ok = is_alnum(*p) || *p == '-' || *p == '.' || *p == '_';
    if (ok)
        return NULL;
    return "a valid environment variable name must consist of alphabetic characters, digits, "
           "'_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
           "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
           "'[-._a-zA-Z][-._a-zA-Z0-9]*')";
}

/* Dotted-quad IPv4 with each part 0..255 and no leading zeros. */
static int ipv4_ok(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        int v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return 0;
        parts++;
        if (i == n)
            break;
        if (s[i] != '.' || parts == 4)
            return 0;
        i++;
        if (i == n)
            return 0;
    }
    return parts == 4;
}

const char *topo__host(const char *s)
{
    size_t n = strlen(s);
    if (subdomain_ok(s, n) || ipv4_ok(s, n))
        return NULL;
    return "must be a DNS name (a lowercase RFC 1123 subdomain such as "
           "'adot-collector.adot-col') or an IPv4 address";
}

/* host[:port] of a URL authority, after any userinfo. */
static int authority_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    size_t hostlen = n;
    const char *colon = NULL;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return 0;
        for (const char *p = s + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return 0;
        hostlen = (size_t)(close + 1 - s);
        if (hostlen < n) {
            if (s[hostlen] != ':')
                return 0;
            colon = s + hostlen;
        }
    } else {
        colon = memchr(s, ':', n);
        if (colon)
            hostlen = (size_t)(colon - s);
        if (hostlen == 0)
            return 0;
        for (size_t i = 0; i < hostlen; i++)
            if (!is_alnum(s[i]) && !strchr("-._~%", s[i]))
                return 0;
    }
    if (colon) {
        const char *p = colon + 1;
        size_t plen = n - (size_t)(p - s);
        long port = 0;
        if (plen == 0 || plen > 5)
            return 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)p[i]))
                return 0;
            port = port * 10 + (p[i] - '0');
        }
        if (port < 1 || port > 65535)
            return 0;
    }
    return 1;
}

const char *topo__http_url(const char *s)
{
    size_t skip = 0;
    if (strncmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return "must be an absolute http:// or https:// URL";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return "must not contain spaces, control or non-ASCII characters (percent-encode "
                   "them)";
    const char *auth = s + skip;
    size_t alen = strcspn(auth, "/?#");
    if (!authority_ok(auth, alen))
        return "must name a host (and an optional port 1-65535) after the scheme";
    return NULL;
}

const char *topo__quantity(const char *s)
{
    /* ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$, then the stricter forms Kubernetes parses:
     * a decimal number and one suffix (binary Ki..Ei, decimal n u m k M G T P E, or an
     * exponent e/E with an integer). */
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0, dot = 0;
    while (isdigit((unsigned char)*p) || (*p == '.' && !dot)) {
        if (*p == '.')
            dot = 1;
        else
            digits++;
        p++;
    }
    int ok = digits > 0;
    if (ok && *p) {
        static const char *const suffixes[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
                                               "m",  "k",  "M",  "G",  "T",  "P",  "E", NULL};
        int matched = 0;
        for (size_t i = 0; suffixes[i] && !matched; i++)
            matched = strcmp(p, suffixes[i]) == 0;
        if (!matched && (*p == 'e' || *p == 'E')) {
            const char *q = p + 1;
            if (*q == '+' || *q == '-')
                q++;
            matched = isdigit((unsigned char)*q) != 0;
            while (isdigit((unsigned char)*q))
                q++;
            matched = matched && *q == '\0';
        }
        ok = matched;
    }
    if (ok)
        return NULL;
    return "must match the regular expression "
           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
}

int topo__env_reserved(const char *s)
{
    static const char *const names[] = {TOPO_ENV_DISABLE_OM,
                                        TOPO_ENV_LOG_DEST,
                                        TOPO_ENV_RESOURCE_ATTRIB,
                                        TOPO_ENV_SERVICE_NAME,
                                        TOPO_ENV_OTLP_ENDPOINT,
                                        TOPO_ENV_OTLP_TRACES,
                                        TOPO_ENV_INJECT_FAILURE,
                                        TOPO_ENV_FAILURE_RATE,
                                        TOPO_ENV_FAILURE_CODES,
                                        TOPO_ENV_LATENCY,
                                        TOPO_ENV_PARALLEL,
                                        TOPO_ENV_CUTOFF_TPS,
                                        TOPO_ENV_PORT,
                                        TOPO_ENV_BIND_ADDRESS,
                                        TOPO_ENV_LOAD_TARGET,
                                        TOPO_ENV_LOAD_RATE,
                                        NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return 1;
    size_t plen = strlen(TOPO_ENV_DOWNSTREAM_PREFIX);
    if (strncmp(s, TOPO_ENV_DOWNSTREAM_PREFIX, plen) != 0 || s[plen] == '\0')
        return 0;
    for (const char *p = s + plen; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}
