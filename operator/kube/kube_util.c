#include "kube_util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

enum ho11y_err kube_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *res = xmalloc(len / 4 * 3 + 4);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(res);
            return HO11Y_PARSE;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            res[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || pad > 2) {
        free(res);
        return HO11Y_PARSE;
    }
    res[n] = '\0';
    *out = res;
    *outlen = n;
    return HO11Y_OK;
}

char *kube_base64_encode(const void *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    char *out = xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

enum ho11y_err kube_time_parse(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20)
        return HO11Y_PARSE;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return HO11Y_PARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return HO11Y_PARSE;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return HO11Y_PARSE;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return HO11Y_PARSE;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return HO11Y_PARSE;
    }
    if (*p)
        return HO11Y_PARSE;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm) - offset;
    return HO11Y_OK;
}

void kube_time_format(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kube_microtime_now(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

int64_t kube_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kube_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void kube_deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int kube_nap(pthread_mutex_t *lock, pthread_cond_t *cond, atomic_int *stop, int64_t ms)
{
    struct timespec ts;
    kube_deadline_after(&ts, ms);
    pthread_mutex_lock(lock);
    while (!atomic_load(stop))
        if (pthread_cond_timedwait(cond, lock, &ts) != 0)
            break;
    pthread_mutex_unlock(lock);
    return atomic_load(stop);
}

static pthread_mutex_t rand_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rand_state;

static uint64_t rand_next(void)
{
    pthread_mutex_lock(&rand_lock);
    if (!rand_state) {
        if (RAND_bytes((unsigned char *)&rand_state, sizeof(rand_state)) != 1 || !rand_state)
            rand_state = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ 1;
    }
    /* xorshift64*: fine for jitter and identities, not for secrets. */
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    uint64_t v = rand_state * 2685821657736338717ull;
    pthread_mutex_unlock(&rand_lock);
    return v;
}

uint64_t kube_rand_below(uint64_t n)
{
    return n ? rand_next() % n : 0;
}

void kube_rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        unsigned v = (unsigned)(rand_next() >> 24) & 0xff;
        out[2 * i] = hex[v >> 4];
        out[2 * i + 1] = hex[v & 15];
    }
    out[2 * nbytes] = '\0';
}

enum ho11y_err kube_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err,
                              size_t errlen)
{
    enum ho11y_err result = HO11Y_OK;
    char *data = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HO11Y_IO;
    }
    data = xmalloc(max + 1);
    for (;;) {
        ssize_t r = read(fd, data + n, max + 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (err)
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
            result = HO11Y_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            if (err)
                snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
            result = HO11Y_LIMIT;
            goto out;
        }
    }
    data[n] = '\0';
    *out = xrealloc(data, n + 1);
    data = NULL;
    if (outlen)
        *outlen = n;
out:
    free(data);
    close(fd);
    return result;
}

void kube_bucket_init(struct kube_bucket *b, double rate, double burst)
{
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->at_ns = kube_now_ns();
}

int64_t kube_bucket_reserve(struct kube_bucket *b)
{
    int64_t now = kube_now_ns();
    b->tokens += (double)(now - b->at_ns) * b->rate / 1e9;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->at_ns = now;
    b->tokens -= 1;
    return b->tokens < 0 ? (int64_t)(-b->tokens / b->rate * 1e9) : 0;
}

void kube_histogram_observe(const double *bounds, size_t n, unsigned long long *buckets,
                            unsigned long long *count, double *sum, double seconds)
{
    for (size_t i = 0; i < n; i++)
        if (seconds <= bounds[i])
            buckets[i]++;
    (*count)++;
    *sum += seconds;
}
