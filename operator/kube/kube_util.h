/*
 * Small helpers the Kubernetes client needs: base64, RFC 3339 times (metav1.Time and MicroTime),
 * clocks, interruptible sleeps, jittered random numbers and reading small files with a size
 * bound.
 */
#ifndef HO11Y_KUBE_UTIL_H
#define HO11Y_KUBE_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/**
 * Decodes standard base64 (padding optional, whitespace ignored) into a fresh buffer the caller
 * frees; *out is NUL-terminated for convenience (the terminator is not counted in *outlen).
 * HO11Y_PARSE on any other character. Thread-safe.
 */
enum ho11y_err kube_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/** Encodes len bytes as standard padded base64 into a fresh string the caller frees. */
char *kube_base64_encode(const void *in, size_t len);

/**
 * Parses an RFC 3339 timestamp ("2026-11-25T18:20:07Z", optional fraction, "Z" or "+hh:mm")
 * into seconds since the epoch. HO11Y_PARSE when malformed.
 */
enum ho11y_err kube_time_parse(const char *s, time_t *out);

/** Formats t as metav1.Time ("2026-11-25T18:20:07Z") into out (at least 21 bytes). */
void kube_time_format(time_t t, char *out, size_t outlen);

/** Formats the current time as metav1.MicroTime ("2026-11-25T18:20:07.123456Z"), >= 28 bytes. */
void kube_microtime_now(char *out, size_t outlen);

/** Milliseconds of CLOCK_MONOTONIC. */
int64_t kube_now_ms(void);

/** Nanoseconds of CLOCK_MONOTONIC, the clock of kube_now_ms (for durations below 1 ms). */
int64_t kube_now_ns(void);

/** Sets *ts to ms milliseconds from now on CLOCK_REALTIME (the clock of pthread_cond_timedwait). */
void kube_deadline_after(struct timespec *ts, int64_t ms);

/**
 * Sleeps up to ms, waking early once *stop is non-zero; returns *stop. Whoever sets *stop does
 * so holding lock and then broadcasts cond. lock, cond and stop are borrowed. Thread-safe: any
 * number of threads may nap on the same three.
 */
int kube_nap(pthread_mutex_t *lock, pthread_cond_t *cond, atomic_int *stop, int64_t ms);

/*
 * A token bucket as golang.org/x/time/rate reserves from one: rate tokens a second up to burst;
 * each reservation takes a token, the count may go below zero, and the taker waits until it
 * would be back at zero. Not locked: the owner serialises calls.
 */
struct kube_bucket {
    double rate, burst, tokens;
    int64_t at_ns; /* when tokens was last brought up to date */
};

/** A full bucket (rate > 0, burst >= 1). */
void kube_bucket_init(struct kube_bucket *b, double rate, double burst);
/** Takes a token; returns how long the taker must wait for it, in ns (0: none). */
int64_t kube_bucket_reserve(struct kube_bucket *b);

/**
 * Counts an observation of seconds into a cumulative histogram: buckets[i] counts those
 * <= bounds[i] (n bounds, ascending), with count and sum beside. Not locked: the owner
 * serialises calls.
 */
void kube_histogram_observe(const double *bounds, size_t n, unsigned long long *buckets,
                            unsigned long long *count, double *sum, double seconds);

/** A uniformly distributed random number in [0, n) (n > 0), from a thread-safe generator. */
uint64_t kube_rand_below(uint64_t n);

/** Fills out with 2*nbytes lowercase hex characters of randomness plus a NUL. */
void kube_rand_hex(char *out, size_t nbytes);

/**
 * Reads a whole file of at most max bytes into a fresh NUL-terminated buffer the caller frees.
 * HO11Y_IO (errno text in err) or HO11Y_LIMIT when larger than max.
 */
enum ho11y_err kube_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err,
                              size_t errlen);

#endif
