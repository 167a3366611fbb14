/*
 * A string-keyed hash map (separate chaining, power-of-two buckets, grows at load 2:
 * chains of two entries on average cost less than a bucket pointer per entry). Keys are
 * copied; values are opaque pointers owned by the caller. Not thread-safe: callers lock.
 *
 * A value may also share one malloc block with its entry (kube_map_entry_init, kube_map_link):
 * a cache of ten thousand objects then makes one allocation per object instead of two.
 */
#ifndef HO11Y_KUBE_MAP_H
#define HO11Y_KUBE_MAP_H

#include <stddef.h>

/* The hash is not stored: with short keys an entry then fits a smaller malloc chunk (a cache
 * of ten thousand objects has ten thousand entries), and growing rehashes the keys. */
struct kube_map_entry {
    struct kube_map_entry *next;
    void *value;
    char key[]; /* NUL-terminated copy */
};

struct kube_map {
    struct kube_map_entry **buckets;
    size_t nbuckets; /* 0 until the first insert */
    size_t count;
};

/** Prepares an empty map; the caller owns the struct. */
void kube_map_init(struct kube_map *m);
/**
 * Frees every entry; free_value (may be NULL) is called on each value. The map may be reused
 * after kube_map_init. NULL is a no-op.
 */
void kube_map_cleanup(struct kube_map *m, void (*free_value)(void *));
/** The value stored under key, or NULL. key is borrowed. */
void *kube_map_get(const struct kube_map *m, const char *key);
/** Whether key is present (values may be NULL). */
int kube_map_has(const struct kube_map *m, const char *key);
/**
 * Stores value under key (key copied). Returns the previous value (the caller frees it) or NULL
 * when the key was new.
 */
void *kube_map_put(struct kube_map *m, const char *key, void *value);
/** Removes key; returns its value (caller frees) or NULL when absent. */
void *kube_map_del(struct kube_map *m, const char *key);
/**
 * The bytes an entry for key takes at the start of a block shared with its value: a multiple of
 * 8, so the value after them is aligned for pointers and 64-bit integers. Pure.
 */
size_t kube_map_head_size(const char *key);
/**
 * Makes the start of block (allocated with malloc: kube_map_head_size(key) bytes, then the
 * value) an entry for key: copies key and points the value just past the
 * head. Returns the entry, which is block.
 */
struct kube_map_entry *kube_map_entry_init(void *block, const char *key);
/**
 * Links e (from kube_map_entry_init; kept: the map frees it with free() on cleanup) under its
 * key. Returns the entry it replaced, unlinked (the caller frees it), or NULL.
 */
struct kube_map_entry *kube_map_link(struct kube_map *m, struct kube_map_entry *e);
/** Unlinks the entry for key and returns it (the caller frees it), or NULL when absent. */
struct kube_map_entry *kube_map_unlink(struct kube_map *m, const char *key);
/**
 * Calls fn for every entry in unspecified order; fn must not change the map. A non-zero return
 * from fn stops the walk and is returned.
 */
int kube_map_foreach(const struct kube_map *m, int (*fn)(void *ud, const char *key, void *value),
                     void *ud);

#endif
