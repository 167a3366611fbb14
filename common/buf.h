/*
 * Bounded byte buffers (after curl's dynbuf): a buffer grows up to its `max` and refuses to grow
 * further with HO11Y_LIMIT, so data sized by the network can never exhaust memory. The content
 * is always NUL-terminated (the terminator is not counted in len).
 */
#ifndef HO11Y_COMMON_BUF_H
#define HO11Y_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "error.h"

struct hbuf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* the most content bytes the buffer will ever hold */
};

/** Prepares an empty buffer that will hold at most max bytes. Caller owns the storage. */
void hbuf_init(struct hbuf *b, size_t max);
/** Frees the content; the buffer may be re-used after hbuf_init. NULL is a no-op. */
void hbuf_cleanup(struct hbuf *b);
/** Forgets the content but keeps the allocation for re-use. */
void hbuf_reset(struct hbuf *b);
/** Appends len bytes; HO11Y_LIMIT (buffer unchanged) if the result would exceed max. */
enum ho11y_err hbuf_add(struct hbuf *b, const void *data, size_t len);
/** Appends a C string. */
enum ho11y_err hbuf_adds(struct hbuf *b, const char *s);
/** Appends one byte. */
enum ho11y_err hbuf_addc(struct hbuf *b, char c);
/** Appends printf output; HO11Y_LIMIT (buffer unchanged) past max. */
enum ho11y_err hbuf_addf(struct hbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** vprintf variant of hbuf_addf. */
enum ho11y_err hbuf_vaddf(struct hbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/** Appends s as the body of a JSON string (quotes not included), escaping as RFC 8259 needs. */
enum ho11y_err hbuf_add_json_escaped(struct hbuf *b, const char *s);
/** The content as a C string ("" when empty); borrowed, valid until the next change. */
const char *hbuf_str(const struct hbuf *b);
/** Takes the content out: caller frees the result ("" allocated when empty); buffer is reset. */
char *hbuf_steal(struct hbuf *b, size_t *len);
/** Makes room for `extra` more bytes up front (fewer reallocations); HO11Y_LIMIT past max. */
enum ho11y_err hbuf_reserve(struct hbuf *b, size_t extra);

#endif
