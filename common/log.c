#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

int log__level = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static int log_fd = STDERR_FILENO;

/* A line longer than this is cut; log lines are for people, not payloads. */
#define LOG_LINE_MAX 8192

static const char *const level_names[] = {"debug", "info", "warning", "error", "off"};
static const char *const level_text[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};

void log_configure(enum log_level level, enum log_format format, int fd)
{
    log__level = (int)level;
    log_fmt = format;
    log_fd = fd;
}

enum ho11y_err log_level_parse(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {{"debug", LOG_LEVEL_DEBUG},  {"info", LOG_LEVEL_INFO},   {"warn", LOG_LEVEL_WARN},
                 {"warning", LOG_LEVEL_WARN}, {"error", LOG_LEVEL_ERROR}, {"off", LOG_LEVEL_OFF}};
    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return HO11Y_OK;
        }
    }
    return HO11Y_INVAL;
}

enum ho11y_err log_format_parse(const char *s, enum log_format *out)
{
    if (s && strcasecmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (s && strcasecmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return HO11Y_INVAL;
    return HO11Y_OK;
}

/* The bytes a line is given up front: most lines fit, so each costs one allocation. */
#define LOG_LINE_RESERVE 512
/* At most this many of a line's own fields are printed; logs never need more. */
#define LOG_FIELDS_MAX 64

/* The calling thread's context (log_ctx_set): its fields, whose string values point into store. */
struct log_ctx {
    size_t n;
    struct log_field fields[LOG_CTX_MAX_FIELDS];
    char store[LOG_CTX_MAX_BYTES];
};

static _Thread_local struct log_ctx thread_ctx;

void log_ctx_set(const struct log_field *fields, size_t nfields)
{
    struct log_ctx *c = &thread_ctx;
    size_t used = 0;
    c->n = 0;
    for (size_t i = 0; i < nfields && c->n < LOG_CTX_MAX_FIELDS; i++) {
        struct log_field *f = &c->fields[c->n++];
        *f = fields[i];
        if (f->type != LOG_FIELD_STR)
            continue;
        /* The values share store; one that does not fit whole is cut, never a neighbour. */
        size_t len = f->str ? strlen(f->str) : 0, room = sizeof(c->store) - used;
        if (room == 0) {
            f->str = "";
            continue;
        }
        if (len > room - 1)
            len = room - 1;
        if (len)
            memcpy(c->store + used, fields[i].str, len);
        c->store[used + len] = '\0';
        f->str = c->store + used;
        used += len + 1;
    }
}

void log_ctx_clear(void)
{
    thread_ctx.n = 0;
}

static void timestamp(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%09ldZ", (long)ts.tv_nsec);
}

static int field_cmp(const void *a, const void *b)
{
    const struct log_field *const *fa = a, *const *fb = b;
    return strcmp((*fa)->key, (*fb)->key);
}

/* logfmt quotes a value that is empty or holds a space, a control byte, '"' or '='. */
static int needs_quotes(const char *s)
{
    if (!s || !*s)
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f)
            return 1;
    return 0;
}

static void add_value(struct hbuf *line, const struct log_field *f, int json)
{
    switch (f->type) {
    case LOG_FIELD_STR:
        if (!json && !needs_quotes(f->str)) {
            hbuf_adds(line, f->str);
        } else {
            hbuf_addc(line, '"');
            hbuf_add_json_escaped(line, f->str ? f->str : "");
            hbuf_addc(line, '"');
        }
        break;
    case LOG_FIELD_INT:
        hbuf_addf(line, "%lld", f->i);
        break;
    case LOG_FIELD_DOUBLE:
        hbuf_addf(line, "%.6g", f->d);
        break;
    case LOG_FIELD_BOOL:
        hbuf_adds(line, f->i ? "true" : "false");
        break;
    }
}

/* The text message stays on its line: line breaks in it are written as \n and \r. */
static void add_text_msg(struct hbuf *line, const char *msg)
{
    const char *p = msg, *brk;
    while ((brk = strpbrk(p, "\r\n")) != NULL) {
        hbuf_add(line, p, (size_t)(brk - p));
        hbuf_adds(line, *brk == '\n' ? "\\n" : "\\r");
        p = brk + 1;
    }
    hbuf_adds(line, p);
}

static int has_key(const struct log_field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].key, key) == 0)
            return 1;
    return 0;
}

static void add_json(struct hbuf *line, enum log_level level, const char *msg, const char *ts,
                     const struct log_field **sorted, size_t n)
{
    qsort(sorted, n, sizeof(sorted[0]), field_cmp);
    /* logrus prints level, msg and time among the other keys in sorted order. */
    const char *fixed_keys[] = {"level", "msg", "time"};
    const char *fixed_vals[] = {level_names[level], msg, ts};
    size_t fi = 0, si = 0;
    int first = 1;
    hbuf_addc(line, '{');
    while (fi < 3 || si < n) {
        int take_fixed = si >= n || (fi < 3 && strcmp(fixed_keys[fi], sorted[si]->key) <= 0);
        hbuf_adds(line, first ? "\"" : ",\"");
        first = 0;
        if (take_fixed) {
            hbuf_add_json_escaped(line, fixed_keys[fi]);
            hbuf_adds(line, "\":\"");
            hbuf_add_json_escaped(line, fixed_vals[fi]);
            hbuf_addc(line, '"');
            fi++;
        } else {
            hbuf_add_json_escaped(line, sorted[si]->key);
            hbuf_adds(line, "\":");
            add_value(line, sorted[si], 1);
            si++;
        }
    }
    hbuf_addc(line, '}');
}

static void emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    char ts[40];
    struct hbuf line;
    const struct log_field *all[LOG_FIELDS_MAX + LOG_CTX_MAX_FIELDS];
    const struct log_ctx *ctx = &thread_ctx;
    size_t nall = 0;
    if (n > LOG_FIELDS_MAX)
        n = LOG_FIELDS_MAX;
    for (size_t i = 0; i < n; i++)
        all[nall++] = &fields[i];
    for (size_t i = 0; i < ctx->n; i++)
        if (!has_key(fields, n, ctx->fields[i].key))
            all[nall++] = &ctx->fields[i];
    timestamp(ts, sizeof(ts));
    hbuf_init(&line, LOG_LINE_MAX);
    hbuf_reserve(&line, LOG_LINE_RESERVE);
    if (log_fmt == LOG_FORMAT_JSON) {
        add_json(&line, level, msg, ts, all, nall);
    } else {
        hbuf_addf(&line, "%s %s ", ts, level_text[level]);
        add_text_msg(&line, msg);
        for (size_t i = 0; i < nall; i++) {
            hbuf_addf(&line, " %s=", all[i]->key);
            add_value(&line, all[i], 0);
        }
    }
    if (line.len == 0 || hbuf_addc(&line, '\n')) {
        /* Cut an over-long line so that it still ends in a newline. */
        if (line.len >= 4)
            line.len -= 4;
        line.max += 8;
        hbuf_adds(&line, log_fmt == LOG_FORMAT_JSON ? "...\"}\n" : "...\n");
    }
    ssize_t wr = write(log_fd, line.data, line.len);
    (void)wr;
    hbuf_cleanup(&line);
}

void log__write(enum log_level level, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg, NULL, 0);
}

void log_kv(enum log_level level, const char *msg, const struct log_field *fields, size_t nfields)
{
    if ((int)level < log__level)
        return;
    emit(level, msg, fields, nfields);
}
