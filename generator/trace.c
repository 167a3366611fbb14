#include "generator/trace.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"

/* xoshiro256** (Blackman and Vigna), one state per thread, seeded lazily. */
static _Thread_local uint64_t rng_state[4];
static _Thread_local bool rng_seeded;

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(void)
{
    uint64_t seed[4] = {0, 0, 0, 0};
    ssize_t got = getrandom(seed, sizeof(seed), GRND_NONBLOCK);
    if (got != (ssize_t)sizeof(seed)) {
        /* No entropy yet (very early boot): mix what distinguishes this thread. */
        uint64_t x =
            (uint64_t)gen_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&rng_state;
        for (int i = 0; i < 4; i++)
            seed[i] ^= splitmix64(&x);
    }
    if (!(seed[0] | seed[1] | seed[2] | seed[3]))
        seed[0] = 1;
    memcpy(rng_state, seed, sizeof(seed));
    rng_seeded = true;
}

uint64_t gen_rand_u64(void)
{
    if (!rng_seeded)
        rng_seed();
    uint64_t *s = rng_state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void gen_rand_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n >= 8) {
        uint64_t v = gen_rand_u64();
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = gen_rand_u64();
        memcpy(p, &v, n);
    }
}

double gen_rand_unit(void)
{
    return (double)(gen_rand_u64() >> 11) * 0x1.0p-53;
}

double gen_rand_normal(void)
{
    double u1 = gen_rand_unit(), u2 = gen_rand_unit();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int64_t gen_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t gen_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void gen_trace_id_new(uint8_t id[GEN_TRACE_ID_LEN], int64_t unix_s)
{
    uint32_t t = (uint32_t)unix_s;
    id[0] = (uint8_t)(t >> 24);
    id[1] = (uint8_t)(t >> 16);
    id[2] = (uint8_t)(t >> 8);
    id[3] = (uint8_t)t;
    gen_rand_bytes(id + 4, GEN_TRACE_ID_LEN - 4);
}

void gen_span_id_new(uint8_t id[GEN_SPAN_ID_LEN])
{
    do {
        gen_rand_bytes(id, GEN_SPAN_ID_LEN);
    } while (gen_id_is_zero(id, GEN_SPAN_ID_LEN));
}

bool gen_id_is_zero(const uint8_t *id, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= id[i];
    return acc == 0;
}

void gen_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool gen_hex_decode(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = ho11y_hex_digit(in[2 * i]), lo = ho11y_hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void gen_xray_id_format(const uint8_t id[GEN_TRACE_ID_LEN], char out[GEN_XRAY_ID_LEN + 1])
{
    out[0] = '1';
    out[1] = '-';
    gen_hex_encode(id, 4, out + 2);
    out[10] = '-';
    gen_hex_encode(id + 4, 12, out + 11);
}

static struct gen_attr *attr_slot(struct gen_span *s, const char *key, enum gen_attr_type type)
{
    if (s->nattrs >= GEN_SPAN_ATTRS)
        return NULL;
    struct gen_attr *a = &s->attrs[s->nattrs++];
    memset(a, 0, sizeof(*a));
    a->key = key;
    a->type = type;
    return a;
}

void gen_span_attr_str(struct gen_span *s, const char *key, const char *value)
{
    struct gen_attr *a = attr_slot(s, key, GEN_ATTR_STR);
    if (a)
        a->str = value ? value : "";
}

void gen_span_attr_int(struct gen_span *s, const char *key, int64_t value)
{
    struct gen_attr *a = attr_slot(s, key, GEN_ATTR_INT);
    if (a)
        a->i = value;
}

void gen_span_attr_double(struct gen_span *s, const char *key, double value)
{
    struct gen_attr *a = attr_slot(s, key, GEN_ATTR_DOUBLE);
    if (a)
        a->d = value;
}

void gen_span_attr_bool(struct gen_span *s, const char *key, bool value)
{
    struct gen_attr *a = attr_slot(s, key, GEN_ATTR_BOOL);
    if (a)
        a->i = value;
}

/*
 * Packed layout: struct packed_head, then the optional strings (trace state, name, status
 * message, exception type and message) as a uint32 length and the bytes plus a NUL, present
 * when their bit of `strings` is set; then each attribute: its type byte, its key (a byte: an
 * index in known_keys, or KEY_INLINE followed by the key as a string), and its value (a string,
 * 8 bytes of int64 or double, or 1 byte of bool).
 */
struct packed_head {
    int64_t start_ns, end_ns, exception_ns;
    uint8_t trace_id[GEN_TRACE_ID_LEN];
    uint8_t span_id[GEN_SPAN_ID_LEN];
    uint8_t parent_id[GEN_SPAN_ID_LEN];
    uint8_t has_parent, kind, status, has_exception, strings, nattrs;
};

#define PACKED_STRINGS 5
#define KEY_INLINE     0xff

/* Attribute keys the generator writes, packed as their index in one byte (any other key is
 * packed as a string): keys are most of a span's bytes. */
static const char *const known_keys[] = {"http.request.method",
                                         "http.method",
                                         "url.path",
                                         "http.target",
                                         "http.route",
                                         "url.scheme",
                                         "server.port",
                                         "client.address",
                                         "net.peer.ip",
                                         "user_agent.original",
                                         "http.user_agent",
                                         "http.response.status_code",
                                         "http.status_code",
                                         "peer.service",
                                         "url.full",
                                         "http.url",
                                         "server.address",
                                         "error.type",
                                         "ho11y.downstream",
                                         "ho11y.downstream.slot",
                                         "ho11y.dummy.size_bytes",
                                         "ho11y.dummy.duration_seconds"};
#define NKNOWN_KEYS (sizeof(known_keys) / sizeof(known_keys[0]))

/* The index of key in known_keys, or KEY_INLINE. The literals are usually merged by the linker,
 * so comparing addresses first spares most string comparisons. */
static unsigned key_index(const char *key)
{
    for (unsigned i = 0; i < NKNOWN_KEYS; i++)
        if (key == known_keys[i])
            return i;
    for (unsigned i = 0; i < NKNOWN_KEYS; i++)
        if (strcmp(key, known_keys[i]) == 0)
            return i;
    return KEY_INLINE;
}

/* The optional strings, by their bit in packed_head.strings. */
static const char *string_get(const struct gen_span *s, int i)
{
    switch (i) {
    case 0:
        return s->trace_state;
    case 1:
        return s->name;
    case 2:
        return s->status_message;
    case 3:
        return s->exception_type;
    default:
        return s->exception_message;
    }
}

static void string_set(struct gen_span *s, int i, const char *v)
{
    switch (i) {
    case 0:
        s->trace_state = v;
        break;
    case 1:
        s->name = v;
        break;
    case 2:
        s->status_message = v;
        break;
    case 3:
        s->exception_type = v;
        break;
    default:
        s->exception_message = v;
    }
}

static size_t str_size(const char *v)
{
    return sizeof(uint32_t) + strlen(v) + 1;
}

size_t gen_span_packed_size(const struct gen_span *s)
{
    size_t n = sizeof(struct packed_head);
    for (int i = 0; i < PACKED_STRINGS; i++)
        if (string_get(s, i))
            n += str_size(string_get(s, i));
    for (size_t i = 0; i < s->nattrs && i < GEN_SPAN_ATTRS; i++) {
        const struct gen_attr *a = &s->attrs[i];
        n += 2 + (key_index(a->key) == KEY_INLINE ? str_size(a->key) : 0);
        if (a->type == GEN_ATTR_STR)
            n += str_size(a->str ? a->str : "");
        else
            n += a->type == GEN_ATTR_BOOL ? 1 : 8;
    }
    return n;
}

static unsigned char *put_str(unsigned char *p, const char *v)
{
    uint32_t len = (uint32_t)strlen(v);
    memcpy(p, &len, sizeof(len));
    memcpy(p + sizeof(len), v, (size_t)len + 1);
    return p + sizeof(len) + len + 1;
}

void gen_span_pack(const struct gen_span *s, void *out)
{
    struct packed_head h;
    unsigned char *p = out;
    memset(&h, 0, sizeof(h));
    h.start_ns = s->start_ns;
    h.end_ns = s->end_ns;
    h.exception_ns = s->exception_ns;
    memcpy(h.trace_id, s->trace_id, sizeof(h.trace_id));
    memcpy(h.span_id, s->span_id, sizeof(h.span_id));
    memcpy(h.parent_id, s->parent_id, sizeof(h.parent_id));
    h.has_parent = s->has_parent;
    h.kind = (uint8_t)s->kind;
    h.status = (uint8_t)s->status;
    h.has_exception = s->has_exception;
    h.nattrs = (uint8_t)(s->nattrs < GEN_SPAN_ATTRS ? s->nattrs : GEN_SPAN_ATTRS);
    for (int i = 0; i < PACKED_STRINGS; i++)
        if (string_get(s, i))
            h.strings |= (uint8_t)(1u << i);
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    for (int i = 0; i < PACKED_STRINGS; i++)
        if (string_get(s, i))
            p = put_str(p, string_get(s, i));
    for (size_t i = 0; i < h.nattrs; i++) {
        const struct gen_attr *a = &s->attrs[i];
        unsigned k = key_index(a->key);
        *p++ = (unsigned char)a->type;
        *p++ = (unsigned char)k;
        if (k == KEY_INLINE)
            p = put_str(p, a->key);
        if (a->type == GEN_ATTR_STR) {
            p = put_str(p, a->str ? a->str : "");
        } else if (a->type == GEN_ATTR_BOOL) {
            *p++ = a->i != 0;
        } else if (a->type == GEN_ATTR_INT) {
            memcpy(p, &a->i, 8);
            p += 8;
        } else {
            memcpy(p, &a->d, 8);
            p += 8;
        }
    }
}

/* Reads a string at *p (below end); NULL when it does not fit or lacks its NUL. */
static const char *get_str(const unsigned char **p, const unsigned char *end)
{
    uint32_t len;
    if ((size_t)(end - *p) < sizeof(len))
        return NULL;
    memcpy(&len, *p, sizeof(len));
    const unsigned char *v = *p + sizeof(len);
    if ((size_t)(end - v) < (size_t)len + 1 || v[len] != '\0')
        return NULL;
    *p = v + len + 1;
    return (const char *)v;
}

bool gen_span_unpack(const void *data, size_t len, struct gen_span *out)
{
    struct packed_head h;
    const unsigned char *p = data, *end = p + len;
    memset(out, 0, sizeof(*out));
    if (len < sizeof(h))
        return false;
    memcpy(&h, p, sizeof(h));
    p += sizeof(h);
    if (h.nattrs > GEN_SPAN_ATTRS)
        return false;
    out->start_ns = h.start_ns;
    out->end_ns = h.end_ns;
    out->exception_ns = h.exception_ns;
    memcpy(out->trace_id, h.trace_id, sizeof(h.trace_id));
    memcpy(out->span_id, h.span_id, sizeof(h.span_id));
    memcpy(out->parent_id, h.parent_id, sizeof(h.parent_id));
    out->has_parent = h.has_parent;
    out->kind = (enum gen_span_kind)h.kind;
    out->status = (enum gen_span_status)h.status;
    out->has_exception = h.has_exception;
    for (int i = 0; i < PACKED_STRINGS; i++) {
        if (!(h.strings & (1u << i)))
            continue;
        const char *v = get_str(&p, end);
        if (!v)
            return false;
        string_set(out, i, v);
    }
    for (size_t i = 0; i < h.nattrs; i++) {
        struct gen_attr *a = &out->attrs[i];
        if (end - p < 2)
            return false;
        unsigned type = p[0], k = p[1];
        p += 2;
        a->type = (enum gen_attr_type)type;
        if (k < NKNOWN_KEYS)
            a->key = known_keys[k];
        else if (k != KEY_INLINE || !(a->key = get_str(&p, end)))
            return false;
        if (a->type == GEN_ATTR_STR) {
            if (!(a->str = get_str(&p, end)))
                return false;
        } else if (a->type == GEN_ATTR_BOOL && p < end) {
            a->i = *p++;
        } else if ((a->type == GEN_ATTR_INT || a->type == GEN_ATTR_DOUBLE) && end - p >= 8) {
            memcpy(a->type == GEN_ATTR_INT ? (void *)&a->i : (void *)&a->d, p, 8);
            p += 8;
        } else {
            return false;
        }
    }
    out->nattrs = h.nattrs;
    return p == end;
}
