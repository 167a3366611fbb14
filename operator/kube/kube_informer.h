/*
 * An informer keeps a local cache of one resource type (optionally one namespace and a label
 * selector) in step with the API server, the way client-go's reflector does: a paged list
 * (limit 500, continue), then a watch from the list's resourceVersion with bookmarks and a
 * random 300-600 s timeoutSeconds; a watch that ends normally is restarted from the last
 * resourceVersion seen; 410 Gone (or an expired continue token) means relist; errors back off
 * from 0.8 s to 30 s with jitter, reset after two healthy minutes. resourceVersion is an opaque
 * string. The cache keeps a trimmed record per object, made by the caller's trim function in the
 * same block as the cache's entry for it, and nothing else.
 *
 * Each informer runs one thread with its own connection. Reads of the cache are thread-safe.
 */
#ifndef HO11Y_KUBE_INFORMER_H
#define HO11Y_KUBE_INFORMER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/error.h"
#include "kube_client.h"

struct kube_informer_ops {
    /**
     * Makes the cached record for obj (borrowed), or NULL to not cache the object. The record
     * is one malloc block whose first head bytes (a multiple of 8) are left to the cache, the
     * record following them: trim returns block + head, and the cache frees the block with
     * free(), so a cached object is one allocation. Runs on the informer's thread.
     */
    void *(*trim)(void *ud, const cJSON *obj, size_t head);
    /**
     * Whether two records (borrowed) are equal, so that a relist keeps the cached one and
     * reports no change. NULL: a relisted object always counts as changed. Pure.
     */
    int (*same)(const void *a, const void *b);
    /**
     * Called after the cache changed: old NULL when added, new_ NULL when deleted; both
     * borrowed for the duration of the call (the cache already holds new_). Runs on the
     * informer's thread with no lock held; may read this or other informers' caches. A list
     * is applied as it arrives: while it runs, this cache holds listed and not yet listed
     * records side by side, and a list that fails part way keeps (and has notified) the
     * changes it applied; deletions are notified once a list completes.
     */
    void (*on_change)(void *ud, const char *key, const void *old_rec, const void *new_rec);
    void *ud;
};

struct kube_informer_opts {
    const char *name; /* for logs and /readyz: "topologies" */
    const struct kube_resource *res;
    const char *ns;             /* NULL: every namespace */
    const char *label_selector; /* NULL: none */
    unsigned page_size;         /* 0: 500 */
    size_t max_object;          /* largest accepted object; 0: 4 MiB */
    const struct kube_informer_ops *ops;
};

struct kube_informer;

/** A stopped informer; opts and the strings in it are copied, ops is borrowed. Never NULL. */
struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o);
/** Starts the informer thread. HO11Y_INTERNAL when the thread cannot start. */
enum ho11y_err kube_informer_start(struct kube_informer *inf);
/**
 * Asks the thread to stop (its request in flight is aborted) without waiting for it, so that
 * several informers can wind down at once before kube_informer_stop waits for each. A no-op
 * when not started. Called by the thread that starts and stops the informer, like
 * kube_informer_stop.
 */
void kube_informer_stop_async(struct kube_informer *inf);
/** Stops the thread (aborting a request in flight) and waits for it. Idempotent. */
void kube_informer_stop(struct kube_informer *inf);
/** Stops and frees, with every cached record. NULL is a no-op. */
void kube_informer_free(struct kube_informer *inf);

/** Whether the first complete list has been loaded. Thread-safe. */
int kube_informer_synced(struct kube_informer *inf);
/** The informer's name (borrowed). */
const char *kube_informer_name(const struct kube_informer *inf);

/**
 * Calls fn with the record cached under key ("namespace/name", or "name" when cluster-scoped)
 * while holding the read lock; returns fn's value, or -1 when the key is absent. The record is
 * borrowed for the call only. fn must not call back into this informer for writing.
 */
int kube_informer_get(struct kube_informer *inf, const char *key,
                      int (*fn)(void *ud, const void *rec), void *ud);
/** Calls fn for every record under the read lock; a non-zero return stops the walk. */
int kube_informer_foreach(struct kube_informer *inf,
                          int (*fn)(void *ud, const char *key, const void *rec), void *ud);
/** The number of cached records. */
size_t kube_informer_count(struct kube_informer *inf);

struct kube_informer_stats {
    unsigned long lists;   /* complete lists (first sync and relists) */
    unsigned long watches; /* watch requests started */
    unsigned long events;  /* watch events applied */
    unsigned long expired; /* 410 answers that caused a relist */
    unsigned long errors;  /* failed requests */
};
/** Copies the counters. Thread-safe. */
void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out);

/** The cache key of an object: "namespace/name" or "name". Fresh string, NULL if no name. */
char *kube_object_key(const cJSON *obj);

#endif
