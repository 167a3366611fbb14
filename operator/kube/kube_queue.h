/*
 * The work queue of client-go, in C: keys ("namespace/name") are deduplicated while they wait;
 * a key being processed is never handed to a second worker (an add while it is processed marks
 * it dirty and it comes back once the first worker calls done); delayed adds wait in a heap
 * where the earliest deadline wins; rate-limited adds wait 5 ms * 2^failures, capped at 1000 s,
 * until forget, and at least as long as a token bucket shared by every key (10 per second,
 * burst 100) makes them: client-go's DefaultControllerRateLimiter (the classic workqueue's;
 * controller-runtime's newer priority queue has no shared bucket), the larger of the two, so
 * that many keys failing at once (an API outage) are retried at 10 per second after the first
 * 100, not all together. Thread-safe.
 *
 * The queue also times its keys, as client-go's workqueue metrics do: how long a key waited
 * from its add (for a delayed or rate-limited add: from its deadline) until a worker got it,
 * and how long the worker held it until done.
 */
#ifndef HO11Y_KUBE_QUEUE_H
#define HO11Y_KUBE_QUEUE_H

#include <stdint.h>

#define KUBE_QUEUE_BASE_DELAY_MS 5
#define KUBE_QUEUE_MAX_DELAY_MS  1000000
#define KUBE_QUEUE_BUCKET_QPS    10
#define KUBE_QUEUE_BUCKET_BURST  100

/* The duration buckets of client-go's workqueue: 1e-8 s to 1e3 s, times ten each. */
#define KUBE_QUEUE_NBUCKETS 12
extern const double kube_queue_bounds[KUBE_QUEUE_NBUCKETS];

struct kube_queue;

/* Durations in seconds; buckets[i] counts those <= kube_queue_bounds[i] (cumulative). */
struct kube_queue_histogram {
    unsigned long long buckets[KUBE_QUEUE_NBUCKETS];
    unsigned long long count;
    double sum;
};

struct kube_queue_stats {
    uint64_t depth;   /* keys waiting to be handed out (not delayed, not in progress) */
    uint64_t adds;    /* accepted adds (workqueue_adds_total) */
    uint64_t retries; /* rate-limited adds (workqueue_retries_total) */
    uint64_t delayed; /* keys waiting for a deadline */
    uint64_t active;  /* keys being processed */
    struct kube_queue_histogram queued; /* from add (or deadline) to get */
    struct kube_queue_histogram worked; /* from get to done */
    double unfinished_s; /* sum of how long each key being processed has been so far */
    double longest_s;    /* the longest of them */
};

/** A new empty queue. Never NULL. */
struct kube_queue *kube_queue_new(void);
/** Frees the queue; no thread may use it any more. NULL is a no-op. */
void kube_queue_free(struct kube_queue *q);

/** Adds key (copied) now; a no-op when it already waits. Ignored after shutdown. */
void kube_queue_add(struct kube_queue *q, const char *key);
/** Adds key after delay_ms (0 = now); an earlier pending deadline wins. */
void kube_queue_add_after(struct kube_queue *q, const char *key, int64_t delay_ms);
/** Adds key after its backoff delay and counts a failure; returns the delay used in ms. */
int64_t kube_queue_add_rate_limited(struct kube_queue *q, const char *key);
/** Like kube_queue_add_rate_limited, but waits at least min_delay_ms (a Retry-After). */
int64_t kube_queue_add_rate_limited_min(struct kube_queue *q, const char *key,
                                        int64_t min_delay_ms);
/** Forgets the failures of key (its next rate-limited add waits 5 ms again). */
void kube_queue_forget(struct kube_queue *q, const char *key);
/** The number of failures counted for key since the last forget. */
unsigned kube_queue_num_requeues(struct kube_queue *q, const char *key);
/** The backoff delay for a given number of failures (pure). */
int64_t kube_queue_backoff_ms(unsigned failures);

/**
 * Blocks until a key is ready and returns a fresh copy the caller frees and must pass to
 * kube_queue_done; returns NULL once the queue is shut down (waiting keys are dropped).
 */
char *kube_queue_get(struct kube_queue *q);
/** Like kube_queue_get but gives up after timeout_ms, returning NULL. */
char *kube_queue_get_timeout(struct kube_queue *q, int64_t timeout_ms);
/** Marks key processed; when it was added meanwhile it becomes ready again. */
void kube_queue_done(struct kube_queue *q, const char *key);
/** Stops handing out keys and wakes every waiting getter. */
void kube_queue_shutdown(struct kube_queue *q);
/** Whether kube_queue_shutdown was called. */
int kube_queue_shutting_down(struct kube_queue *q);
/** Copies the counters and histograms, and times the keys in progress, now. */
void kube_queue_get_stats(struct kube_queue *q, struct kube_queue_stats *out);

#endif
