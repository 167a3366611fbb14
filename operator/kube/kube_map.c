#include "kube_map.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/hash.h"

void kube_map_init(struct kube_map *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void kube_map_cleanup(struct kube_map *m, void (*free_value)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct kube_map_entry *e = m->buckets[i];
        while (e) {
            struct kube_map_entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    kube_map_init(m);
}

static struct kube_map_entry **find(const struct kube_map *m, const char *key, unsigned long long h)
{
    struct kube_map_entry **pe = &m->buckets[h & (m->nbuckets - 1)];
    while (*pe && strcmp((*pe)->key, key) != 0)
        pe = &(*pe)->next;
    return pe;
}

void *kube_map_get(const struct kube_map *m, const char *key)
{
    if (!m->nbuckets)
        return NULL;
    struct kube_map_entry **pe = find(m, key, ho11y_fnv1a(key));
    return *pe ? (*pe)->value : NULL;
}

int kube_map_has(const struct kube_map *m, const char *key)
{
    if (!m->nbuckets)
        return 0;
    return *find(m, key, ho11y_fnv1a(key)) != NULL;
}

static void grow(struct kube_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    struct kube_map_entry **b = xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct kube_map_entry *e = m->buckets[i];
        while (e) {
            struct kube_map_entry *next = e->next;
            size_t j = ho11y_fnv1a(e->key) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

/* The link where key is or would go, after growing the table if an insert would crowd it. */
static struct kube_map_entry **insert_slot(struct kube_map *m, const char *key)
{
    if (m->count >= 2 * m->nbuckets)
        grow(m);
    return find(m, key, ho11y_fnv1a(key));
}

void *kube_map_put(struct kube_map *m, const char *key, void *value)
{
    struct kube_map_entry **pe = insert_slot(m, key);
    if (*pe) {
        void *old = (*pe)->value;
        (*pe)->value = value;
        return old;
    }
    size_t len = strlen(key);
    struct kube_map_entry *e = xmalloc(sizeof(*e) + len + 1);
    memcpy(e->key, key, len + 1);
    e->value = value;
    e->next = NULL;
    *pe = e;
    m->count++;
    return NULL;
}

void *kube_map_del(struct kube_map *m, const char *key)
{
    struct kube_map_entry *e = kube_map_unlink(m, key);
    if (!e)
        return NULL;
    void *value = e->value;
    free(e);
    return value;
}

size_t kube_map_head_size(const char *key)
{
    return (offsetof(struct kube_map_entry, key) + strlen(key) + 1 + 7) & ~(size_t)7;
}

struct kube_map_entry *kube_map_entry_init(void *block, const char *key)
{
    struct kube_map_entry *e = block;
    size_t head = kube_map_head_size(key);
    memcpy(e->key, key, strlen(key) + 1);
    e->next = NULL;
    e->value = (char *)block + head;
    return e;
}

struct kube_map_entry *kube_map_link(struct kube_map *m, struct kube_map_entry *e)
{
    struct kube_map_entry **pe = insert_slot(m, e->key);
    struct kube_map_entry *old = *pe;
    if (old) {
        e->next = old->next;
        old->next = NULL;
    } else {
        e->next = NULL;
        m->count++;
    }
    *pe = e;
    return old;
}

struct kube_map_entry *kube_map_unlink(struct kube_map *m, const char *key)
{
    if (!m->nbuckets)
        return NULL;
    struct kube_map_entry **pe = find(m, key, ho11y_fnv1a(key));
    struct kube_map_entry *e = *pe;
    if (!e)
        return NULL;
    *pe = e->next;
    e->next = NULL;
    m->count--;
    return e;
}

int kube_map_foreach(const struct kube_map *m, int (*fn)(void *ud, const char *key, void *value),
                     void *ud)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct kube_map_entry *e = m->buckets[i]; e; e = e->next) {
            int r = fn(ud, e->key, e->value);
            if (r)
                return r;
        }
    }
    return 0;
}
