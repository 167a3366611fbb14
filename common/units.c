#include "units.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum ho11y_err ho11y_duration_parse(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {
        {"ns", 1},       {"us", 1000},        {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
    if (!s || !*s)
        return HO11Y_INVAL;
    const char *p = s;
    if (*p == '+')
        p++;
    else if (*p == '-')
        return HO11Y_INVAL; /* negative durations are never meaningful here */
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return HO11Y_OK;
    }
    if (!*p)
        return HO11Y_INVAL;
    long double total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return HO11Y_INVAL;
        long double whole = 0, frac = 0, scale = 1;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            whole = whole * 10 + (*p++ - '0');
            digits++;
        }
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                scale /= 10;
                frac += (*p++ - '0') * scale;
                digits++;
            }
        }
        if (!digits)
            return HO11Y_INVAL;
        size_t best = 0;
        int64_t mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            if (ul > best && strncmp(p, units[i].unit, ul) == 0) {
                /* "m" must not swallow the "m" of "ms". */
                best = ul;
                mult = units[i].ns;
            }
        }
        if (!best)
            return HO11Y_INVAL;
        p += best;
        total += (whole + frac) * (long double)mult;
        if (total > 9.2233720368547758e18L)
            return HO11Y_LIMIT;
    }
    *ns = (int64_t)(total + 0.5L);
    return HO11Y_OK;
}

enum ho11y_err ho11y_size_parse(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *names[6];
        unsigned shift;
    } units[] = {
        {{"", "b", "byte", "bytes", NULL}, 0},
        {{"k", "kb", "kib", "kilo", "kilobyte", "kilobytes"}, 10},
        {{"m", "mb", "mib", "mega", "megabyte", "megabytes"}, 20},
        {{"g", "gb", "gib", "giga", "gigabyte", "gigabytes"}, 30},
        {{"t", "tb", "tib", "tera", "terabyte", "terabytes"}, 40},
        {{"p", "pb", "pib", "peta", "petabyte", "petabytes"}, 50},
        {{"e", "eb", "eib", "exa", "exabyte", "exabytes"}, 60},
    };
    if (!s || !isdigit((unsigned char)*s))
        return HO11Y_INVAL;
    uint64_t value = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p++ - '0');
        if (value > (UINT64_MAX - d) / 10)
            return HO11Y_LIMIT;
        value = value * 10 + d;
    }
    size_t ulen = strlen(p);
    /* "Kb", "Mb", ...: a capital prefix with a lower-case b means bits, which upstream refuses. */
    if (ulen == 2 && isupper((unsigned char)p[0]) && p[1] == 'b')
        return HO11Y_INVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        for (size_t j = 0; j < 6 && units[i].names[j]; j++) {
            if (strcasecmp(p, units[i].names[j]) != 0)
                continue;
            if (units[i].shift && value > (UINT64_MAX >> units[i].shift))
                return HO11Y_LIMIT;
            *bytes = value << units[i].shift;
            return HO11Y_OK;
        }
    }
    return HO11Y_INVAL;
}

void ho11y_duration_format(int64_t ns, char *out, unsigned outlen)
{
    if (ns == 0) {
        snprintf(out, outlen, "0s");
    } else if (ns < 1000) {
        snprintf(out, outlen, "%lldns", (long long)ns);
    } else if (ns < 1000000) {
        snprintf(out, outlen, "%gus", (double)ns / 1e3);
    } else if (ns < 1000000000) {
        snprintf(out, outlen, "%gms", (double)ns / 1e6);
    } else {
        snprintf(out, outlen, "%gs", (double)ns / 1e9);
    }
}

long long ho11y_dtoll(double d)
{
    if (isnan(d))
        return 0;
    /* 2^63 is exact as a double; LLONG_MAX is not (it rounds up to 2^63). */
    if (d >= 9223372036854775808.0)
        return LLONG_MAX;
    if (d <= -9223372036854775808.0)
        return LLONG_MIN;
    return (long long)d;
}

void ho11y_float_format(double v, bool om, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, outlen, "%s%s", signbit(v) ? "-0" : "0", om ? ".0" : "");
        return;
    }
    /* The shortest precision that reads back exactly (Go's shortest formatting). */
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
    const char *e = strchr(tmp, 'e');
    long exp = e ? strtol(e + 1, NULL, 10) : 0;
    /* Go's 'g' with the shortest precision uses the exponent form when the exponent is below -4
     * or at least 6 (strconv/ftoa.go: "if precision was the shortest possible, use precision 6
     * for this decision"). */
    if (exp < -4 || exp >= 6) {
        snprintf(out, outlen, "%s", tmp);
    } else {
        int decimals = prec - (int)exp - 1;
        snprintf(out, outlen, "%.*f", decimals > 0 ? decimals : 0, v);
    }
    if (om && !strpbrk(out, ".e")) {
        size_t n = strlen(out);
        if (n + 3 <= outlen)
            memcpy(out + n, ".0", 3);
    }
}
