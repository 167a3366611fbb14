/*
 * Trace and span identifiers, clocks and the in-memory span record.
 *
 * Trace ids are X-Ray compatible: the first 4 bytes are the Unix time in seconds (big-endian),
 * the other 12 are random. Span ids are 8 random bytes, never all zero. Random numbers come from
 * a per-thread xoshiro256** generator seeded from getrandom(2), so no lock is taken.
 *
 * A span only borrows its strings: it is encoded (otlp.h) before anything it points to is freed.
 */
#ifndef HO11Y_GENERATOR_TRACE_H
#define HO11Y_GENERATOR_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEN_TRACE_ID_LEN 16
#define GEN_SPAN_ID_LEN  8
#define GEN_XRAY_ID_LEN  35 /* "1-" 8 hex "-" 24 hex */
#define GEN_SPAN_ATTRS   20

/** Fills n bytes with pseudo-random data from this thread's generator. Thread-safe. */
void gen_rand_bytes(void *out, size_t n);
/** A uniformly distributed 64-bit value. Thread-safe. */
uint64_t gen_rand_u64(void);
/** A uniformly distributed double in [0, 1). Thread-safe. */
double gen_rand_unit(void);
/** A standard normal N(0,1) value (Box-Muller). Thread-safe. */
double gen_rand_normal(void);

/** Wall-clock time in nanoseconds since the Unix epoch. */
int64_t gen_now_ns(void);
/** Monotonic time in nanoseconds (for intervals and deadlines). */
int64_t gen_mono_ns(void);

/** Writes a new X-Ray compatible trace id: epoch seconds `unix_s` then 12 random bytes. */
void gen_trace_id_new(uint8_t id[GEN_TRACE_ID_LEN], int64_t unix_s);
/** Writes a new random span id (never all zero). */
void gen_span_id_new(uint8_t id[GEN_SPAN_ID_LEN]);
/** True when all n bytes are zero (an invalid id). */
bool gen_id_is_zero(const uint8_t *id, size_t n);

/** Lower-case hex of n bytes into out (2n+1 bytes with the NUL). */
void gen_hex_encode(const uint8_t *in, size_t n, char *out);
/**
 * Decodes exactly 2n lower-case hex characters of in into n bytes. Returns false (out partly
 * written) on any other character. Upper case is refused, as W3C trace context requires.
 */
bool gen_hex_decode(const char *in, size_t n, uint8_t *out);
/** Formats a trace id as an X-Ray id "1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx" (36 bytes with NUL). */
void gen_xray_id_format(const uint8_t id[GEN_TRACE_ID_LEN], char out[GEN_XRAY_ID_LEN + 1]);

enum gen_span_kind {
    GEN_SPAN_KIND_INTERNAL = 1,
    GEN_SPAN_KIND_SERVER = 2,
    GEN_SPAN_KIND_CLIENT = 3,
};

/* OTLP status codes (not the Go API's numbering): 0 unset, 1 ok, 2 error. */
enum gen_span_status {
    GEN_STATUS_UNSET = 0,
    GEN_STATUS_OK = 1,
    GEN_STATUS_ERROR = 2,
};

enum gen_attr_type { GEN_ATTR_STR, GEN_ATTR_INT, GEN_ATTR_DOUBLE, GEN_ATTR_BOOL };

struct gen_attr {
    const char *key; /* borrowed */
    enum gen_attr_type type;
    const char *str; /* borrowed */
    int64_t i;
    double d;
};

struct gen_span {
    uint8_t trace_id[GEN_TRACE_ID_LEN];
    uint8_t span_id[GEN_SPAN_ID_LEN];
    uint8_t parent_id[GEN_SPAN_ID_LEN];
    bool has_parent;
    const char *trace_state; /* borrowed; NULL or "" when absent */
    const char *name;        /* borrowed */
    enum gen_span_kind kind;
    int64_t start_ns, end_ns; /* Unix nanoseconds */
    enum gen_span_status status;
    const char *status_message; /* borrowed; NULL when none */
    struct gen_attr attrs[GEN_SPAN_ATTRS];
    size_t nattrs;
    /* At most one "exception" event, as the X-Ray exporter reads cause details from it. */
    bool has_exception;
    int64_t exception_ns;
    const char *exception_type;    /* borrowed */
    const char *exception_message; /* borrowed */
};

/** Adds a string attribute (borrowed key and value); silently ignored past GEN_SPAN_ATTRS. */
void gen_span_attr_str(struct gen_span *s, const char *key, const char *value);
/** Adds an integer attribute. */
void gen_span_attr_int(struct gen_span *s, const char *key, int64_t value);
/** Adds a floating-point attribute. */
void gen_span_attr_double(struct gen_span *s, const char *key, double value);
/** Adds a boolean attribute. */
void gen_span_attr_bool(struct gen_span *s, const char *key, bool value);

/*
 * A packed span: a self-contained copy of a span's fields and strings in one buffer, about a
 * quarter of the size of its OTLP JSON, for holding spans in a queue and encoding them when
 * they are sent. The layout is private to this process (native byte order).
 */

/** The bytes gen_span_pack writes for s. Thread-safe. */
size_t gen_span_packed_size(const struct gen_span *s);

/** Packs s (borrowed) into out, which has room for gen_span_packed_size(s) bytes. */
void gen_span_pack(const struct gen_span *s, void *out);

/**
 * Reads a packed span of len bytes into out, whose strings then point into data (borrowed:
 * data must outlive out). False when data is not exactly one packed span. Thread-safe.
 */
bool gen_span_unpack(const void *data, size_t len, struct gen_span *out);

#endif
