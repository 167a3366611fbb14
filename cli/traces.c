#include "cli/traces.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define NBUCKETS 4096

struct trace_set {
    struct trace *buckets[NBUCKETS];
    size_t ntraces;
    size_t nspans; /* spans held */
    uint64_t received, dropped;
};

static void span_cleanup(struct trace_span *sp)
{
    free(sp->service);
    free(sp->name);
    free(sp->url);
    free(sp->status_message);
    memset(sp, 0, sizeof(*sp));
}

void trace_free(struct trace *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nspans; i++)
        span_cleanup(&t->spans[i]);
    free(t->spans);
    free(t);
}

struct trace_set *traces_new(void)
{
    return xcalloc(1, sizeof(struct trace_set));
}

void traces_free(struct trace_set *s)
{
    if (!s)
        return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct trace *t = s->buckets[b];
        while (t) {
            struct trace *next = t->next;
            trace_free(t);
            t = next;
        }
    }
    free(s);
}

static size_t bucket_of(const char *trace_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = trace_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % NBUCKETS;
}

static int is_root(const struct trace_span *sp)
{
    return sp->kind == TRACES_KIND_SERVER && sp->parent_id[0] == '\0';
}

void traces_add(struct trace_set *s, struct trace_span *span, int64_t now_ns)
{
    size_t b = bucket_of(span->trace_id);
    struct trace *t = s->buckets[b];
    while (t && strcmp(t->trace_id, span->trace_id) != 0)
        t = t->next;
    if (s->nspans >= TRACES_MAX_SPANS || (t && t->nspans >= TRACES_MAX_TRACE_SPANS)) {
        if (t)
            t->dropped++;
        s->dropped++;
        span_cleanup(span);
        return;
    }
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        memcpy(t->trace_id, span->trace_id, sizeof(t->trace_id));
        t->first_mono = now_ns;
        t->next = s->buckets[b];
        s->buckets[b] = t;
        s->ntraces++;
    }
    /* Grow by doubling: the per-trace bound above keeps this small. */
    if ((t->nspans & (t->nspans - 1)) == 0)
        t->spans = xrealloc(t->spans, (t->nspans ? t->nspans * 2 : 1) * sizeof(*t->spans));
    t->spans[t->nspans++] = *span;
    memset(span, 0, sizeof(*span));
    if (is_root(&t->spans[t->nspans - 1]))
        t->complete = 1;
    t->last_mono = now_ns;
    s->nspans++;
    s->received++;
}

static int64_t trace_start(const struct trace *t)
{
    int64_t start = INT64_MAX;
    for (size_t i = 0; i < t->nspans; i++)
        if (t->spans[i].start_ns < start)
            start = t->spans[i].start_ns;
    return start;
}

static int by_start(const void *a, const void *b)
{
    int64_t x = trace_start(*(struct trace *const *)a), y = trace_start(*(struct trace *const *)b);
    return x < y ? -1 : x > y;
}

size_t traces_take(struct trace_set *s, int64_t now_ns, int64_t quiet_ns, int64_t orphan_ns,
                   int all, struct trace ***out)
{
    struct trace **list = NULL;
    size_t n = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct trace **link = &s->buckets[b];
        while (*link) {
            struct trace *t = *link;
            int64_t idle = now_ns - t->last_mono;
            if (all || (t->complete && idle >= quiet_ns) || (!t->complete && idle >= orphan_ns)) {
                *link = t->next;
                t->next = NULL;
                list = xrealloc(list, (n + 1) * sizeof(*list));
                list[n++] = t;
                s->ntraces--;
                s->nspans -= t->nspans;
            } else {
                link = &t->next;
            }
        }
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), by_start);
    *out = list;
    return n;
}

void traces_counts(const struct trace_set *s, uint64_t *received, uint64_t *dropped)
{
    if (received)
        *received = s->received;
    if (dropped)
        *dropped = s->dropped;
}

size_t traces_pending(const struct trace_set *s)
{
    return s->ntraces;
}

int trace_span_failed(const struct trace_span *sp)
{
    return sp->status == TRACES_STATUS_ERROR || sp->http_code >= 400;
}

/* Formatting: spans sorted by id to find parents, children listed in start-time order. */

struct tree {
    const struct trace *t;
    size_t *by_id;   /* span indices sorted by span id */
    size_t *order;   /* span indices sorted by start time */
    long *parent;    /* index of the parent span, or -1 */
    long *first;     /* first child, or -1 */
    long *last;      /* last child, or -1 */
    long *sibling;   /* next sibling, or -1 */
    char *visited;   /* printed already */
    size_t *stack;   /* DFS stack of span indices */
    unsigned *depth; /* depth of the span on the stack */
};

static int cmp_id(const void *a, const void *b, void *arg)
{
    const struct trace *t = arg;
    return strcmp(t->spans[*(const size_t *)a].span_id, t->spans[*(const size_t *)b].span_id);
}

static int cmp_start(const void *a, const void *b, void *arg)
{
    const struct trace *t = arg;
    const struct trace_span *x = &t->spans[*(const size_t *)a];
    const struct trace_span *y = &t->spans[*(const size_t *)b];
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static long find_span(const struct tree *tr, const char *id)
{
    size_t lo = 0, hi = tr->t->nspans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(tr->t->spans[tr->by_id[mid]].span_id, id);
        if (c == 0)
            return (long)tr->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void tree_build(struct tree *tr, const struct trace *t)
{
    size_t n = t->nspans;
    tr->t = t;
    tr->by_id = xcalloc(n, sizeof(size_t));
    tr->order = xcalloc(n, sizeof(size_t));
    tr->parent = xcalloc(n, sizeof(long));
    tr->first = xcalloc(n, sizeof(long));
    tr->last = xcalloc(n, sizeof(long));
    tr->sibling = xcalloc(n, sizeof(long));
    tr->visited = xcalloc(n, 1);
    tr->stack = xcalloc(n, sizeof(size_t));
    tr->depth = xcalloc(n, sizeof(unsigned));
    for (size_t i = 0; i < n; i++) {
        tr->by_id[i] = tr->order[i] = i;
        tr->first[i] = tr->last[i] = tr->sibling[i] = -1;
    }
    qsort_r(tr->by_id, n, sizeof(size_t), cmp_id, (void *)(uintptr_t)t);
    qsort_r(tr->order, n, sizeof(size_t), cmp_start, (void *)(uintptr_t)t);
    for (size_t k = 0; k < n; k++) {
        size_t i = tr->order[k];
        const struct trace_span *sp = &t->spans[i];
        long p = sp->parent_id[0] ? find_span(tr, sp->parent_id) : -1;
        if (p == (long)i)
            p = -1;
        tr->parent[i] = p;
        if (p < 0)
            continue;
        if (tr->last[p] < 0)
            tr->first[p] = (long)i;
        else
            tr->sibling[tr->last[p]] = (long)i;
        tr->last[p] = (long)i;
    }
}

static void tree_cleanup(struct tree *tr)
{
    free(tr->by_id);
    free(tr->order);
    free(tr->parent);
    free(tr->first);
    free(tr->last);
    free(tr->sibling);
    free(tr->visited);
    free(tr->stack);
    free(tr->depth);
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case TRACES_KIND_SERVER:
        return "server";
    case TRACES_KIND_CLIENT:
        return "client";
    case TRACES_KIND_INTERNAL:
        return "internal";
    case 4:
        return "producer";
    case 5:
        return "consumer";
    default:
        return "unspecified";
    }
}

static enum ho11y_err span_line(const struct trace_span *sp, unsigned depth,
                                trace_url_label_fn label, void *label_arg, struct hbuf *out)
{
    enum ho11y_err r = HO11Y_OK;
    for (unsigned i = 0; i < depth + 1 && !r; i++)
        r = hbuf_adds(out, "  ");
    if (!r)
        r = hbuf_addf(out, "%.200s: %.200s", sp->service, sp->name);
    if (!r && sp->kind == TRACES_KIND_CLIENT && sp->url && strcmp(sp->name, "GET") == 0) {
        const char *l = label ? label(label_arg, sp->url) : NULL;
        r = hbuf_addf(out, " %.300s", l ? l : sp->url);
    }
    if (!r)
        r = hbuf_addf(out, " [%s] ", kind_name(sp->kind));
    if (!r && sp->http_code)
        r = hbuf_addf(out, "%ld%s", sp->http_code,
                      sp->status == TRACES_STATUS_ERROR ? " error" : "");
    else if (!r)
        r = hbuf_adds(out, sp->status == TRACES_STATUS_ERROR ? "error" : "ok");
    if (!r && sp->status == TRACES_STATUS_ERROR && sp->status_message && *sp->status_message)
        r = hbuf_addf(out, " (%.160s)", sp->status_message);
    int64_t ns = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
    if (!r)
        r = hbuf_addf(out, " %.1f ms\n", (double)ns / 1e6);
    return r;
}

/* Prints span i and everything below it, depth first, children in start order. */
static enum ho11y_err print_subtree(struct tree *tr, size_t i, trace_url_label_fn label,
                                    void *label_arg, struct hbuf *out)
{
    size_t top = 0;
    enum ho11y_err r = HO11Y_OK;
    tr->stack[top] = i;
    tr->depth[top++] = 0;
    while (top && !r) {
        size_t k = tr->stack[--top];
        unsigned d = tr->depth[top];
        if (tr->visited[k])
            continue;
        tr->visited[k] = 1;
        r = span_line(&tr->t->spans[k], d, label, label_arg, out);
        /* Push children in reverse so the earliest is printed first. */
        size_t mark = top;
        for (long c = tr->first[k]; c >= 0 && top < tr->t->nspans; c = tr->sibling[c]) {
            if (tr->visited[c])
                continue;
            tr->stack[top] = (size_t)c;
            tr->depth[top++] = d + 1;
        }
        for (size_t a = mark, b = top; b > a + 1; a++, b--) {
            size_t ts = tr->stack[a];
            unsigned td = tr->depth[a];
            tr->stack[a] = tr->stack[b - 1];
            tr->depth[a] = tr->depth[b - 1];
            tr->stack[b - 1] = ts;
            tr->depth[b - 1] = td;
        }
    }
    return r;
}

enum ho11y_err trace_format(const struct trace *t, trace_url_label_fn label, void *label_arg,
                            struct hbuf *out)
{
    struct tree tr;
    size_t errors = 0;
    int64_t start = INT64_MAX, end = INT64_MIN;
    enum ho11y_err r;
    for (size_t i = 0; i < t->nspans; i++) {
        const struct trace_span *sp = &t->spans[i];
        errors += trace_span_failed(sp) ? 1 : 0;
        if (sp->start_ns < start)
            start = sp->start_ns;
        if (sp->end_ns > end)
            end = sp->end_ns;
    }
    double ms = t->nspans && end > start ? (double)(end - start) / 1e6 : 0;
    r = hbuf_addf(out, "trace 1-%.8s-%.24s: %zu span%s, %zu error%s, %.1f ms%s", t->trace_id,
                  t->trace_id + 8, t->nspans, t->nspans == 1 ? "" : "s", errors,
                  errors == 1 ? "" : "s", ms, t->complete ? "" : ", incomplete: no root span");
    if (!r && t->dropped)
        r = hbuf_addf(out, ", %zu spans dropped", t->dropped);
    if (!r)
        r = hbuf_addc(out, '\n');
    if (r || !t->nspans)
        return r;
    tree_build(&tr, t);
    /* Roots and spans whose parent is elsewhere first, then anything left (a parent cycle). */
    for (size_t k = 0; k < t->nspans && !r; k++)
        if (tr.parent[tr.order[k]] < 0)
            r = print_subtree(&tr, tr.order[k], label, label_arg, out);
    for (size_t k = 0; k < t->nspans && !r; k++)
        if (!tr.visited[tr.order[k]])
            r = print_subtree(&tr, tr.order[k], label, label_arg, out);
    tree_cleanup(&tr);
    return r;
}
