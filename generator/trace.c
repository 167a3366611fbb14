#include "generator/trace.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool gen_hex_decode(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
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
