/*
 * A small Prometheus metrics registry with the two exposition formats that client_golang's
 * promhttp serves: the Prometheus text format 0.0.4 and OpenMetrics 1.0 (with exemplars).
 *
 * Families are created at start-up; children (one per label-value combination) are created on
 * first use and never removed, at most METRICS_MAX_CHILDREN per family. A family without labels
 * has its single child from the start, so it is exposed with zeros before any observation, as
 * client_golang does. Updating a child is lock-free except for exemplars; every function is
 * thread-safe unless its contract says otherwise.
 */
#ifndef HO11Y_GENERATOR_METRICS_H
#define HO11Y_GENERATOR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

#define METRICS_MAX_LABELS   4
#define METRICS_MAX_CHILDREN 256
#define METRICS_MAX_BUCKETS  32

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_SUMMARY };

enum metrics_format {
    METRICS_FORMAT_TEXT,     /* text/plain; version=0.0.4 */
    METRICS_FORMAT_OM_1_0_0, /* application/openmetrics-text; version=1.0.0 */
    METRICS_FORMAT_OM_0_0_1, /* the same body, labelled as client_golang 1.11 labels it */
};

struct metrics_registry;
struct metric_family;
struct metric;

/** A new empty registry; caller frees with metrics_registry_free. */
struct metrics_registry *metrics_registry_new(void);
/** Frees the registry, its families and children. NULL is a no-op. Not thread-safe. */
void metrics_registry_free(struct metrics_registry *reg);

/**
 * Adds a family. name, help and label names are copied. Counter names end in "_total" (the
 * OpenMetrics family name drops it). Histograms take nbuckets increasing upper bounds (+Inf is
 * implicit). Returns NULL (and registers nothing) on a duplicate name or bad arguments.
 * Call before the registry is shared between threads.
 */
struct metric_family *metrics_family_add(struct metrics_registry *reg, enum metric_type type,
                                         const char *name, const char *help,
                                         const char *const *label_names, size_t nlabels,
                                         const double *buckets, size_t nbuckets);

/**
 * Adds a label-less counter or gauge whose value is read by fn(arg) at each scrape (fn must be
 * thread-safe; arg is kept, not owned). NULL on a duplicate name.
 */
struct metric_family *metrics_family_add_func(struct metrics_registry *reg, enum metric_type type,
                                              const char *name, const char *help,
                                              double (*fn)(void *arg), void *arg);

/**
 * The child for the given label values (nlabels strings, copied on creation). NULL when the
 * family already has METRICS_MAX_CHILDREN children or fam is NULL; every update function
 * accepts NULL as a no-op, so callers need not check. The pointer stays valid for the
 * registry's lifetime.
 */
struct metric *metrics_child(struct metric_family *fam, const char *const *label_values);
/** The single child of a label-less family (NULL for NULL or a labelled family). */
struct metric *metrics_single(struct metric_family *fam);

/** Adds n to a counter. */
void metrics_add(struct metric *m, uint64_t n);
/** Adds 1 to a counter. */
void metrics_inc(struct metric *m);
/** Sets a gauge. */
void metrics_set(struct metric *m, double v);
/** Adds to a gauge (may be negative). */
void metrics_gauge_add(struct metric *m, double delta);
/** Records an observation in a histogram or summary. */
void metrics_observe(struct metric *m, double v);
/**
 * Records a histogram observation with an exemplar label (e.g. "traceid", "1-...") kept for its
 * bucket; strings are copied (truncated to 63 bytes).
 */
void metrics_observe_exemplar(struct metric *m, double v, const char *label, const char *value);

/** Current value of a counter or gauge child (for tests and derived metrics). */
double metrics_value(const struct metric *m);

/**
 * Appends the whole registry in the given format to out, families sorted by name and children
 * by label values (as client_golang's gatherer does). HO11Y_LIMIT if out is full.
 */
enum ho11y_err metrics_render(struct metrics_registry *reg, enum metrics_format format,
                              struct hbuf *out);

/** The Content-Type header value for a format (static string). */
const char *metrics_content_type(enum metrics_format format);

/**
 * Chooses the format for an Accept header value (NULL = none) the way promhttp negotiates:
 * OpenMetrics only when asked for and allowed; otherwise the text format. Pure.
 */
enum metrics_format metrics_negotiate(const char *accept, bool allow_openmetrics);

#endif
