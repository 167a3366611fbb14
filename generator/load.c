#include "generator/load.h"

#include <curl/curl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "generator/loop.h"
#include "generator/trace.h"

#define RATE_WINDOW_S 10
#define REPORT_EVERY  (10LL * 1000000000)

struct shot {
    struct gen_load *load;
    CURL *easy;
    int64_t due;
};

struct gen_load {
    struct gen_load_options o;
    char *target;
    struct curl_slist *connect_to;
    struct gen_loop *loop;
    int64_t start;
    /* loop thread */
    uint64_t total;     /* requests to handle in all (count, duration), 0 = unbounded */
    uint64_t due;       /* requests due so far */
    uint64_t scheduled; /* due requests handled so far (sent or skipped) */
    _Atomic bool stopping;
    _Atomic uint64_t sent, completed, errors, skipped;
    _Atomic unsigned in_flight;
    /* per-second sent counts for the achieved rate (loop thread) */
    uint64_t window[RATE_WINDOW_S];
    int64_t window_second;
    int64_t last_report;
    uint64_t reported_sent;
    struct metric_family *f_requests, *f_errors;
    struct metric *m_skipped, *m_achieved, *m_in_flight, *m_latency;
};

static double target_rate(void *arg)
{
    const struct gen_load *l = arg;
    return l->o.rate;
}

static void register_metrics(struct gen_load *l, struct metrics_registry *reg)
{
    static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
    static const char *const code[] = {"status_code"}, *const reason[] = {"reason"};
    l->f_requests = metrics_family_add(reg, METRIC_COUNTER, "ho11y_load_requests_total",
                                       "Load requests answered, by HTTP status.", code, 1, NULL, 0);
    l->f_errors = metrics_family_add(reg, METRIC_COUNTER, "ho11y_load_errors_total",
                                     "Load requests that got no HTTP answer, by kind of failure.",
                                     reason, 1, NULL, 0);
    l->m_skipped = metrics_single(metrics_family_add(
        reg, METRIC_COUNTER, "ho11y_load_skipped_total",
        "Due load requests not sent because the concurrency bound was reached.", NULL, 0, NULL, 0));
    metrics_family_add_func(reg, METRIC_GAUGE, "ho11y_load_target_rate",
                            "Requested load rate in requests per second.", target_rate, l);
    l->m_achieved = metrics_single(metrics_family_add(
        reg, METRIC_GAUGE, "ho11y_load_achieved_rate",
        "Load requests sent per second over the last 10 seconds.", NULL, 0, NULL, 0));
    l->m_in_flight = metrics_single(metrics_family_add(
        reg, METRIC_GAUGE, "ho11y_load_in_flight", "Load requests in flight.", NULL, 0, NULL, 0));
    l->m_latency = metrics_single(metrics_family_add(
        reg, METRIC_HISTOGRAM, "ho11y_load_request_duration_seconds",
        "Load request latency from the time it was due to the end of the response.", NULL, 0,
        buckets, sizeof(buckets) / sizeof(buckets[0])));
}

static void catch_up(struct gen_load *l, int64_t now);

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static void shot_done(void *arg, CURLcode cc)
{
    struct shot *s = arg;
    struct gen_load *l = s->load;
    long code = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    /* The latency first: a scrape, which reads the counters before the histogram, then never
     * sees a request counted whose latency is not. */
    metrics_observe(l->m_latency, (double)(gen_mono_ns() - s->due) / 1e9);
    if (code) {
        char label[8];
        snprintf(label, sizeof(label), "%ld", code);
        metrics_inc(metrics_child(l->f_requests, (const char *const[]){label}));
        atomic_fetch_add(&l->completed, 1);
    } else {
        metrics_inc(metrics_child(l->f_errors, (const char *const[]){gen_curl_error_kind(cc)}));
        atomic_fetch_add(&l->errors, 1);
    }
    gen_loop_easy_release(l->loop, s->easy);
    free(s);
    atomic_fetch_sub(&l->in_flight, 1);
    metrics_gauge_add(l->m_in_flight, -1);
    /* A counted run has due requests waiting for this slot. Not while stopping: the loop is
     * then aborting what is in flight. */
    if (l->o.requests && l->scheduled < l->due && !atomic_load(&l->stopping))
        catch_up(l, gen_mono_ns());
}

/* Moves the per-second window forward to the second of now (never back), clearing the seconds
 * it enters before anything is counted in them. */
static void window_roll(struct gen_load *l, int64_t now)
{
    int64_t second = (now - l->start) / 1000000000;
    while (l->window_second < second) {
        l->window_second++;
        l->window[l->window_second % RATE_WINDOW_S] = 0;
    }
}

/* Sends a request due at `due`, or skips it when the concurrency bound is reached (counted
 * runs never get here then). */
static void fire(struct gen_load *l, int64_t due)
{
    if (atomic_load(&l->in_flight) >= l->o.concurrency) {
        atomic_fetch_add(&l->skipped, 1);
        metrics_inc(l->m_skipped);
        return;
    }
    struct shot *s = xmalloc(sizeof(*s));
    long timeout_ms = (long)(l->o.timeout_ns / 1000000);
    s->load = l;
    s->due = due;
    s->easy = gen_loop_easy(l->loop);
    curl_easy_setopt(s->easy, CURLOPT_URL, l->target);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "ho11y-load/" HO11Y_VERSION);
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (l->connect_to)
        curl_easy_setopt(s->easy, CURLOPT_CONNECT_TO, l->connect_to);
    atomic_fetch_add(&l->in_flight, 1);
    metrics_gauge_add(l->m_in_flight, 1);
    atomic_fetch_add(&l->sent, 1);
    /* The window counts sends by their due time (the rate asked for, whatever the scheduling
     * jitter); one that waited longer than the window is not counted. */
    int64_t second = (due - l->start) / 1000000000;
    window_roll(l, due);
    if (second > l->window_second - RATE_WINDOW_S)
        l->window[second % RATE_WINDOW_S]++;
    gen_loop_transfer(l->loop, s->easy, shot_done, s);
}

/* Publishes the achieved rate from the whole seconds of the window, rolled forward to now. */
static void roll_window(struct gen_load *l, int64_t now)
{
    int64_t second = (now - l->start) / 1000000000;
    window_roll(l, now);
    /* Whole seconds only: the current one is still filling up. */
    int64_t full = second < RATE_WINDOW_S ? second : RATE_WINDOW_S - 1;
    uint64_t sum = 0;
    for (int64_t i = 1; i <= full; i++)
        sum += l->window[(second - i) % RATE_WINDOW_S];
    if (full > 0)
        metrics_set(l->m_achieved, (double)sum / (double)full);
}

static void report(struct gen_load *l, int64_t now, const char *msg)
{
    double secs = (double)(now - l->last_report) / 1e9;
    uint64_t sent = atomic_load(&l->sent);
    struct log_field f[] = {
        LOG_DBL("achieved_rate", secs > 0 ? (double)(sent - l->reported_sent) / secs : 0),
        LOG_INT("completed", atomic_load(&l->completed)),
        LOG_INT("errors", atomic_load(&l->errors)),
        LOG_STR("event", "load"),
        LOG_INT("sent", sent),
        LOG_INT("skipped", atomic_load(&l->skipped)),
        LOG_DBL("target_rate", l->o.rate)};
    log_kv(LOG_LEVEL_INFO, msg, f, sizeof(f) / sizeof(f[0]));
    l->last_report = now;
    l->reported_sent = sent;
}

/* The time request i is due. */
static int64_t due_time(const struct gen_load *l, uint64_t i)
{
    return l->start + (int64_t)ceil((double)i * 1e9 / l->o.rate);
}

/* Stops sending: the last report, and nothing more is scheduled. */
static void finish(struct gen_load *l, int64_t now)
{
    atomic_store(&l->stopping, true);
    report(l, now, "load finished");
}

/*
 * Handles every due request not handled yet, in order: an open loop never waits for answers,
 * except that a counted run waits for a free slot (shot_done calls back when one frees up).
 * Finishes a counted run when its last request went out.
 */
static void catch_up(struct gen_load *l, int64_t now)
{
    while (l->scheduled < l->due) {
        if (l->o.requests && atomic_load(&l->in_flight) >= l->o.concurrency)
            return;
        fire(l, l->start + (int64_t)((double)l->scheduled * 1e9 / l->o.rate));
        l->scheduled++;
    }
    if (l->o.requests && l->scheduled == l->total)
        finish(l, now);
}

static void tick(void *arg)
{
    struct gen_load *l = arg;
    int64_t now = gen_mono_ns();
    if (atomic_load(&l->stopping))
        return;
    int64_t horizon = now;
    bool over = l->o.duration_ns > 0 && now - l->start >= l->o.duration_ns;
    if (over)
        horizon = l->start + l->o.duration_ns;
    l->due = (uint64_t)floor((double)(horizon - l->start) * l->o.rate / 1e9) + 1;
    if (l->total && l->due > l->total)
        l->due = l->total;
    catch_up(l, now);
    roll_window(l, now);
    if (now - l->last_report >= REPORT_EVERY)
        report(l, now, "load report");
    if (atomic_load(&l->stopping))
        return;
    if (over) {
        finish(l, now);
        return;
    }
    /* The next request's due time; after the last one, the end of the duration (or only the
     * gauge's refresh while a counted run waits for its last slots). */
    int64_t next = now + 1000000000;
    if (!l->total || l->due < l->total)
        next = due_time(l, l->due);
    else if (l->o.duration_ns > 0)
        next = l->start + l->o.duration_ns;
    int64_t wait = next - gen_mono_ns();
    /* Wake at least every second to keep the achieved-rate gauge current. */
    gen_loop_timer(l->loop, wait < 0 ? 0 : wait < 1000000000 ? wait : 1000000000, tick, l);
}

struct gen_load *gen_load_start(const struct gen_load_options *opts, struct metrics_registry *reg)
{
    struct gen_load *l = xcalloc(1, sizeof(*l));
    l->o = *opts;
    l->target = xstrdup(opts->target);
    l->o.target = l->target;
    for (size_t i = 0; i < opts->nconnect_to; i++)
        l->connect_to = curl_slist_append(l->connect_to, opts->connect_to[i]);
    l->o.connect_to = NULL;
    l->o.nconnect_to = 0;
    if (!l->o.concurrency)
        l->o.concurrency = 1;
    l->total = l->o.requests;
    if (l->o.duration_ns > 0) {
        uint64_t in_time = (uint64_t)ceil((double)l->o.duration_ns * l->o.rate / 1e9);
        if (!l->total || in_time < l->total)
            l->total = in_time;
    }
    register_metrics(l, reg);
    l->start = gen_mono_ns();
    l->last_report = l->start;
    l->loop = gen_loop_new("load");
    if (!l->loop) {
        curl_slist_free_all(l->connect_to);
        free(l->target);
        free(l);
        return NULL;
    }
    gen_loop_post(l->loop, tick, l);
    return l;
}

void gen_load_stats(struct gen_load *l, struct gen_load_stats *out)
{
    out->sent = atomic_load(&l->sent);
    out->completed = atomic_load(&l->completed);
    out->errors = atomic_load(&l->errors);
    out->skipped = atomic_load(&l->skipped);
}

void gen_load_stop(struct gen_load *l, int64_t timeout_ns)
{
    if (!l)
        return;
    atomic_store(&l->stopping, true);
    int64_t deadline = gen_mono_ns() + timeout_ns;
    while (atomic_load(&l->in_flight) > 0 && gen_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    gen_loop_free(l->loop); /* aborts what is still in flight */
    struct gen_load_stats st;
    gen_load_stats(l, &st);
    struct log_field f[] = {LOG_INT("completed", st.completed), LOG_INT("errors", st.errors),
                            LOG_STR("event", "load_summary"),   LOG_INT("sent", st.sent),
                            LOG_INT("skipped", st.skipped),     LOG_DBL("target_rate", l->o.rate)};
    log_kv(LOG_LEVEL_INFO, "load stopped", f, sizeof(f) / sizeof(f[0]));
    curl_slist_free_all(l->connect_to);
    free(l->target);
    free(l);
}
