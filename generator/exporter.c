#include "generator/exporter.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "generator/loop.h"
#include "generator/otlp.h"
#include "generator/trace.h"

#define BODY_MAX      (64u << 20) /* the OTLP spec's recommended server limit */
#define RESPONSE_MAX  (4u << 20)  /* the OTLP spec's advice for clients */
#define BACKOFF_FIRST (250LL * 1000000)
#define BACKOFF_MAX   (5LL * 1000000000)
#define WARN_INTERVAL (5LL * 1000000000)
#define SPAN_MAX      (256u << 10) /* one queued span; ours are ~200 bytes packed, 800 as JSON */
#define BODY_KEEP     (64u << 10)  /* a body buffer larger than this is freed after its batch */
#define SPAN_JSON_EST 1024         /* a span's JSON, to size a batch body in one allocation */

/*
 * A queued span: packed (trace.h, a quarter of its JSON), encoded by the exporter thread when
 * its batch is sent; or already encoded as JSON by the thread that ended it, when the exporter
 * is behind (see gen_exporter_submit_span).
 */
struct entry {
    char *data;
    size_t len;
    bool json;
    int64_t queued_at; /* monotonic */
};

struct gen_exporter {
    struct gen_exporter_options o;
    char *url, *ca_file, *prefix;
    struct curl_slist *headers;
    /* queue, guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    struct entry *ring;
    size_t head, count;
    _Atomic size_t backlog; /* count, readable without the lock */
    size_t json_mark;       /* from this backlog on, submitters encode JSON themselves */
    bool stopping, closed;
    int64_t stop_deadline;
    bool started;
    pthread_t thread;
    /* counters */
    _Atomic uint64_t created, exported, rejected, dropped_full, dropped_failed, dropped_shutdown;
    struct metric *m_created, *m_exported, *m_rejected, *m_drop_full, *m_drop_failed,
        *m_drop_shutdown;
    struct metric_family *f_requests, *f_errors;
    /* exporter-thread state */
    CURL *easy;
    struct hbuf body, response;
    char retry_after[64];
    int64_t last_warn;
    uint64_t failures_since_warn;
    bool failing;
};

static double queue_len(void *arg)
{
    struct gen_exporter *e = arg;
    pthread_mutex_lock(&e->lock);
    size_t n = e->count;
    pthread_mutex_unlock(&e->lock);
    return (double)n;
}

static double queue_cap(void *arg)
{
    const struct gen_exporter *e = arg;
    return (double)e->o.queue_max;
}

static void register_metrics(struct gen_exporter *e, struct metrics_registry *reg)
{
    static const char *const reason[] = {"reason"}, *const status[] = {"status"};
    struct metric_family *dropped;
    e->m_created = metrics_single(
        metrics_family_add(reg, METRIC_COUNTER, "ho11y_spans_created_total",
                           "Spans ended and handed to the exporter.", NULL, 0, NULL, 0));
    e->m_exported = metrics_single(
        metrics_family_add(reg, METRIC_COUNTER, "ho11y_spans_exported_total",
                           "Spans accepted by the OTLP receiver.", NULL, 0, NULL, 0));
    e->m_rejected = metrics_single(metrics_family_add(
        reg, METRIC_COUNTER, "ho11y_spans_rejected_total",
        "Spans the OTLP receiver rejected (partialSuccess.rejectedSpans).", NULL, 0, NULL, 0));
    dropped = metrics_family_add(reg, METRIC_COUNTER, "ho11y_spans_dropped_total",
                                 "Spans dropped before export, by reason.", reason, 1, NULL, 0);
    e->m_drop_full = metrics_child(dropped, (const char *const[]){"queue_full"});
    e->m_drop_failed = metrics_child(dropped, (const char *const[]){"export_failed"});
    e->m_drop_shutdown = metrics_child(dropped, (const char *const[]){"shutdown"});
    e->f_requests = metrics_family_add(reg, METRIC_COUNTER, "ho11y_export_requests_total",
                                       "OTLP export requests by HTTP status or transport error.",
                                       status, 1, NULL, 0);
    e->f_errors = metrics_family_add(reg, METRIC_COUNTER, "ho11y_export_errors_total",
                                     "Failed OTLP export requests by HTTP status or transport "
                                     "error.",
                                     status, 1, NULL, 0);
    metrics_family_add_func(reg, METRIC_GAUGE, "ho11y_export_queue_spans",
                            "Spans waiting in the export queue.", queue_len, e);
    metrics_family_add_func(reg, METRIC_GAUGE, "ho11y_export_queue_capacity_spans",
                            "Capacity of the export queue (OTEL_BSP_MAX_QUEUE_SIZE).", queue_cap,
                            e);
}

static void count(_Atomic uint64_t *c, struct metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
    metrics_add(m, n);
}

bool gen_exporter_enabled(const struct gen_exporter *exp)
{
    return exp && exp->o.enabled;
}

/* Queues an owned buffer (freed here when dropped). */
static bool enqueue(struct gen_exporter *exp, char *owned, size_t len, bool json)
{
    count(&exp->created, exp->m_created, 1);
    pthread_mutex_lock(&exp->lock);
    if (exp->closed || exp->count == exp->o.queue_max) {
        bool closed = exp->closed;
        pthread_mutex_unlock(&exp->lock);
        free(owned);
        if (closed)
            count(&exp->dropped_shutdown, exp->m_drop_shutdown, 1);
        else
            count(&exp->dropped_full, exp->m_drop_full, 1);
        return false;
    }
    struct entry *slot = &exp->ring[(exp->head + exp->count) % exp->o.queue_max];
    slot->data = owned;
    slot->len = len;
    slot->json = json;
    slot->queued_at = gen_mono_ns();
    exp->count++;
    atomic_store_explicit(&exp->backlog, exp->count, memory_order_relaxed);
    bool wake = exp->count == 1 || exp->count == exp->o.batch_max;
    pthread_mutex_unlock(&exp->lock);
    if (wake)
        pthread_cond_signal(&exp->cond);
    return true;
}

/* The span as OTLP JSON in a buffer of its exact size; NULL when it passes SPAN_MAX. */
static char *encode_exact(const struct gen_span *span, size_t *len)
{
    struct hbuf b;
    hbuf_init(&b, SPAN_MAX);
    hbuf_reserve(&b, SPAN_JSON_EST);
    if (otlp_span_encode(span, &b)) {
        hbuf_cleanup(&b);
        return NULL;
    }
    char *data = hbuf_steal(&b, len);
    return xrealloc(data, *len + 1);
}

/*
 * Packing costs a request a seventh of encoding, and keeps the queue four times smaller. The
 * exporter thread then encodes at send time, which it may lack the CPU for on a saturated
 * machine: once half the queue is waiting, the threads that end spans encode them themselves
 * (as the exporter then only copies them), so the queue drains rather than overflows.
 */
bool gen_exporter_submit_span(struct gen_exporter *exp, const struct gen_span *span)
{
    size_t len = 0;
    char *data = NULL;
    if (!exp || !exp->o.enabled)
        return false;
    bool json = atomic_load_explicit(&exp->backlog, memory_order_relaxed) >= exp->json_mark;
    if (json) {
        data = encode_exact(span, &len);
    } else if ((len = gen_span_packed_size(span)) <= SPAN_MAX) {
        data = xmalloc(len);
        gen_span_pack(span, data);
    }
    if (!data) {
        count(&exp->created, exp->m_created, 1);
        count(&exp->dropped_failed, exp->m_drop_failed, 1);
        return false;
    }
    return enqueue(exp, data, len, json);
}

static void abs_deadline(int64_t mono_ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_ns / 1000000000);
    ts->tv_nsec = (long)(mono_ns % 1000000000);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct hbuf *b = arg;
    /* Past the cap the rest is ignored: the status line is what matters. */
    hbuf_add(b, data, size * n);
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct gen_exporter *e = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        size_t start = 12;
        while (start < len && (data[start] == ' ' || data[start] == '\t'))
            start++;
        size_t end = len;
        while (end > start &&
               (data[end - 1] == '\r' || data[end - 1] == '\n' || data[end - 1] == ' '))
            end--;
        snprintf(e->retry_after, sizeof(e->retry_after), "%.*s", (int)(end - start), data + start);
    }
    return len;
}

/* Retry-After as delta-seconds or an HTTP date; -1 when absent or unreadable. */
static int64_t retry_after_ns(const char *v)
{
    if (!*v)
        return -1;
    char *end = NULL;
    long long secs = strtoll(v, &end, 10);
    if (end != v && !*end && secs >= 0)
        return secs > 86400 ? 86400LL * 1000000000 : secs * 1000000000LL;
    time_t when = curl_getdate(v, NULL);
    if (when < 0)
        return -1;
    /* In seconds first: a date centuries ahead must not overflow the nanoseconds. */
    long long secs_left = (long long)when - gen_now_ns() / 1000000000LL;
    if (secs_left > 86400)
        secs_left = 86400;
    return secs_left > 0 ? secs_left * 1000000000LL : 0;
}

static void record_status(struct gen_exporter *e, const char *status, bool error)
{
    metrics_inc(metrics_child(e->f_requests, (const char *const[]){status}));
    if (error)
        metrics_inc(metrics_child(e->f_errors, (const char *const[]){status}));
}

static void warn_failure(struct gen_exporter *e, const char *status, const char *what, size_t n)
{
    e->failures_since_warn++;
    e->failing = true;
    int64_t now = gen_mono_ns();
    if (now - e->last_warn < WARN_INTERVAL && e->last_warn)
        return;
    struct log_field f[] = {LOG_STR("event", "export"), LOG_STR("status", status),
                            LOG_STR("endpoint", e->url), LOG_INT("spans", n),
                            LOG_INT("failures", e->failures_since_warn)};
    log_kv(LOG_LEVEL_WARN, what, f, sizeof(f) / sizeof(f[0]));
    e->last_warn = now;
    e->failures_since_warn = 0;
}

/* Sleeps until wake_at unless shutdown shortens the deadline; returns the current deadline. */
static int64_t backoff_wait(struct gen_exporter *e, int64_t wake_at, int64_t deadline)
{
    struct timespec ts;
    abs_deadline(wake_at, &ts);
    pthread_mutex_lock(&e->lock);
    while (gen_mono_ns() < wake_at) {
        if (e->stopping && e->stop_deadline < deadline)
            deadline = e->stop_deadline;
        if (wake_at >= deadline)
            break;
        if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) != 0)
            break;
    }
    if (e->stopping && e->stop_deadline < deadline)
        deadline = e->stop_deadline;
    pthread_mutex_unlock(&e->lock);
    return deadline;
}

/* One POST; returns the HTTP status (0 on a transport error, with *cc set). */
static long post(struct gen_exporter *e, int64_t timeout_ns, CURLcode *cc)
{
    long code = 0;
    long ms = (long)(timeout_ns / 1000000);
    hbuf_reset(&e->response);
    e->retry_after[0] = '\0';
    curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, hbuf_str(&e->body));
    curl_easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->body.len);
    curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    *cc = curl_easy_perform(e->easy);
    if (*cc == CURLE_OK)
        curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* The request body of a batch, its spans encoded now; false when it passes BODY_MAX. */
static bool build_body(struct gen_exporter *e, struct entry *batch, size_t n)
{
    hbuf_reset(&e->body);
    hbuf_reserve(&e->body, e->o.batch_prefix_len + n * SPAN_JSON_EST);
    if (hbuf_add(&e->body, e->prefix, e->o.batch_prefix_len))
        return false;
    for (size_t i = 0; i < n; i++) {
        struct gen_span s;
        if (i && hbuf_addc(&e->body, ','))
            return false;
        if (batch[i].json) {
            if (hbuf_add(&e->body, batch[i].data, batch[i].len))
                return false;
            continue;
        }
        /* Packed by this process: unpacking cannot fail, and an empty object would do. */
        if (!gen_span_unpack(batch[i].data, batch[i].len, &s))
            memset(&s, 0, sizeof(s));
        if (otlp_span_encode(&s, &e->body))
            return false;
    }
    return hbuf_adds(&e->body, OTLP_BATCH_SUFFIX) == HO11Y_OK;
}

static void send_batch(struct gen_exporter *e, struct entry *batch, size_t n, int64_t deadline);

static void split(struct gen_exporter *e, struct entry *batch, size_t n, int64_t deadline)
{
    send_batch(e, batch, n / 2, deadline);
    send_batch(e, batch + n / 2, n - n / 2, deadline);
}

static void send_batch(struct gen_exporter *e, struct entry *batch, size_t n, int64_t deadline)
{
    int64_t backoff = BACKOFF_FIRST;
    if (!n)
        return;
    if (!build_body(e, batch, n)) {
        if (n > 1) {
            split(e, batch, n, deadline);
        } else {
            count(&e->dropped_failed, e->m_drop_failed, 1);
            warn_failure(e, "too_large", "span too large to export", 1);
        }
        return;
    }
    for (;;) {
        char status[32];
        CURLcode cc = CURLE_OK;
        int64_t now = gen_mono_ns();
        int64_t left = deadline - now;
        long timeout = e->o.request_timeout_ns < left ? e->o.request_timeout_ns : left;
        long code = left > 0 ? post(e, timeout, &cc) : (cc = CURLE_OPERATION_TIMEDOUT, 0);
        bool retryable = false;
        if (code)
            snprintf(status, sizeof(status), "%ld", code);
        else
            snprintf(status, sizeof(status), "%s", gen_curl_error_kind(cc));
        record_status(e, status, code < 200 || code > 299);
        if (code >= 200 && code <= 299) {
            struct otlp_export_result res;
            uint64_t rejected = 0;
            if (otlp_response_parse(hbuf_str(&e->response), e->response.len, &res) == HO11Y_OK)
                rejected = res.rejected_spans > (int64_t)n ? n : (uint64_t)res.rejected_spans;
            count(&e->rejected, e->m_rejected, rejected);
            count(&e->exported, e->m_exported, n - rejected);
            if (rejected)
                warn_failure(e, status, "OTLP receiver rejected spans", rejected);
            else if (e->failing) {
                struct log_field f[] = {LOG_STR("event", "export"), LOG_STR("endpoint", e->url)};
                log_kv(LOG_LEVEL_INFO, "trace export recovered", f, 2);
                e->failing = false;
                e->last_warn = 0;
            }
            return;
        }
        if (code == 413 && n > 1) {
            split(e, batch, n, deadline);
            return;
        }
        retryable = code == 0 || code == 429 || code == 502 || code == 503 || code == 504;
        int64_t wait = retry_after_ns(e->retry_after);
        if (wait < 0) {
            /* Exponential back-off with jitter in [0.5, 1.5). */
            wait = (int64_t)((double)backoff * (0.5 + gen_rand_unit()));
            backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
        }
        if (retryable && gen_mono_ns() + wait < deadline)
            deadline = backoff_wait(e, gen_mono_ns() + wait, deadline);
        if (!retryable || gen_mono_ns() >= deadline) {
            count(&e->dropped_failed, e->m_drop_failed, n);
            warn_failure(e, status,
                         retryable ? "trace export failed, batch dropped after retries"
                                   : "trace export refused, batch dropped",
                         n);
            return;
        }
    }
}

/* Takes up to batch_max entries off the queue into batch. Called with the lock held. */
static size_t take(struct gen_exporter *e, struct entry *batch)
{
    size_t n = e->count < e->o.batch_max ? e->count : e->o.batch_max;
    for (size_t i = 0; i < n; i++)
        batch[i] = e->ring[(e->head + i) % e->o.queue_max];
    e->head = (e->head + n) % e->o.queue_max;
    e->count -= n;
    atomic_store_explicit(&e->backlog, e->count, memory_order_relaxed);
    return n;
}

static void *exporter_main(void *arg)
{
    struct gen_exporter *e = arg;
    struct entry *batch = xcalloc(e->o.batch_max, sizeof(*batch));
    pthread_mutex_lock(&e->lock);
    for (;;) {
        size_t n = 0;
        int64_t deadline = 0;
        if (e->stopping) {
            if (!e->count || gen_mono_ns() >= e->stop_deadline)
                break;
            n = take(e, batch);
            deadline = e->stop_deadline;
        } else if (e->count >= e->o.batch_max ||
                   (e->count && gen_mono_ns() - e->ring[e->head].queued_at >= e->o.delay_ns)) {
            n = take(e, batch);
            deadline = gen_mono_ns() + e->o.export_timeout_ns;
        } else if (e->count) {
            struct timespec ts;
            abs_deadline(e->ring[e->head].queued_at + e->o.delay_ns, &ts);
            pthread_cond_timedwait(&e->cond, &e->lock, &ts);
            continue;
        } else {
            pthread_cond_wait(&e->cond, &e->lock);
            continue;
        }
        pthread_mutex_unlock(&e->lock);
        send_batch(e, batch, n, deadline);
        for (size_t i = 0; i < n; i++)
            free(batch[i].data);
        /* Between batches a large body would only hold memory (it is rebuilt every time). */
        if (e->body.cap > BODY_KEEP) {
            hbuf_cleanup(&e->body);
            hbuf_init(&e->body, BODY_MAX);
        }
        pthread_mutex_lock(&e->lock);
    }
    /* Out of time: whatever is left is dropped, and counted. */
    size_t left = e->count;
    while (e->count) {
        free(e->ring[e->head].data);
        e->head = (e->head + 1) % e->o.queue_max;
        e->count--;
    }
    atomic_store_explicit(&e->backlog, 0, memory_order_relaxed);
    pthread_mutex_unlock(&e->lock);
    if (left)
        count(&e->dropped_shutdown, e->m_drop_shutdown, left);
    free(batch);
    return NULL;
}

static void setup_curl(struct gen_exporter *e)
{
    e->headers = curl_slist_append(e->headers, "Content-Type: application/json");
    e->headers = curl_slist_append(e->headers, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; i < e->o.nheaders; i++)
        e->headers = curl_slist_append(e->headers, e->o.headers[i]);
    curl_easy_setopt(e->easy, CURLOPT_URL, e->url);
    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->easy, CURLOPT_USERAGENT, "ho11y/" HO11Y_VERSION);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, &e->response);
    curl_easy_setopt(e->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e->easy, CURLOPT_HEADERDATA, e);
    curl_easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (e->ca_file)
        curl_easy_setopt(e->easy, CURLOPT_CAINFO, e->ca_file);
}

struct gen_exporter *gen_exporter_new(const struct gen_exporter_options *opts,
                                      struct metrics_registry *reg)
{
    struct gen_exporter *e = xcalloc(1, sizeof(*e));
    pthread_condattr_t ca;
    e->o = *opts;
    e->o.headers = NULL;
    e->url = xstrdup(opts->url ? opts->url : "");
    e->ca_file = xstrdup(opts->ca_file);
    e->prefix = xstrndup(opts->batch_prefix ? opts->batch_prefix : "", opts->batch_prefix_len);
    if (!e->o.queue_max)
        e->o.queue_max = 1;
    if (!e->o.batch_max || e->o.batch_max > e->o.queue_max)
        e->o.batch_max = e->o.queue_max;
    e->json_mark = e->o.queue_max / 2 ? e->o.queue_max / 2 : 1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
    hbuf_init(&e->body, BODY_MAX);
    hbuf_init(&e->response, RESPONSE_MAX);
    register_metrics(e, reg);
    if (!e->o.enabled)
        return e;
    e->ring = xcalloc(e->o.queue_max, sizeof(*e->ring));
    e->easy = curl_easy_init();
    if (!e->easy)
        goto fail;
    e->o.headers = opts->headers;
    setup_curl(e);
    e->o.headers = NULL;
    if (pthread_create(&e->thread, NULL, exporter_main, e) != 0)
        goto fail;
    pthread_setname_np(e->thread, "exporter");
    e->started = true;
    return e;
fail:
    gen_exporter_free(e);
    return NULL;
}

void gen_exporter_shutdown(struct gen_exporter *exp, int64_t timeout_ns)
{
    if (!exp)
        return;
    pthread_mutex_lock(&exp->lock);
    bool was = exp->stopping;
    exp->stopping = true;
    exp->closed = true;
    exp->stop_deadline = gen_mono_ns() + (timeout_ns > 0 ? timeout_ns : 0);
    pthread_mutex_unlock(&exp->lock);
    pthread_cond_broadcast(&exp->cond);
    if (exp->started && !was) {
        pthread_join(exp->thread, NULL);
        exp->started = false;
    }
}

void gen_exporter_stats(struct gen_exporter *exp, struct gen_exporter_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!exp)
        return;
    out->created = atomic_load(&exp->created);
    out->exported = atomic_load(&exp->exported);
    out->rejected = atomic_load(&exp->rejected);
    out->dropped_queue_full = atomic_load(&exp->dropped_full);
    out->dropped_export_failed = atomic_load(&exp->dropped_failed);
    out->dropped_shutdown = atomic_load(&exp->dropped_shutdown);
    pthread_mutex_lock(&exp->lock);
    out->queued = exp->count;
    pthread_mutex_unlock(&exp->lock);
}

void gen_exporter_free(struct gen_exporter *exp)
{
    if (!exp)
        return;
    if (exp->started)
        gen_exporter_shutdown(exp, 0);
    if (exp->ring) {
        while (exp->count) {
            free(exp->ring[exp->head].data);
            exp->head = (exp->head + 1) % exp->o.queue_max;
            exp->count--;
        }
    }
    free(exp->ring);
    if (exp->easy)
        curl_easy_cleanup(exp->easy);
    curl_slist_free_all(exp->headers);
    hbuf_cleanup(&exp->body);
    hbuf_cleanup(&exp->response);
    pthread_cond_destroy(&exp->cond);
    pthread_mutex_destroy(&exp->lock);
    free(exp->url);
    free(exp->ca_file);
    free(exp->prefix);
    free(exp);
}
