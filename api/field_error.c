#include "field_error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"

#define QUOTE_SHOWN 200

static const struct {
    const char *str;
    const char *reason;
} types[] = {
#define FIELD_ERROR_ROW(name, str, reason) {str, reason},
    FIELD_ERROR_TYPE_MAP(FIELD_ERROR_ROW)
#undef FIELD_ERROR_ROW
};

const char *field_error_type_string(enum field_error_type type)
{
    if ((size_t)type >= sizeof(types) / sizeof(types[0]))
        return "Invalid value";
    return types[type].str;
}

const char *field_error_type_reason(enum field_error_type type)
{
    if ((size_t)type >= sizeof(types) / sizeof(types[0]))
        return "FieldValueInvalid";
    return types[type].reason;
}

void field_errors_init(struct field_errors *list)
{
    memset(list, 0, sizeof(*list));
}

void field_errors_cleanup(struct field_errors *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].field);
        free(list->items[i].value);
        free(list->items[i].detail);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* Kubernetes omits the value of these types (field.Required, Forbidden, TooLong, InternalError). */
static int value_omitted(enum field_error_type type)
{
    return type == FIELD_ERR_REQUIRED || type == FIELD_ERR_FORBIDDEN ||
           type == FIELD_ERR_TOO_LONG || type == FIELD_ERR_INTERNAL ||
           type == FIELD_ERR_UNKNOWN_FIELD;
}

static void add_v(struct field_errors *list, enum field_error_type type, const char *field,
                  const char *value, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void add_v(struct field_errors *list, enum field_error_type type, const char *field,
                  const char *value, const char *fmt, va_list ap)
{
    if (list->count == FIELD_ERRORS_MAX) {
        list->dropped++;
        return;
    }
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = xrealloc(list->items, list->cap * sizeof(*list->items));
    }
    struct field_error *e = &list->items[list->count++];
    e->type = type;
    e->field = xstrdup(field ? field : "");
    e->value = value && !value_omitted(type) ? xstrdup(value) : NULL;
    e->detail = NULL;
    e->line = 0;
    if (fmt) {
        char detail[512];
        vsnprintf(detail, sizeof(detail), fmt, ap);
        e->detail = xstrdup(detail);
    }
}

void field_errors_add(struct field_errors *list, enum field_error_type type, const char *field,
                      const char *value, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    add_v(list, type, field, value, detail_fmt, ap);
    va_end(ap);
}

void field_errors_add_str(struct field_errors *list, enum field_error_type type, const char *field,
                          const char *s, const char *detail_fmt, ...)
{
    char quoted[QUOTE_SHOWN * 4 + 64];
    field_value_quote(s ? s : "", quoted, sizeof(quoted));
    va_list ap;
    va_start(ap, detail_fmt);
    add_v(list, type, field, quoted, detail_fmt, ap);
    va_end(ap);
}

void field_errors_add_int(struct field_errors *list, enum field_error_type type, const char *field,
                          long long v, const char *detail_fmt, ...)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", v);
    va_list ap;
    va_start(ap, detail_fmt);
    add_v(list, type, field, num, detail_fmt, ap);
    va_end(ap);
}

int field_errors_has(const struct field_errors *list, const char *field)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].field, field) == 0)
            return 1;
    return 0;
}

/* Length of a valid UTF-8 sequence at s of a code point >= U+00A0, else 0. */
static size_t utf8_printable_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp < 0xa0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void field_value_quote(const char *s, char *out, size_t outlen)
{
    struct hbuf b;
    hbuf_init(&b, outlen > 16 ? outlen - 16 : 0);
    size_t n = strlen(s);
    size_t shown = n > QUOTE_SHOWN ? QUOTE_SHOWN : n;
    const unsigned char *p = (const unsigned char *)s;
    int ok = hbuf_addc(&b, '"') == HO11Y_OK;
    for (size_t i = 0; ok && i < shown;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc) {
            ok = hbuf_adds(&b, esc) == HO11Y_OK;
            i++;
        } else if (c >= 0x20 && c < 0x7f) {
            ok = hbuf_addc(&b, (char)c) == HO11Y_OK;
            i++;
        } else {
            size_t len = c >= 0x80 ? utf8_printable_len(p + i, shown - i) : 0;
            if (len) {
                ok = hbuf_add(&b, p + i, len) == HO11Y_OK;
                i += len;
            } else {
                ok = hbuf_addf(&b, "\\x%02x", c) == HO11Y_OK;
                i++;
            }
        }
    }
    if (ok)
        ok = hbuf_addc(&b, '"') == HO11Y_OK;
    if (ok && shown < n)
        hbuf_addf(&b, "...(%zu bytes)", n);
    snprintf(out, outlen, "%s", hbuf_str(&b));
    hbuf_cleanup(&b);
}

char *field_error_format(const struct field_error *e, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s: %s", e->field, field_error_type_string(e->type));
    if (e->value && n >= 0 && (size_t)n < outlen)
        n += snprintf(out + n, outlen - (size_t)n, ": %s", e->value);
    if (e->detail && n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, ": %s", e->detail);
    return out;
}

char *field_errors_join(const struct field_errors *list)
{
    struct hbuf b;
    char line[2048];
    hbuf_init(&b, (size_t)1 << 20);
    int multi = list->count + list->dropped > 1;
    if (multi)
        hbuf_addc(&b, '[');
    for (size_t i = 0; i < list->count; i++) {
        if (i)
            hbuf_adds(&b, ", ");
        hbuf_adds(&b, field_error_format(&list->items[i], line, sizeof(line)));
    }
    if (list->dropped)
        hbuf_addf(&b, ", and %zu more errors", list->dropped);
    if (multi)
        hbuf_addc(&b, ']');
    return hbuf_steal(&b, NULL);
}

void field_errors_locate(struct field_errors *list, const struct doc *doc)
{
    if (!doc || !doc->root)
        return;
    for (size_t i = 0; i < list->count; i++) {
        struct field_error *e = &list->items[i];
        if (e->line)
            continue;
        const cJSON *node = doc_find_path(doc->root, e->field);
        e->line = node ? doc_line_of(doc, node) : 0;
    }
}
