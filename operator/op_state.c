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
#include "common/hash.h"
#include "op_internal.h"

/* One verified child: the first 4 bytes of the 64-bit FNV-1a of its key ("Kind/ns/name") and
 * the record, unaligned (29 bytes). Two children of one Topology whose keys collide would share
 * a record, which then matches only one object (their uids differ): the other is read again,
 * nothing is skipped. */
struct op_verified_slot {
    unsigned char key[4];
    struct op_verified v;
};

_Static_assert(sizeof(struct op_verified_slot) == 4 + 3 * OP_DIGEST_LEN + 1,
               "verified slots are packed");

static void slot_key(const char *ck, unsigned char out[4])
{
    unsigned long long h = ho11y_fnv1a(ck);
    for (int i = 0; i < 4; i++)
        out[i] = (unsigned char)(h >> (8 * i));
}

static struct op_verified_slot *slot_find(struct op_topo_state *s, const char *ck)
{
    unsigned char k[4];
    slot_key(ck, k);
    for (unsigned i = 0; s && i < s->nverified; i++)
        if (memcmp(s->verified[i].key, k, 4) == 0)
            return &s->verified[i];
    return NULL;
}

int op__verified_uid_is(const struct op_verified *v, const struct op_uid *u)
{
    unsigned char f[OP_DIGEST_LEN];
    op_uid_fold(u, f);
    return memcmp(v->uid, f, OP_DIGEST_LEN) == 0;
}

void op__verified_put(struct op_controller *ctl, const struct op_topology *t, const char *tkey,
                      const char *ck, const char *uid, const unsigned char live[OP_DIGEST_LEN],
                      const unsigned char desired[OP_DIGEST_LEN], int deleted)
{
    struct op_verified v;
    struct op_uid u;
    memset(&v, 0, sizeof(v));
    op_uid_set(&u, uid);
    op_uid_fold(&u, v.uid);
    if (live)
        memcpy(v.live, live, OP_DIGEST_LEN);
    if (desired)
        memcpy(v.desired, desired, OP_DIGEST_LEN);
    v.deleted = deleted != 0;
    pthread_mutex_lock(&ctl->state_lock);
    struct op_topo_state *s = op__state_get(ctl, t, tkey);
    struct op_verified_slot *slot = slot_find(s, ck);
    if (!slot) {
        /* Grown one at a time: a Topology has a handful of children and no slack is kept. */
        s->verified = xrealloc(s->verified, (s->nverified + 1) * sizeof(*s->verified));
        slot = &s->verified[s->nverified++];
        slot_key(ck, slot->key);
    }
    slot->v = v;
    pthread_mutex_unlock(&ctl->state_lock);
}

int op__verified_get(struct op_controller *ctl, const char *tkey, const char *ck,
                     struct op_verified *out)
{
    pthread_mutex_lock(&ctl->state_lock);
    struct op_verified_slot *slot = slot_find(kube_map_get(&ctl->states, tkey), ck);
    if (slot)
        *out = slot->v;
    pthread_mutex_unlock(&ctl->state_lock);
    return slot != NULL;
}

void op__verified_forget(struct op_controller *ctl, const char *tkey, const char *ck,
                         const struct op_uid *uid)
{
    pthread_mutex_lock(&ctl->state_lock);
    struct op_topo_state *s = kube_map_get(&ctl->states, tkey);
    struct op_verified_slot *slot = slot_find(s, ck);
    static const unsigned char zero[OP_DIGEST_LEN];
    if (slot && (!uid || memcmp(slot->v.uid, zero, OP_DIGEST_LEN) == 0 ||
                 op__verified_uid_is(&slot->v, uid))) {
        *slot = s->verified[--s->nverified];
        if (!s->nverified) {
            free(s->verified);
            s->verified = NULL;
        }
    }
    pthread_mutex_unlock(&ctl->state_lock);
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
    if (s && !op_uid_eq(&s->uid, &t->id)) {
        /* The Topology was deleted and created again under the same name. */
        op__state_free(kube_map_del(&ctl->states, key));
        s = NULL;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->uid = t->id;
        s->invalid_generation = -1;
        kube_map_put(&ctl->states, key, s);
    }
    return s;
}

void op__state_free(struct op_topo_state *s)
{
    if (!s)
        return;
    free(s->conflicts);
    free(s->verified);
    free(s);
}
