#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_queue.h"
#include "kube/kube_util.h"
#include "test.h"

TEST(queue_dedup_and_order)
{
    struct kube_queue *q = kube_queue_new();
    kube_queue_add(q, "ns/a");
    kube_queue_add(q, "ns/b");
    kube_queue_add(q, "ns/a");
    struct kube_queue_stats st;
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.depth, 2);
    CHECK_INT_EQ(st.adds, 2);
    char *k1 = kube_queue_get(q), *k2 = kube_queue_get(q);
    CHECK_STR_EQ(k1, "ns/a");
    CHECK_STR_EQ(k2, "ns/b");
    /* Added while in progress: held back until done, then handed out once. */
    kube_queue_add(q, "ns/a");
    kube_queue_add(q, "ns/a");
    CHECK(kube_queue_get_timeout(q, 20) == NULL);
    kube_queue_done(q, k1);
    char *k3 = kube_queue_get_timeout(q, 1000);
    CHECK_STR_EQ(k3, "ns/a");
    kube_queue_done(q, k3);
    kube_queue_done(q, k2);
    CHECK(kube_queue_get_timeout(q, 20) == NULL);
    free(k1);
    free(k2);
    free(k3);
    kube_queue_free(q);
}

TEST(queue_backoff_sequence)
{
    CHECK_INT_EQ(kube_queue_backoff_ms(0), 5);
    CHECK_INT_EQ(kube_queue_backoff_ms(1), 10);
    CHECK_INT_EQ(kube_queue_backoff_ms(7), 640);
    CHECK_INT_EQ(kube_queue_backoff_ms(17), 655360);
    CHECK_INT_EQ(kube_queue_backoff_ms(18), 1000000);
    CHECK_INT_EQ(kube_queue_backoff_ms(500), 1000000);
    struct kube_queue *q = kube_queue_new();
    CHECK_INT_EQ(kube_queue_add_rate_limited(q, "k"), 5);
    CHECK_INT_EQ(kube_queue_add_rate_limited(q, "k"), 10);
    CHECK_INT_EQ(kube_queue_num_requeues(q, "k"), 2);
    int64_t t0 = kube_now_ms();
    char *k = kube_queue_get(q);
    CHECK_STR_EQ(k, "k");
    CHECK(kube_now_ms() - t0 >= 4);
    kube_queue_done(q, k);
    kube_queue_forget(q, "k");
    CHECK_INT_EQ(kube_queue_num_requeues(q, "k"), 0);
    CHECK_INT_EQ(kube_queue_add_rate_limited(q, "k"), 5);
    struct kube_queue_stats st;
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.retries, 3);
    free(k);
    kube_queue_free(q);
}

TEST(queue_shared_bucket_spaces_many_failures)
{
    /* The first 100 failures of distinct keys wait their own backoff (5 ms); after that the
     * shared bucket (10 per second) spaces them 100 ms apart, and a Retry-After still wins. */
    /* Tokens come back at 10 per second (one per 100 ms) meanwhile: the waits below are
     * checked against the time that has passed since the queue was made. */
    int64_t made = kube_now_ms();
    struct kube_queue *q = kube_queue_new();
    char key[32];
    for (int i = 0; i < KUBE_QUEUE_BUCKET_BURST; i++) {
        snprintf(key, sizeof(key), "ns/k%d", i);
        CHECK(kube_queue_add_rate_limited(q, key) == 5 || kube_now_ms() - made >= 100);
    }
    int64_t d = kube_queue_add_rate_limited(q, "ns/a");
    CHECK(d <= 100 && d >= 100 - (kube_now_ms() - made) - 1);
    for (int i = 0; i < 8; i++)
        kube_queue_add_rate_limited(q, "ns/b");
    d = kube_queue_add_rate_limited(q, "ns/c");
    CHECK(d <= 1000 && d >= 1000 - (kube_now_ms() - made) - 1);
    CHECK_INT_EQ(kube_queue_add_rate_limited_min(q, "ns/d", 5000), 5000);
    /* Its own backoff still applies when it is the longer: "ns/b" failed 8 times (1280 ms). */
    d = kube_queue_add_rate_limited(q, "ns/b");
    CHECK(d >= 1280);
    /* Tokens come back at 10 per second: 300 ms after the bucket ran one short, two or more
     * adds (as many as the time slept allows) go through on their own backoff again. */
    kube_queue_free(q);
    int64_t t0 = kube_now_ms();
    q = kube_queue_new();
    for (int i = 0; i < KUBE_QUEUE_BUCKET_BURST + 1; i++) {
        snprintf(key, sizeof(key), "ns/k%d", i);
        kube_queue_add_rate_limited(q, key);
    }
    usleep(300 * 1000);
    int free_adds = 0;
    for (;;) {
        snprintf(key, sizeof(key), "ns/e%d", free_adds);
        d = kube_queue_add_rate_limited(q, key);
        if (d > 5)
            break;
        free_adds++;
    }
    int64_t slept = kube_now_ms() - t0;
    CHECK(free_adds >= 2);
    /* An add whose wait for the bucket is under its own 5 ms backoff counts as free too. */
    CHECK(free_adds <= slept / 100 + 1);
    CHECK(d <= 100);
    kube_queue_free(q);
}

TEST(queue_add_after_earliest_wins)
{
    struct kube_queue *q = kube_queue_new();
    kube_queue_add_after(q, "x", 60000);
    kube_queue_add_after(q, "x", 30);
    kube_queue_add_after(q, "y", 10);
    int64_t t0 = kube_now_ms();
    char *a = kube_queue_get(q);
    char *b = kube_queue_get(q);
    CHECK_STR_EQ(a, "y");
    CHECK_STR_EQ(b, "x");
    int64_t took = kube_now_ms() - t0;
    CHECK(took >= 25 && took < 5000);
    kube_queue_done(q, a);
    kube_queue_done(q, b);
    /* The stale 60 s entry does not hand x out again. */
    CHECK(kube_queue_get_timeout(q, 50) == NULL);
    free(a);
    free(b);
    kube_queue_free(q);
}

struct worker_ctx {
    struct kube_queue *q;
    atomic_int in_progress[8];
    atomic_int violations;
    atomic_int processed;
};

static void *worker(void *arg)
{
    struct worker_ctx *w = arg;
    char *key;
    while ((key = kube_queue_get(w->q))) {
        int idx = key[0] - 'a';
        if (atomic_fetch_add(&w->in_progress[idx], 1) != 0)
            atomic_fetch_add(&w->violations, 1);
        usleep(200);
        atomic_fetch_sub(&w->in_progress[idx], 1);
        atomic_fetch_add(&w->processed, 1);
        kube_queue_done(w->q, key);
        free(key);
    }
    return NULL;
}

TEST(queue_never_same_key_in_two_workers)
{
    struct worker_ctx w = {.q = kube_queue_new()};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &w);
    for (int round = 0; round < 2000; round++) {
        char key[2] = {(char)('a' + round % 8), 0};
        kube_queue_add(w.q, key);
        if (round % 50 == 0)
            usleep(500);
    }
    while (1) {
        struct kube_queue_stats st;
        kube_queue_get_stats(w.q, &st);
        if (!st.depth && !st.active)
            break;
        usleep(1000);
    }
    kube_queue_shutdown(w.q);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT_EQ(atomic_load(&w.violations), 0);
    CHECK(atomic_load(&w.processed) >= 8);
    CHECK(kube_queue_shutting_down(w.q));
    CHECK(kube_queue_get(w.q) == NULL);
    kube_queue_free(w.q);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_cumulative(const struct kube_queue_histogram *h)
{
    for (int i = 1; i < KUBE_QUEUE_NBUCKETS; i++)
        CHECK(h->buckets[i - 1] <= h->buckets[i]);
    CHECK(h->buckets[KUBE_QUEUE_NBUCKETS - 1] <= h->count);
}

TEST(queue_times_wait_and_work)
{
    struct kube_queue *q = kube_queue_new();
    struct kube_queue_stats st;
    kube_queue_add(q, "ns/a");
    usleep(30000);
    char *a = kube_queue_get(q);
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.queued.count, 1);
    CHECK(st.queued.sum >= 0.03);
    CHECK_INT_EQ(st.queued.buckets[6], 0); /* le 0.01 */
    CHECK_INT_EQ(st.queued.buckets[KUBE_QUEUE_NBUCKETS - 1], 1);
    check_cumulative(&st.queued);
    CHECK_INT_EQ(st.worked.count, 0);

    /* In progress: counted at the time of asking, not yet observed. */
    usleep(30000);
    kube_queue_add(q, "ns/b");
    char *b = kube_queue_get(q);
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.active, 2);
    CHECK(st.longest_s >= 0.03);
    CHECK(st.unfinished_s >= st.longest_s);
    CHECK_INT_EQ(st.queued.count, 2);

    kube_queue_done(q, a);
    kube_queue_done(q, b);
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.worked.count, 2);
    CHECK(st.worked.sum >= 0.03);
    CHECK_INT_EQ(st.worked.buckets[KUBE_QUEUE_NBUCKETS - 1], 2);
    check_cumulative(&st.worked);
    CHECK(st.unfinished_s == 0);
    CHECK(st.longest_s == 0);
    /* client-go's ExponentialBuckets(1e-8, 10, 12). */
    CHECK(kube_queue_bounds[0] == 1e-8 && kube_queue_bounds[KUBE_QUEUE_NBUCKETS - 1] == 1e3);
    free(a);
    free(b);
    kube_queue_free(q);
}

TEST(queue_times_delayed_key_from_its_deadline)
{
    struct kube_queue *q = kube_queue_new();
    struct kube_queue_stats st;
    /* Nobody asks for the key until well after its deadline: it waited since the deadline,
     * not since the add, and not only since a getter came to promote it. */
    double t0 = mono_s();
    kube_queue_add_after(q, "ns/x", 40);
    usleep(150000);
    char *x = kube_queue_get(q);
    double elapsed = mono_s() - t0;
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.queued.count, 1);
    CHECK(st.queued.sum >= 0.1);
    CHECK(st.queued.sum <= elapsed - 0.035);
    kube_queue_done(q, x);
    kube_queue_forget(q, x);
    free(x);

    /* Added again while in progress: it waits from that add, through the rest of the work. */
    kube_queue_add(q, "ns/y");
    char *y = kube_queue_get(q);
    kube_queue_add(q, "ns/y");
    usleep(30000);
    kube_queue_done(q, y);
    free(y);
    y = kube_queue_get(q);
    kube_queue_get_stats(q, &st);
    CHECK_INT_EQ(st.queued.count, 3);
    CHECK(st.queued.sum >= 0.1 + 0.03);
    kube_queue_done(q, y);
    free(y);
    kube_queue_free(q);
}
