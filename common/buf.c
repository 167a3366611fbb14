#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void hbuf_init(struct hbuf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void hbuf_cleanup(struct hbuf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void hbuf_reset(struct hbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static enum ho11y_err reserve(struct hbuf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return HO11Y_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return HO11Y_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (SIZE_MAX / 2) ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return HO11Y_OK;
}

enum ho11y_err hbuf_add(struct hbuf *b, const void *data, size_t len)
{
    enum ho11y_err result = reserve(b, len);
    if (result)
        return result;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return HO11Y_OK;
}

enum ho11y_err hbuf_adds(struct hbuf *b, const char *s)
{
    return hbuf_add(b, s, strlen(s));
}

enum ho11y_err hbuf_addc(struct hbuf *b, char c)
{
    return hbuf_add(b, &c, 1);
}

enum ho11y_err hbuf_vaddf(struct hbuf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return HO11Y_INVAL;
    enum ho11y_err result = reserve(b, (size_t)n);
    if (result)
        return result;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return HO11Y_OK;
}

enum ho11y_err hbuf_addf(struct hbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum ho11y_err result = hbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return result;
}

enum ho11y_err hbuf_add_json_escaped(struct hbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t start_len = b->len;
    enum ho11y_err result = HO11Y_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && !result; p++) {
        switch (*p) {
        case '"':
            result = hbuf_add(b, "\\\"", 2);
            break;
        case '\\':
            result = hbuf_add(b, "\\\\", 2);
            break;
        case '\n':
            result = hbuf_add(b, "\\n", 2);
            break;
        case '\r':
            result = hbuf_add(b, "\\r", 2);
            break;
        case '\t':
            result = hbuf_add(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20) {
                char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                result = hbuf_add(b, esc, sizeof(esc));
            } else {
                result = hbuf_addc(b, (char)*p);
            }
        }
    }
    if (result) {
        b->len = start_len;
        if (b->data)
            b->data[b->len] = '\0';
    }
    return result;
}

const char *hbuf_str(const struct hbuf *b)
{
    return b->data ? b->data : "";
}

char *hbuf_steal(struct hbuf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

enum ho11y_err hbuf_reserve(struct hbuf *b, size_t extra)
{
    return reserve(b, extra);
}
