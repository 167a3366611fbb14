#include "generator/loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "generator/trace.h"

#define EASY_POOL_MAX 256
/* Idle connections kept for reuse. libcurl's default is 4 per easy handle currently added, which
 * shrinks whenever few transfers run and then closes the connections a burst just opened: a new
 * connection (and a TIME_WAIT socket) per call under uneven load. */
#define CONN_CACHE_MAX 512L

struct task {
    struct task *next;
    gen_loop_fn fn;
    void *arg;
};

struct timer {
    int64_t deadline;
    uint64_t seq;
    gen_loop_fn fn;
    void *arg;
};

struct transfer {
    struct transfer *prev, *next; /* running transfers, to abort them at stop */
    CURL *easy;
    gen_transfer_fn done;
    void *arg;
};

struct gen_loop {
    pthread_t thread;
    CURLM *multi;
    char name[16];
    /* posted tasks, guarded by lock */
    pthread_mutex_t lock;
    struct task *head, *tail;
    bool stopping;
    /* loop-thread state */
    struct timer *timers; /* binary min-heap on (deadline, seq) */
    size_t ntimers, timers_cap;
    uint64_t seq;
    CURL *pool[EASY_POOL_MAX];
    size_t npool;
    struct transfer *running;
};

static bool timer_before(const struct timer *a, const struct timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_push(struct gen_loop *l, struct timer t)
{
    if (l->ntimers == l->timers_cap) {
        l->timers_cap = l->timers_cap ? l->timers_cap * 2 : 64;
        l->timers = xrealloc(l->timers, l->timers_cap * sizeof(*l->timers));
    }
    size_t i = l->ntimers++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(&t, &l->timers[parent]))
            break;
        l->timers[i] = l->timers[parent];
        i = parent;
    }
    l->timers[i] = t;
}

static struct timer heap_pop(struct gen_loop *l)
{
    struct timer top = l->timers[0];
    struct timer last = l->timers[--l->ntimers];
    size_t i = 0, n = l->ntimers;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && timer_before(&l->timers[c + 1], &l->timers[c]))
            c++;
        if (!timer_before(&l->timers[c], &last))
            break;
        l->timers[i] = l->timers[c];
        i = c;
    }
    if (n)
        l->timers[i] = last;
    return top;
}

void gen_loop_timer(struct gen_loop *loop, int64_t delay_ns, gen_loop_fn fn, void *arg)
{
    struct timer t = {gen_mono_ns() + (delay_ns > 0 ? delay_ns : 0), loop->seq++, fn, arg};
    heap_push(loop, t);
}

void gen_loop_post(struct gen_loop *loop, gen_loop_fn fn, void *arg)
{
    struct task *t = xmalloc(sizeof(*t));
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&loop->lock);
    if (loop->tail)
        loop->tail->next = t;
    else
        loop->head = t;
    loop->tail = t;
    pthread_mutex_unlock(&loop->lock);
    curl_multi_wakeup(loop->multi);
}

CURL *gen_loop_easy(struct gen_loop *loop)
{
    if (loop->npool)
        return loop->pool[--loop->npool];
    CURL *e = curl_easy_init();
    if (!e) {
        fprintf(stderr, "fatal: curl_easy_init failed\n");
        abort();
    }
    return e;
}

void gen_loop_easy_release(struct gen_loop *loop, CURL *easy)
{
    if (!easy)
        return;
    if (loop->npool == EASY_POOL_MAX) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);
    loop->pool[loop->npool++] = easy;
}

void gen_loop_transfer(struct gen_loop *loop, CURL *easy, gen_transfer_fn done, void *arg)
{
    struct transfer *t = xmalloc(sizeof(*t));
    t->easy = easy;
    t->done = done;
    t->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(loop->multi, easy) != CURLM_OK) {
        free(t);
        done(arg, CURLE_FAILED_INIT);
        return;
    }
    t->prev = NULL;
    t->next = loop->running;
    if (loop->running)
        loop->running->prev = t;
    loop->running = t;
}

static void finish_transfer(struct gen_loop *l, CURL *easy, CURLcode code)
{
    struct transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(l->multi, easy);
    if (!t)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        l->running = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->done(t->arg, code);
    free(t);
}

/* Runs the tasks posted so far; returns how many ran. */
static size_t run_tasks(struct gen_loop *l, bool *stopping)
{
    size_t n = 0;
    pthread_mutex_lock(&l->lock);
    struct task *t = l->head;
    l->head = l->tail = NULL;
    *stopping = l->stopping;
    pthread_mutex_unlock(&l->lock);
    while (t) {
        struct task *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
        n++;
    }
    return n;
}

static size_t run_timers(struct gen_loop *l)
{
    size_t n = 0;
    int64_t now = gen_mono_ns();
    while (l->ntimers && l->timers[0].deadline <= now) {
        struct timer t = heap_pop(l);
        t.fn(t.arg);
        n++;
    }
    return n;
}

static void *loop_main(void *arg)
{
    struct gen_loop *l = arg;
    bool stopping = false;
    for (;;) {
        int still = 0;
        size_t work = run_tasks(l, &stopping);
        curl_multi_perform(l->multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(l->multi, &left)))
            if (msg->msg == CURLMSG_DONE) {
                finish_transfer(l, msg->easy_handle, msg->data.result);
                work++;
            }
        work += run_timers(l);
        if (stopping)
            break;
        long timeout = 1000;
        if (l->ntimers) {
            int64_t wait = l->timers[0].deadline - gen_mono_ns();
            long ms = wait <= 0 ? 0 : (long)((wait + 999999) / 1000000);
            if (ms < timeout)
                timeout = ms;
        }
        long curl_ms = -1;
        curl_multi_timeout(l->multi, &curl_ms);
        if (curl_ms >= 0 && curl_ms < timeout)
            timeout = curl_ms;
        if (work)
            timeout = 0; /* callbacks may have added transfers: drive them first */
        curl_multi_poll(l->multi, NULL, 0, (int)timeout, NULL);
    }
    /* Stopping: fire the remaining timers now and abort running transfers, so that every
     * owner hears about its work (callbacks may start more, which end the same way). */
    for (;;) {
        bool unused;
        size_t work = run_tasks(l, &unused);
        while (l->ntimers) {
            struct timer t = heap_pop(l);
            t.fn(t.arg);
            work++;
        }
        while (l->running) {
            finish_transfer(l, l->running->easy, CURLE_ABORTED_BY_CALLBACK);
            work++;
        }
        if (!work)
            break;
    }
    return NULL;
}

struct gen_loop *gen_loop_new(const char *name)
{
    struct gen_loop *l = xcalloc(1, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name ? name : "loop");
    pthread_mutex_init(&l->lock, NULL);
    l->multi = curl_multi_init();
    if (!l->multi)
        goto fail;
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, CONN_CACHE_MAX);
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
        goto fail;
    pthread_setname_np(l->thread, l->name);
    return l;
fail:
    if (l->multi)
        curl_multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->lock);
    free(l);
    return NULL;
}

void gen_loop_free(struct gen_loop *loop)
{
    if (!loop)
        return;
    pthread_mutex_lock(&loop->lock);
    loop->stopping = true;
    pthread_mutex_unlock(&loop->lock);
    curl_multi_wakeup(loop->multi);
    pthread_join(loop->thread, NULL);
    for (size_t i = 0; i < loop->npool; i++)
        curl_easy_cleanup(loop->pool[i]);
    curl_multi_cleanup(loop->multi);
    free(loop->timers);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

const char *gen_curl_error_kind(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    case CURLE_ABORTED_BY_CALLBACK:
        return "aborted";
    default:
        return "network";
    }
}
