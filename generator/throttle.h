/*
 * Upstream ho11y's throttle: requests are counted in 500 ms windows, and a request is refused
 * (429) when the rate of the previous window, count / 0.5 s, is above the cutoff. Every request
 * counts, refused ones included, as upstream does. Upstream races on plain variables; this one
 * takes a short lock.
 */
#ifndef HO11Y_GENERATOR_THROTTLE_H
#define HO11Y_GENERATOR_THROTTLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GEN_THROTTLE_WINDOW_NS (500LL * 1000000)

struct gen_throttle {
    pthread_mutex_t lock;
    long cutoff_tps;
    int64_t window; /* index of the current window */
    uint64_t current, previous;
};

/** Prepares a throttle with the given cutoff (requests per second). Caller owns the storage. */
void gen_throttle_init(struct gen_throttle *t, long cutoff_tps);
/** Releases the lock. */
void gen_throttle_cleanup(struct gen_throttle *t);

/**
 * Counts one request at monotonic time now_ns and says whether to refuse it; *tps (if given)
 * receives the previous window's rate. Thread-safe.
 */
bool gen_throttle_check(struct gen_throttle *t, int64_t now_ns, double *tps);

#endif
