#include "kube_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "kube_map.h"
#include "kube_util.h"

/* Per-key state, kept while the key is known to the queue in any way. The flags are bytes so
 * that the two times fit the 48-byte malloc chunk the item took without them. */
struct item {
    char *key;          /* own copy; the FIFO borrows it */
    int64_t due_ms;     /* pending delayed add (0 = none) */
    int64_t added_ns;   /* when the add a worker has yet to get was made (0 = none) */
    int64_t started_ns; /* when a worker got it (while active) */
    unsigned failures;
    unsigned char queued; /* in the FIFO */
    unsigned char active; /* handed to a worker */
    unsigned char dirty;  /* added while active */
};

struct delayed {
    int64_t due_ms;
    char *key;
};

struct kube_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kube_map items; /* key -> struct item */
    char **fifo;           /* ring of keys (borrowed from items) */
    size_t fifo_cap, fifo_head, fifo_len;
    struct delayed *heap;
    size_t heap_len, heap_cap;
    int shutdown;
    uint64_t adds, retries, active;
    struct kube_queue_histogram queued, worked;
    struct kube_bucket bucket; /* shared by the rate-limited adds of every key */
};

/* client-go's ExponentialBuckets(10e-9, 10, 12) multiplies as it goes, so two of its bounds
 * are not the decimal powers they stand for; these are its exact values, and /metrics shows
 * them as client-go's scrapes do (le="9.999999999999999e-06"). */
const double kube_queue_bounds[KUBE_QUEUE_NBUCKETS] = {
    1e-8, 1e-7, 1e-6, 9.999999999999999e-06, 9.999999999999999e-05, 1e-3, 1e-2, 1e-1, 1,
    10,   100,  1000};

static void observe(struct kube_queue_histogram *h, int64_t ns)
{
    kube_histogram_observe(kube_queue_bounds, KUBE_QUEUE_NBUCKETS, h->buckets, &h->count, &h->sum,
                           ns > 0 ? (double)ns / 1e9 : 0);
}

struct kube_queue *kube_queue_new(void)
{
    struct kube_queue *q = xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    kube_map_init(&q->items);
    kube_bucket_init(&q->bucket, KUBE_QUEUE_BUCKET_QPS, KUBE_QUEUE_BUCKET_BURST);
    return q;
}

static void item_free(void *p)
{
    struct item *it = p;
    if (it) {
        free(it->key);
        free(it);
    }
}

void kube_queue_free(struct kube_queue *q)
{
    if (!q)
        return;
    kube_map_cleanup(&q->items, item_free);
    for (size_t i = 0; i < q->heap_len; i++)
        free(q->heap[i].key);
    free(q->heap);
    free(q->fifo);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}

int64_t kube_queue_backoff_ms(unsigned failures)
{
    int64_t d = KUBE_QUEUE_BASE_DELAY_MS;
    for (unsigned i = 0; i < failures && d < KUBE_QUEUE_MAX_DELAY_MS; i++)
        d *= 2;
    return d < KUBE_QUEUE_MAX_DELAY_MS ? d : KUBE_QUEUE_MAX_DELAY_MS;
}

static struct item *item_get(struct kube_queue *q, const char *key)
{
    struct item *it = kube_map_get(&q->items, key);
    if (!it) {
        it = xcalloc(1, sizeof(*it));
        it->key = xstrdup(key);
        kube_map_put(&q->items, key, it);
    }
    return it;
}

/* Drops the item once nothing refers to it any more. */
static void item_maybe_drop(struct kube_queue *q, struct item *it)
{
    if (!it->queued && !it->active && !it->dirty && !it->due_ms && !it->failures)
        item_free(kube_map_del(&q->items, it->key));
}

static void fifo_push(struct kube_queue *q, struct item *it)
{
    if (q->fifo_len == q->fifo_cap) {
        size_t cap = q->fifo_cap ? q->fifo_cap * 2 : 64;
        char **f = xcalloc(cap, sizeof(*f));
        for (size_t i = 0; i < q->fifo_len; i++)
            f[i] = q->fifo[(q->fifo_head + i) % q->fifo_cap];
        free(q->fifo);
        q->fifo = f;
        q->fifo_cap = cap;
        q->fifo_head = 0;
    }
    q->fifo[(q->fifo_head + q->fifo_len) % q->fifo_cap] = it->key;
    q->fifo_len++;
    it->queued = 1;
}

/*
 * Makes a key ready (the core of add); at_ns is when it became ready (now, or the deadline of a
 * delayed add), from which its wait is measured. Called with the lock held.
 */
static void add_locked_at(struct kube_queue *q, const char *key, int64_t at_ns)
{
    struct item *it = item_get(q, key);
    if (it->queued || it->dirty)
        return;
    q->adds++;
    /* Like client-go, a key added while being processed waits from this add, not from done. */
    it->added_ns = at_ns;
    if (it->active) {
        it->dirty = 1;
        return;
    }
    fifo_push(q, it);
    pthread_cond_signal(&q->cond);
}

static void add_locked(struct kube_queue *q, const char *key)
{
    add_locked_at(q, key, kube_now_ns());
}

void kube_queue_add(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutdown)
        add_locked(q, key);
    pthread_mutex_unlock(&q->lock);
}

static void heap_up(struct kube_queue *q, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->heap[p].due_ms <= q->heap[i].due_ms)
            break;
        struct delayed t = q->heap[p];
        q->heap[p] = q->heap[i];
        q->heap[i] = t;
        i = p;
    }
}

static void heap_down(struct kube_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->heap_len && q->heap[l].due_ms < q->heap[m].due_ms)
            m = l;
        if (r < q->heap_len && q->heap[r].due_ms < q->heap[m].due_ms)
            m = r;
        if (m == i)
            return;
        struct delayed t = q->heap[m];
        q->heap[m] = q->heap[i];
        q->heap[i] = t;
        i = m;
    }
}

static void add_after_locked(struct kube_queue *q, const char *key, int64_t delay_ms)
{
    if (delay_ms <= 0) {
        add_locked(q, key);
        return;
    }
    struct item *it = item_get(q, key);
    int64_t due = kube_now_ms() + delay_ms;
    if (it->due_ms && it->due_ms <= due)
        return;
    it->due_ms = due;
    if (q->heap_len == q->heap_cap) {
        q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 64;
        q->heap = xrealloc(q->heap, q->heap_cap * sizeof(*q->heap));
    }
    /* Older heap entries for this key stay and are skipped when their time comes. */
    q->heap[q->heap_len].due_ms = due;
    q->heap[q->heap_len].key = xstrdup(key);
    heap_up(q, q->heap_len++);
    pthread_cond_signal(&q->cond);
}

void kube_queue_add_after(struct kube_queue *q, const char *key, int64_t delay_ms)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutdown)
        add_after_locked(q, key, delay_ms);
    pthread_mutex_unlock(&q->lock);
}

int64_t kube_queue_add_rate_limited(struct kube_queue *q, const char *key)
{
    return kube_queue_add_rate_limited_min(q, key, 0);
}

int64_t kube_queue_add_rate_limited_min(struct kube_queue *q, const char *key, int64_t min_delay_ms)
{
    pthread_mutex_lock(&q->lock);
    struct item *it = item_get(q, key);
    int64_t delay = kube_queue_backoff_ms(it->failures);
    /* In whole milliseconds, rounded up (without ceil(): calling into libm made 300 KiB of it
     * resident, measured). */
    int64_t bucket = (kube_bucket_reserve(&q->bucket) + 999999) / 1000000;
    if (delay < bucket)
        delay = bucket;
    if (delay < min_delay_ms)
        delay = min_delay_ms;
    it->failures++;
    q->retries++;
    if (!q->shutdown)
        add_after_locked(q, key, delay);
    else
        item_maybe_drop(q, it);
    pthread_mutex_unlock(&q->lock);
    return delay;
}

void kube_queue_forget(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct item *it = kube_map_get(&q->items, key);
    if (it) {
        it->failures = 0;
        item_maybe_drop(q, it);
    }
    pthread_mutex_unlock(&q->lock);
}

unsigned kube_queue_num_requeues(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct item *it = kube_map_get(&q->items, key);
    unsigned n = it ? it->failures : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Moves every delayed key whose time has come into the FIFO; returns the next deadline. */
static int64_t promote_due(struct kube_queue *q)
{
    int64_t now = kube_now_ms();
    while (q->heap_len && q->heap[0].due_ms <= now) {
        struct delayed d = q->heap[0];
        q->heap[0] = q->heap[--q->heap_len];
        heap_down(q, 0);
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): each heap entry has its own key copy */
        struct item *it = kube_map_get(&q->items, d.key);
        if (it && it->due_ms == d.due_ms) {
            it->due_ms = 0;
            /* Ready since its deadline, even when no worker came to promote it until now. */
            add_locked_at(q, d.key, d.due_ms * 1000000);
        }
        free(d.key);
    }
    return q->heap_len ? q->heap[0].due_ms : 0;
}

static char *get_locked(struct kube_queue *q, int64_t deadline)
{
    for (;;) {
        if (q->shutdown)
            return NULL;
        int64_t next = promote_due(q);
        if (q->fifo_len) {
            char *key = q->fifo[q->fifo_head];
            q->fifo_head = (q->fifo_head + 1) % q->fifo_cap;
            q->fifo_len--;
            struct item *it = kube_map_get(&q->items, key);
            it->queued = 0;
            it->active = 1;
            q->active++;
            it->started_ns = kube_now_ns();
            if (it->added_ns) {
                observe(&q->queued, it->started_ns - it->added_ns);
                it->added_ns = 0;
            }
            return xstrdup(key);
        }
        int64_t wake = next;
        if (deadline && (!wake || deadline < wake))
            wake = deadline;
        if (deadline && kube_now_ms() >= deadline)
            return NULL;
        if (!wake) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            struct timespec ts = {wake / 1000, (wake % 1000) * 1000000};
            pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
    }
}

char *kube_queue_get(struct kube_queue *q)
{
    pthread_mutex_lock(&q->lock);
    char *key = get_locked(q, 0);
    pthread_mutex_unlock(&q->lock);
    return key;
}

char *kube_queue_get_timeout(struct kube_queue *q, int64_t timeout_ms)
{
    pthread_mutex_lock(&q->lock);
    char *key = get_locked(q, kube_now_ms() + (timeout_ms > 0 ? timeout_ms : 1));
    pthread_mutex_unlock(&q->lock);
    return key;
}

void kube_queue_done(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct item *it = kube_map_get(&q->items, key);
    if (it && it->active) {
        it->active = 0;
        q->active--;
        observe(&q->worked, kube_now_ns() - it->started_ns);
        if (it->dirty) {
            it->dirty = 0;
            if (!q->shutdown) {
                fifo_push(q, it);
                pthread_cond_signal(&q->cond);
            }
        }
        item_maybe_drop(q, it);
    }
    pthread_mutex_unlock(&q->lock);
}

void kube_queue_shutdown(struct kube_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int kube_queue_shutting_down(struct kube_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int s = q->shutdown;
    pthread_mutex_unlock(&q->lock);
    return s;
}

struct unfinished_ctx {
    int64_t now_ns;
    double sum, longest;
};

static int add_unfinished(void *ud, const char *key, void *value)
{
    struct unfinished_ctx *uc = ud;
    const struct item *it = value;
    if (it->active) {
        int64_t ns = uc->now_ns - it->started_ns;
        double s = ns > 0 ? (double)ns / 1e9 : 0;
        uc->sum += s;
        if (s > uc->longest)
            uc->longest = s;
    }
    return 0;
}

void kube_queue_get_stats(struct kube_queue *q, struct kube_queue_stats *out)
{
    pthread_mutex_lock(&q->lock);
    /* Every key the queue knows is walked, as the heap is below: a scrape's work, not a
     * worker's; the keys in progress are as many as the workers. */
    struct unfinished_ctx uc = {kube_now_ns(), 0, 0};
    if (q->active)
        kube_map_foreach(&q->items, add_unfinished, &uc);
    out->unfinished_s = uc.sum;
    out->longest_s = uc.longest;
    out->queued = q->queued;
    out->worked = q->worked;
    out->depth = q->fifo_len;
    out->adds = q->adds;
    out->retries = q->retries;
    out->active = q->active;
    out->delayed = 0;
    for (size_t i = 0; i < q->heap_len; i++) {
        struct item *it = kube_map_get(&q->items, q->heap[i].key);
        if (it && it->due_ms == q->heap[i].due_ms)
            out->delayed++;
    }
    pthread_mutex_unlock(&q->lock);
}
