/*
 * What the controller remembers between reconciles (op_internal.h): the children it verified
 * or deleted, its per-Topology state, and which Topologies wait for a name held by another
 * object. Every function takes ctl->state_lock itself, except op__state_get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "op_internal.h"

void op__verified_put(struct op_controller *ctl, const char *ck, const char *uid,
                      const unsigned char live[OP_DIGEST_LEN],
                      const unsigned char desired[OP_DIGEST_LEN], int deleted)
{
    struct op_verified *v = xcalloc(1, sizeof(*v));
    snprintf(v->uid, sizeof(v->uid), "%s", uid ? uid : "");
    if (live)
        memcpy(v->live, live, OP_DIGEST_LEN);
    if (desired)
        memcpy(v->desired, desired, OP_DIGEST_LEN);
    v->deleted = deleted;
    pthread_mutex_lock(&ctl->state_lock);
    free(kube_map_put(&ctl->verified, ck, v));
    pthread_mutex_unlock(&ctl->state_lock);
}

int op__verified_get(struct op_controller *ctl, const char *ck, struct op_verified *out)
{
    pthread_mutex_lock(&ctl->state_lock);
    struct op_verified *v = kube_map_get(&ctl->verified, ck);
    if (v)
        *out = *v;
    pthread_mutex_unlock(&ctl->state_lock);
    return v != NULL;
}

void op__conflict_add(struct op_controller *ctl, const char *ck, const char *key)
{
    pthread_mutex_lock(&ctl->state_lock);
    char *cur = kube_map_get(&ctl->conflicts, ck);
    int present = 0;
    for (const char *p = cur; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == strlen(key) && strncmp(p, key, n) == 0)
            present = 1;
        p = nl ? nl + 1 : p + n;
    }
    if (!present) {
        char *next = cur ? xasprintf("%s\n%s", cur, key) : xstrdup(key);
        free(kube_map_put(&ctl->conflicts, ck, next));
    }
    pthread_mutex_unlock(&ctl->state_lock);
}

int op__conflict_has(struct op_controller *ctl, const char *ck, const char *key)
{
    pthread_mutex_lock(&ctl->state_lock);
    const char *cur = kube_map_get(&ctl->conflicts, ck);
    int found = 0;
    size_t klen = strlen(key);
    for (const char *p = cur; p && *p && !found;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        found = n == klen && strncmp(p, key, n) == 0;
        p = nl ? nl + 1 : p + n;
    }
    pthread_mutex_unlock(&ctl->state_lock);
    return found;
}

struct strip_ctx {
    const char *key;
    char **empty;
    size_t nempty, cap;
    struct kube_map *map;
};

static int strip_key(void *ud, const char *ck, void *value)
{
    struct strip_ctx *s = ud;
    char *list = value;
    struct hbuf out;
    hbuf_init(&out, 1 << 20);
    for (const char *p = list; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!(n == strlen(s->key) && strncmp(p, s->key, n) == 0)) {
            if (out.len)
                hbuf_addc(&out, '\n');
            hbuf_add(&out, p, n);
        }
        p = nl ? nl + 1 : p + n;
    }
    if (strcmp(hbuf_str(&out), list) != 0) {
        /* Replacing the value of an existing key does not disturb the walk. */
        if (!out.len) {
            if (s->nempty == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 8;
                s->empty = xrealloc(s->empty, s->cap * sizeof(char *));
            }
            s->empty[s->nempty++] = xstrdup(ck);
        }
        free(kube_map_put(s->map, ck, hbuf_steal(&out, NULL)));
    }
    hbuf_cleanup(&out);
    return 0;
}

void op__conflict_clear(struct op_controller *ctl, const char *key)
{
    struct strip_ctx s = {key, NULL, 0, 0, &ctl->conflicts};
    pthread_mutex_lock(&ctl->state_lock);
    kube_map_foreach(&ctl->conflicts, strip_key, &s);
    for (size_t i = 0; i < s.nempty; i++) {
        free(kube_map_del(&ctl->conflicts, s.empty[i]));
        free(s.empty[i]);
    }
    pthread_mutex_unlock(&ctl->state_lock);
    free(s.empty);
}

struct op_topo_state *op__state_get(struct op_controller *ctl, const struct op_topology *t,
                                    const char *key)
{
    struct op_topo_state *s = kube_map_get(&ctl->states, key);
    if (s && strcmp(s->uid, t->uid) != 0) {
        /* The Topology was deleted and created again under the same name. */
        free(s->uid);
        free(s->conflicts);
        free(kube_map_del(&ctl->states, key));
        s = NULL;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->uid = xstrdup(t->uid);
        s->invalid_generation = -1;
        kube_map_put(&ctl->states, key, s);
    }
    return s;
}
