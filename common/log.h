/*
 * Logging: one line per event, in text or JSON, to one file descriptor. The macros test the level
 * before evaluating their arguments. Each line is written with a single write(2), so lines from
 * several threads never interleave. Never log tokens or secret data.
 *
 * Times are RFC 3339 in UTC with nanoseconds (always nine digits). A line carries its own fields
 * and then those of the writing thread's context (log_ctx_set), such as the Topology a worker
 * reconciles:
 *
 * Text:  2026-11-25T18:20:07.123456789Z INFO  Created Deployment ns/a took_ms=3 controller=topology
 *        namespace=ns name=shop reconcileID=0f8e...          (one line; logfmt quoting of values)
 * JSON:  {"controller":"topology","level":"info","msg":"Created Deployment ns/a","name":"shop",...
 *        "time":"2026-11-25T18:20:07.123456789Z"}            (one object per line, keys sorted)
 */
#ifndef HO11Y_COMMON_LOG_H
#define HO11Y_COMMON_LOG_H

#include <stddef.h>

#include "error.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_OFF };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* A structured field for log_kv: exactly one of str, or the number in i / d as `type` says. */
enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DOUBLE, LOG_FIELD_BOOL };
struct log_field {
    const char *key;
    enum log_field_type type;
    const char *str;
    long long i;
    double d;
};
#define LOG_STR(k, v)  ((struct log_field){.key = (k), .type = LOG_FIELD_STR, .str = (v)})
#define LOG_INT(k, v)  ((struct log_field){.key = (k), .type = LOG_FIELD_INT, .i = (long long)(v)})
#define LOG_DBL(k, v)  ((struct log_field){.key = (k), .type = LOG_FIELD_DOUBLE, .d = (double)(v)})
#define LOG_BOOL(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_BOOL, .i = !!(v)})

extern int log__level;

/** Sets level, format and destination fd (1 or 2 usually). Call before starting threads. */
void log_configure(enum log_level level, enum log_format format, int fd);
/** Parses "debug|info|warn|warning|error|off" (case-insensitive); HO11Y_INVAL otherwise. */
enum ho11y_err log_level_parse(const char *s, enum log_level *out);
/** Parses "text|json"; HO11Y_INVAL otherwise. */
enum ho11y_err log_format_parse(const char *s, enum log_format *out);

/** Writes one line with a printf message. Use the LOG_* macros rather than calling it. */
void log__write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/**
 * Writes one line with a fixed message and structured fields (JSON keys are printed sorted, as
 * logrus does). `fields` is borrowed. Thread-safe.
 */
void log_kv(enum log_level level, const char *msg, const struct log_field *fields, size_t nfields);

/* The most fields a thread's log context holds, and the bytes its string values share. */
#define LOG_CTX_MAX_FIELDS 6
#define LOG_CTX_MAX_BYTES  512

/**
 * Sets the calling thread's log context: until log_ctx_clear, every line this thread writes
 * carries these fields after its own (a key the line has itself is not repeated). Replaces any
 * context set before. At most LOG_CTX_MAX_FIELDS fields are kept; string values are copied, cut
 * so that all fit in LOG_CTX_MAX_BYTES; keys are borrowed and must outlive the context (string
 * literals). Thread-local: no lock, no allocation.
 */
void log_ctx_set(const struct log_field *fields, size_t nfields);
/** Forgets the calling thread's log context (a no-op without one). */
void log_ctx_clear(void);

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((int)(lvl) >= log__level)                                                              \
            log__write((lvl), __VA_ARGS__);                                                        \
    } while (0)
#define LOG_DEBUG(...)   LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_INFO(...)    LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...)    LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(...)   LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_ENABLED(lvl) ((int)(lvl) >= log__level)

#endif
