/*
 * What `ho11yctl run` shows: trace trees as they finish, and the summary at the end with the
 * figures read from the processes themselves (their Prometheus metrics and the load driver's
 * final log line) and from the trace receiver.
 */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "cli/run_internal.h"
#include "common/buf.h"
#include "common/units.h"

#define METRICS_MAX ((size_t)4 << 20)

const char *run__url_label(void *arg, const char *url)
{
    const struct run *r = arg;
    const char *label = NULL;
    for (size_t i = 0; r->t && i < r->t->nservices && !label; i++) {
        char *base = topo_service_url(&r->t->services[i]);
        size_t n = strlen(base);
        if (strncmp(url, base, n) == 0 && (url[n] == '\0' || url[n] == '/'))
            label = r->t->services[i].name;
        free(base);
    }
    return label;
}

void run__print_traces(struct run *r, int all)
{
    struct trace **list = NULL;
    if (!r->recv)
        return;
    size_t n = otlp_recv_take(r->recv, r->trace_wait_ns, 10 * r->trace_wait_ns, all, &list);
    struct hbuf out;
    hbuf_init(&out, (size_t)64 << 20);
    for (size_t i = 0; i < n; i++) {
        hbuf_reset(&out);
        if (trace_format(list[i], run__url_label, r, &out) == HO11Y_OK) {
            fwrite(hbuf_str(&out), 1, out.len, stdout);
            r->traces_printed++;
            if (!list[i]->complete)
                r->traces_incomplete++;
        }
        trace_free(list[i]);
    }
    hbuf_cleanup(&out);
    free(list);
    if (n)
        fflush(stdout);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return hbuf_add(arg, data, size * n) == HO11Y_OK ? size * n : 0;
}

/* GET http://127.0.0.1:port/metrics into out; 0 on a 200 answer. */
static int get_metrics(unsigned port, struct hbuf *out)
{
    char url[64];
    long code = 0;
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return cc == CURLE_OK && code == 200 ? 0 : -1;
}

static void codes_add(struct run_codes *c, long code, long long count)
{
    size_t i = 0;
    while (i < c->n && c->code[i] != code)
        i++;
    if (i == c->n) {
        if (c->n == RUN_MAX_CODES)
            return;
        /* Keep the codes sorted for the summary. */
        while (i > 0 && c->code[i - 1] > code) {
            c->code[i] = c->code[i - 1];
            c->count[i] = c->count[i - 1];
            i--;
        }
        c->code[i] = code;
        c->count[i] = 0;
        c->n++;
    }
    c->count[i] = count > LLONG_MAX - c->count[i] ? LLONG_MAX : c->count[i] + count;
}

/* Samples of ho11y_total{http_status_code="NNN"} V in a Prometheus text exposition. */
static void parse_answers(const char *text, struct run_codes *c)
{
    static const char name[] = "ho11y_total{";
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, name, sizeof(name) - 1) != 0)
            continue;
        const char *label = strstr(line, "http_status_code=\"");
        const char *close = strchr(line, '}');
        if (!label || !close || label > close)
            continue;
        long code = strtol(label + 18, NULL, 10);
        double v = strtod(close + 1, NULL);
        if (code >= 100 && code <= 599 && v >= 0)
            codes_add(c, code, ho11y_dtoll(v));
    }
}

void run__scrape_answers(struct run *r)
{
    struct hbuf body;
    hbuf_init(&body, METRICS_MAX);
    memset(&r->answered, 0, sizeof(r->answered));
    for (size_t s = 0; s < r->t->nservices; s++) {
        const struct run_service *rs = &r->svcs[s];
        if (rs->has_callers)
            continue;
        for (size_t k = 0; k < rs->nreplicas; k++) {
            const struct proc *p = &r->procs[rs->first + k];
            hbuf_reset(&body);
            if (p->exited || !p->port || get_metrics(p->port, &body) != 0) {
                r->answered_partial = 1;
                continue;
            }
            parse_answers(hbuf_str(&body), &r->answered);
        }
    }
    hbuf_cleanup(&body);
}

long run__load_in_flight(struct run *r)
{
    static const char name[] = "ho11y_load_in_flight ";
    struct hbuf body;
    long v = -1;
    hbuf_init(&body, METRICS_MAX);
    const struct proc *p = &r->procs[r->load];
    if (!p->exited && p->port && get_metrics(p->port, &body) == 0) {
        const char *line = strstr(hbuf_str(&body), "\nho11y_load_in_flight ");
        if (line)
            v = (long)ho11y_dtoll(strtod(line + sizeof(name), NULL));
    }
    hbuf_cleanup(&body);
    return v;
}

/* "frontend" or "frontend, api" for the services nobody calls. */
static void entry_names(const struct run *r, struct hbuf *out)
{
    const char *sep = "";
    for (size_t s = 0; s < r->t->nservices; s++) {
        if (!r->svcs[s].has_callers) {
            hbuf_addf(out, "%s%s", sep, r->svcs[s].s->name);
            sep = ", ";
        }
    }
}

/* What the services say they exported, from their final log lines. */
static void spans_exported(const struct run *r, struct hbuf *b)
{
    long long exported = 0, dropped = 0, rejected = 0;
    size_t missing = 0;
    for (size_t i = 0; i < r->nprocs; i++) {
        const struct proc *p = &r->procs[i];
        if ((long)i == r->load)
            continue;
        missing += !p->spans.seen;
        exported += p->spans.exported;
        dropped += p->spans.dropped;
        rejected += p->spans.rejected;
    }
    hbuf_addf(b, "  spans exported  %lld by the services (%lld dropped, %lld rejected)", exported,
              dropped, rejected);
    if (missing)
        hbuf_addf(b, ", %zu process%s did not report", missing, missing == 1 ? "" : "es");
    hbuf_addc(b, '\n');
}

void run__print_summary(struct run *r, const char *why)
{
    struct hbuf b;
    long long total = 0, failed = 0;
    hbuf_init(&b, 1 << 20);
    for (size_t i = 0; i < r->answered.n; i++) {
        total += r->answered.count[i];
        if (r->answered.code[i] < 200 || r->answered.code[i] > 299)
            failed += r->answered.count[i];
    }
    hbuf_addf(&b, "\nSummary (%s)\n  requests        %lld answered by ", why, total);
    entry_names(r, &b);
    for (size_t i = 0; i < r->answered.n; i++)
        hbuf_addf(&b, "%s%ld: %lld", i ? ", " : " (", r->answered.code[i], r->answered.count[i]);
    hbuf_adds(&b, r->answered.n ? ")" : "");
    hbuf_adds(&b, r->answered_partial ? ", not counting replicas that had exited\n" : "\n");
    hbuf_addf(&b, "  failed          %lld", failed);
    if (total)
        hbuf_addf(&b, " (%.1f %%)", 100.0 * (double)failed / (double)total);
    for (size_t i = 0, first = 1; i < r->answered.n; i++) {
        long code = r->answered.code[i];
        if (code >= 200 && code <= 299)
            continue;
        hbuf_addf(&b, "%s%ld: %lld", first ? ": " : ", ", code, r->answered.count[i]);
        first = 0;
    }
    hbuf_addc(&b, '\n');
    if (r->load >= 0) {
        const struct proc_load_summary *l = &r->procs[r->load].load;
        if (l->seen)
            hbuf_addf(&b,
                      "  load driver     %lld sent, %lld answered, %lld without an answer, "
                      "%lld skipped\n",
                      l->sent, l->completed, l->errors, l->skipped);
        else
            hbuf_adds(&b, "  load driver     no final counts (it did not stop cleanly)\n");
    }
    spans_exported(r, &b);
    if (r->recv) {
        struct otlp_recv_stats st;
        otlp_recv_stats(r->recv, &st);
        hbuf_addf(&b, "  spans received  %llu", (unsigned long long)st.spans + st.spans_dropped);
        if (st.spans_dropped || st.spans_refused)
            hbuf_addf(&b, " (%llu dropped at the receiver's bounds, %llu refused as invalid)",
                      (unsigned long long)st.spans_dropped, (unsigned long long)st.spans_refused);
        hbuf_addf(&b, "\n  traces printed  %llu (%llu incomplete)\n",
                  (unsigned long long)r->traces_printed, (unsigned long long)r->traces_incomplete);
    } else {
        hbuf_addf(&b, "  spans           sent to %s\n", r->traces_url);
    }
    fwrite(hbuf_str(&b), 1, b.len, stdout);
    fflush(stdout);
    hbuf_cleanup(&b);
}
