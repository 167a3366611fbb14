#include "generator/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/units.h"
#include "generator/trace.h"

struct exemplar {
    bool set;
    char label[64];
    char value[64];
    double v;
    int64_t ts_ns;
};

struct metric {
    struct metric_family *fam;
    char *labels[METRICS_MAX_LABELS];
    _Atomic uint64_t count;    /* counters, histogram and summary counts */
    _Atomic uint64_t bits;     /* gauge value or histogram/summary sum, as double bits */
    _Atomic uint64_t *buckets; /* histogram: per-bucket (not cumulative) counts, +Inf last */
    void *buckets_mem;         /* the same allocation, for free() */
    pthread_mutex_t ex_lock;
    struct exemplar *exemplars; /* histogram: one per bucket */
};

struct metric_family {
    enum metric_type type;
    char *name;
    char *help;
    char *label_names[METRICS_MAX_LABELS];
    size_t nlabels;
    double buckets[METRICS_MAX_BUCKETS];
    size_t nbuckets;
    double (*fn)(void *);
    void *fn_arg;
    pthread_mutex_t lock; /* guards children and nchildren */
    struct metric **children;
    size_t nchildren;
};

struct metrics_registry {
    struct metric_family **fams;
    size_t nfams;
};

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static void atomic_add_double(_Atomic uint64_t *target, double delta)
{
    uint64_t old = atomic_load_explicit(target, memory_order_relaxed), upd;
    do {
        upd = double_to_bits(bits_to_double(old) + delta);
    } while (!atomic_compare_exchange_weak_explicit(target, &old, upd, memory_order_relaxed,
                                                    memory_order_relaxed));
}

struct metrics_registry *metrics_registry_new(void)
{
    return xcalloc(1, sizeof(struct metrics_registry));
}

static void child_free(struct metric *m, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(m->labels[i]);
    free(m->buckets_mem);
    free(m->exemplars);
    pthread_mutex_destroy(&m->ex_lock);
    free(m);
}

void metrics_registry_free(struct metrics_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->nfams; i++) {
        struct metric_family *f = reg->fams[i];
        for (size_t c = 0; c < f->nchildren; c++)
            child_free(f->children[c], f->nlabels);
        for (size_t l = 0; l < f->nlabels; l++)
            free(f->label_names[l]);
        free(f->children);
        free(f->name);
        free(f->help);
        pthread_mutex_destroy(&f->lock);
        free(f);
    }
    free(reg->fams);
    free(reg);
}

static struct metric *child_new(struct metric_family *f, const char *const *values)
{
    struct metric *m = xcalloc(1, sizeof(*m));
    m->fam = f;
    for (size_t i = 0; i < f->nlabels; i++)
        m->labels[i] = xstrdup(values[i] ? values[i] : "");
    if (f->type == METRIC_HISTOGRAM) {
        m->buckets_mem = xcalloc(f->nbuckets + 1, sizeof(*m->buckets));
        m->buckets = m->buckets_mem;
        m->exemplars = xcalloc(f->nbuckets + 1, sizeof(*m->exemplars));
    }
    pthread_mutex_init(&m->ex_lock, NULL);
    return m;
}

static struct metric_family *family_new(struct metrics_registry *reg, enum metric_type type,
                                        const char *name, const char *help)
{
    for (size_t i = 0; i < reg->nfams; i++)
        if (strcmp(reg->fams[i]->name, name) == 0)
            return NULL;
    if (type == METRIC_COUNTER &&
        (strlen(name) < 7 || strcmp(name + strlen(name) - 6, "_total") != 0))
        return NULL;
    struct metric_family *f = xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help ? help : "");
    pthread_mutex_init(&f->lock, NULL);
    reg->fams = xrealloc(reg->fams, (reg->nfams + 1) * sizeof(*reg->fams));
    reg->fams[reg->nfams++] = f;
    return f;
}

struct metric_family *metrics_family_add(struct metrics_registry *reg, enum metric_type type,
                                         const char *name, const char *help,
                                         const char *const *label_names, size_t nlabels,
                                         const double *buckets, size_t nbuckets)
{
    if (!reg || !name || nlabels > METRICS_MAX_LABELS || nbuckets > METRICS_MAX_BUCKETS ||
        (type == METRIC_HISTOGRAM && nbuckets == 0))
        return NULL;
    for (size_t i = 1; i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return NULL;
    struct metric_family *f = family_new(reg, type, name, help);
    if (!f)
        return NULL;
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        f->label_names[i] = xstrdup(label_names[i]);
    if (type == METRIC_HISTOGRAM) {
        memcpy(f->buckets, buckets, nbuckets * sizeof(double));
        f->nbuckets = nbuckets;
    }
    if (nlabels == 0) {
        f->children = xcalloc(1, sizeof(*f->children));
        f->children[0] = child_new(f, NULL);
        f->nchildren = 1;
    }
    return f;
}

struct metric_family *metrics_family_add_func(struct metrics_registry *reg, enum metric_type type,
                                              const char *name, const char *help,
                                              double (*fn)(void *arg), void *arg)
{
    if (!reg || !name || !fn || (type != METRIC_COUNTER && type != METRIC_GAUGE))
        return NULL;
    struct metric_family *f = family_new(reg, type, name, help);
    if (f) {
        f->fn = fn;
        f->fn_arg = arg;
    }
    return f;
}

struct metric *metrics_child(struct metric_family *fam, const char *const *values)
{
    struct metric *m = NULL;
    if (!fam || fam->fn)
        return NULL;
    if (fam->nlabels == 0)
        return fam->children[0];
    pthread_mutex_lock(&fam->lock);
    for (size_t i = 0; i < fam->nchildren && !m; i++) {
        struct metric *c = fam->children[i];
        bool same = true;
        for (size_t l = 0; l < fam->nlabels && same; l++)
            same = strcmp(c->labels[l], values[l] ? values[l] : "") == 0;
        if (same)
            m = c;
    }
    if (!m && fam->nchildren < METRICS_MAX_CHILDREN) {
        m = child_new(fam, values);
        fam->children = xrealloc(fam->children, (fam->nchildren + 1) * sizeof(*fam->children));
        fam->children[fam->nchildren++] = m;
    }
    pthread_mutex_unlock(&fam->lock);
    return m;
}

struct metric *metrics_single(struct metric_family *fam)
{
    return fam && fam->nlabels == 0 && !fam->fn ? fam->children[0] : NULL;
}

void metrics_add(struct metric *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void metrics_inc(struct metric *m)
{
    metrics_add(m, 1);
}

void metrics_set(struct metric *m, double v)
{
    if (m)
        atomic_store_explicit(&m->bits, double_to_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metric *m, double delta)
{
    if (m)
        atomic_add_double(&m->bits, delta);
}

static size_t bucket_index(const struct metric_family *f, double v)
{
    size_t i = 0;
    while (i < f->nbuckets && v > f->buckets[i])
        i++;
    return i;
}

void metrics_observe(struct metric *m, double v)
{
    if (!m)
        return;
    if (m->fam->type == METRIC_HISTOGRAM)
        atomic_fetch_add_explicit(&m->buckets[bucket_index(m->fam, v)], 1, memory_order_relaxed);
    atomic_add_double(&m->bits, v);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

void metrics_observe_exemplar(struct metric *m, double v, const char *label, const char *value)
{
    if (!m)
        return;
    metrics_observe(m, v);
    if (m->fam->type != METRIC_HISTOGRAM || !label || !value)
        return;
    struct exemplar *e = &m->exemplars[bucket_index(m->fam, v)];
    pthread_mutex_lock(&m->ex_lock);
    e->set = true;
    snprintf(e->label, sizeof(e->label), "%s", label);
    snprintf(e->value, sizeof(e->value), "%s", value);
    e->v = v;
    e->ts_ns = gen_now_ns();
    pthread_mutex_unlock(&m->ex_lock);
}

double metrics_value(const struct metric *m)
{
    if (!m)
        return 0;
    if (m->fam->type == METRIC_COUNTER)
        return (double)atomic_load_explicit(&m->count, memory_order_relaxed);
    return bits_to_double(atomic_load_explicit(&m->bits, memory_order_relaxed));
}

/* Appends s with the exposition escapes: backslash, newline, and (in label values) quotes. */
static enum ho11y_err add_escaped(struct hbuf *b, const char *s, bool quotes)
{
    enum ho11y_err r = HO11Y_OK;
    const char *run = s;
    for (const char *p = s; !r && *p; p++) {
        if (*p != '\\' && *p != '\n' && !(quotes && *p == '"'))
            continue;
        r = hbuf_add(b, run, (size_t)(p - run));
        if (!r)
            r = hbuf_adds(b, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"");
        run = p + 1;
    }
    if (!r)
        r = hbuf_adds(b, run);
    return r;
}

static const char *type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    case METRIC_SUMMARY:
        return "summary";
    }
    return "untyped";
}

struct render {
    struct hbuf *out;
    bool om;
    enum ho11y_err r;
};

static void put(struct render *rd, const char *s)
{
    if (!rd->r)
        rd->r = hbuf_adds(rd->out, s);
}

static void put_float(struct render *rd, double v)
{
    char num[48];
    ho11y_float_format(v, rd->om, num, sizeof(num));
    put(rd, num);
}

static void put_uint(struct render *rd, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    put(rd, num);
}

/* name{labels[,extra="value"]} */
static void put_series(struct render *rd, const struct metric_family *f, const char *suffix,
                       const struct metric *m, const char *extra, const char *extra_value)
{
    put(rd, f->name);
    put(rd, suffix);
    size_t n = m ? f->nlabels : 0;
    if (!n && !extra)
        return;
    put(rd, "{");
    for (size_t i = 0; i < n; i++) {
        put(rd, i ? "," : "");
        put(rd, f->label_names[i]);
        put(rd, "=\"");
        if (!rd->r)
            rd->r = add_escaped(rd->out, m->labels[i], true);
        put(rd, "\"");
    }
    if (extra) {
        put(rd, n ? "," : "");
        put(rd, extra);
        put(rd, "=\"");
        put(rd, extra_value);
        put(rd, "\"");
    }
    put(rd, "}");
}

static void put_histogram(struct render *rd, const struct metric_family *f, struct metric *m)
{
    uint64_t cumulative = 0;
    char le[48];
    struct exemplar ex[METRICS_MAX_BUCKETS + 1];
    pthread_mutex_lock(&m->ex_lock);
    memcpy(ex, m->exemplars, (f->nbuckets + 1) * sizeof(ex[0]));
    pthread_mutex_unlock(&m->ex_lock);
    for (size_t i = 0; i <= f->nbuckets; i++) {
        cumulative += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        if (i < f->nbuckets)
            ho11y_float_format(f->buckets[i], rd->om, le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        put_series(rd, f, "_bucket", m, "le", le);
        put(rd, " ");
        put_uint(rd, cumulative);
        if (rd->om && ex[i].set) {
            put(rd, " # {");
            put(rd, ex[i].label);
            put(rd, "=\"");
            if (!rd->r)
                rd->r = add_escaped(rd->out, ex[i].value, true);
            put(rd, "\"} ");
            put_float(rd, ex[i].v);
            put(rd, " ");
            put_float(rd, (double)ex[i].ts_ns / 1e9);
        }
        put(rd, "\n");
    }
}

static void put_child(struct render *rd, const struct metric_family *f, struct metric *m)
{
    uint64_t count = atomic_load_explicit(&m->count, memory_order_relaxed);
    double value = bits_to_double(atomic_load_explicit(&m->bits, memory_order_relaxed));
    switch (f->type) {
    case METRIC_COUNTER:
        put_series(rd, f, "", m, NULL, NULL);
        put(rd, " ");
        put_float(rd, (double)count);
        put(rd, "\n");
        break;
    case METRIC_GAUGE:
        put_series(rd, f, "", m, NULL, NULL);
        put(rd, " ");
        put_float(rd, value);
        put(rd, "\n");
        break;
    case METRIC_HISTOGRAM:
    case METRIC_SUMMARY:
        if (f->type == METRIC_HISTOGRAM)
            put_histogram(rd, f, m);
        put_series(rd, f, "_sum", m, NULL, NULL);
        put(rd, " ");
        put_float(rd, value);
        put(rd, "\n");
        put_series(rd, f, "_count", m, NULL, NULL);
        put(rd, " ");
        put_uint(rd, count);
        put(rd, "\n");
        break;
    }
}

static int child_cmp(const void *a, const void *b)
{
    const struct metric *ma = *(struct metric *const *)a, *mb = *(struct metric *const *)b;
    for (size_t i = 0; i < ma->fam->nlabels; i++) {
        int c = strcmp(ma->labels[i], mb->labels[i]);
        if (c)
            return c;
    }
    return 0;
}

static int fam_cmp(const void *a, const void *b)
{
    const struct metric_family *fa = *(struct metric_family *const *)a;
    const struct metric_family *fb = *(struct metric_family *const *)b;
    return strcmp(fa->name, fb->name);
}

static void put_family(struct render *rd, struct metric_family *f)
{
    struct metric *children[METRICS_MAX_CHILDREN];
    size_t n = 0;
    if (!f->fn) {
        pthread_mutex_lock(&f->lock);
        n = f->nchildren;
        if (n) /* children is NULL until the first child of a labelled family */
            memcpy(children, f->children, n * sizeof(children[0]));
        pthread_mutex_unlock(&f->lock);
        if (!n)
            return; /* a labelled family appears with its first child */
        qsort(children, n, sizeof(children[0]), child_cmp);
    }
    /* OpenMetrics names a counter family without its _total suffix. */
    char family_name[256];
    snprintf(family_name, sizeof(family_name), "%s", f->name);
    if (rd->om && f->type == METRIC_COUNTER)
        family_name[strlen(family_name) - 6] = '\0';
    put(rd, "# HELP ");
    put(rd, family_name);
    put(rd, " ");
    if (!rd->r)
        rd->r = add_escaped(rd->out, f->help, rd->om);
    put(rd, "\n# TYPE ");
    put(rd, family_name);
    put(rd, " ");
    put(rd, type_name(f->type));
    put(rd, "\n");
    if (f->fn) {
        put(rd, f->name);
        put(rd, " ");
        put_float(rd, f->fn(f->fn_arg));
        put(rd, "\n");
        return;
    }
    for (size_t i = 0; i < n; i++)
        put_child(rd, f, children[i]);
}

enum ho11y_err metrics_render(struct metrics_registry *reg, enum metrics_format format,
                              struct hbuf *out)
{
    struct render rd = {out, format != METRICS_FORMAT_TEXT, HO11Y_OK};
    struct metric_family **sorted = xmalloc((reg->nfams ? reg->nfams : 1) * sizeof(*sorted));
    memcpy(sorted, reg->fams, reg->nfams * sizeof(*sorted));
    qsort(sorted, reg->nfams, sizeof(*sorted), fam_cmp);
    for (size_t i = 0; i < reg->nfams && !rd.r; i++)
        put_family(&rd, sorted[i]);
    if (rd.om)
        put(&rd, "# EOF\n");
    free(sorted);
    return rd.r;
}

const char *metrics_content_type(enum metrics_format format)
{
    switch (format) {
    case METRICS_FORMAT_OM_1_0_0:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case METRICS_FORMAT_OM_0_0_1:
        return "application/openmetrics-text; version=0.0.1; charset=utf-8";
    case METRICS_FORMAT_TEXT:
        break;
    }
    return "text/plain; version=0.0.4; charset=utf-8";
}

/* Copies the value of parameter `name` from a media range's parameters into out ("" if none). */
static void media_param(const char *params, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (size_t i = 0; i < len;) {
        while (i < len && (params[i] == ';' || params[i] == ' ' || params[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && params[i] != ';')
            i++;
        if (i - start > nl && strncasecmp(params + start, name, nl) == 0 &&
            params[start + nl] == '=') {
            size_t vl = i - start - nl - 1;
            const char *v = params + start + nl + 1;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            snprintf(out, outlen, "%.*s", (int)vl, v);
        }
    }
}

enum metrics_format metrics_negotiate(const char *accept, bool allow_openmetrics)
{
    enum metrics_format best = METRICS_FORMAT_TEXT;
    double best_q = -1;
    const char *p = accept;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        const char *semi = memchr(p, ';', len);
        size_t tlen = semi ? (size_t)(semi - p) : len;
        while (tlen && (p[tlen - 1] == ' ' || p[tlen - 1] == '\t'))
            tlen--;
        char qs[16], version[32];
        size_t plen = semi ? len - (size_t)(semi - p) : 0;
        media_param(semi, plen, "q", qs, sizeof(qs));
        media_param(semi, plen, "version", version, sizeof(version));
        double q = qs[0] ? strtod(qs, NULL) : 1.0;
        int cand = -1;
        if (tlen == 28 && strncasecmp(p, "application/openmetrics-text", 28) == 0 &&
            allow_openmetrics) {
            if (!version[0] || strcmp(version, "1.0.0") == 0)
                cand = METRICS_FORMAT_OM_1_0_0;
            else if (strcmp(version, "0.0.1") == 0)
                cand = METRICS_FORMAT_OM_0_0_1;
        } else if ((tlen == 10 && strncasecmp(p, "text/plain", 10) == 0) ||
                   (tlen == 3 && strncmp(p, "*/*", 3) == 0)) {
            if (!version[0] || strcmp(version, "0.0.4") == 0)
                cand = METRICS_FORMAT_TEXT;
        }
        /* Ties keep the earlier range, as the Accept header lists preferences in order. */
        if (cand >= 0 && q > 0 && q > best_q) {
            best = (enum metrics_format)cand;
            best_q = q;
        }
        p = comma ? comma + 1 : NULL;
    }
    return best;
}
