#include "op_compare.h"

#include <stdio.h>
#include <string.h>

/* A desired value that the server may legitimately leave out (Go's omitempty). */
static int empty_value(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return 1;
    if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child)
        return 1;
    if (cJSON_IsString(v) && !v->valuestring[0])
        return 1;
    if (cJSON_IsFalse(v))
        return 1;
    return 0;
}

static void set_path(char *path, size_t pathlen, const char *prefix, const char *key, int index)
{
    if (!path || !pathlen)
        return;
    if (key)
        snprintf(path, pathlen, "%s%s%s", prefix, prefix[0] ? "." : "", key);
    else
        snprintf(path, pathlen, "%s[%d]", prefix, index);
}

static int subset_at(const cJSON *d, const cJSON *l, char *prefix, char *path, size_t pathlen);

static const cJSON *ref_by_uid(const cJSON *refs, const char *uid)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, refs)
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
        if (cJSON_IsString(u) && uid && strcmp(u->valuestring, uid) == 0)
            return r;
    }
    return NULL;
}

static int refs_subset(const cJSON *d, const cJSON *l, char *prefix, char *path, size_t pathlen)
{
    const cJSON *r;
    int i = 0;
    if (!cJSON_IsArray(l)) {
        if (path)
            snprintf(path, pathlen, "%s", prefix);
        return 0;
    }
    cJSON_ArrayForEach(r, d)
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
        const cJSON *lr = ref_by_uid(l, cJSON_IsString(u) ? u->valuestring : NULL);
        char sub[528];
        snprintf(sub, sizeof(sub), "%s[%d]", prefix, i++);
        if (!lr) {
            if (path)
                snprintf(path, pathlen, "%s", sub);
            return 0;
        }
        if (!subset_at(r, lr, sub, path, pathlen))
            return 0;
    }
    return 1;
}

static int subset_at(const cJSON *d, const cJSON *l, char *prefix, char *path, size_t pathlen)
{
    char sub[512];
    if (cJSON_IsObject(d)) {
        if (!cJSON_IsObject(l)) {
            if (!l && empty_value(d))
                return 1;
            if (path)
                snprintf(path, pathlen, "%s", prefix[0] ? prefix : "(root)");
            return 0;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, d)
        {
            const cJSON *lc = cJSON_GetObjectItemCaseSensitive(l, c->string);
            set_path(sub, sizeof(sub), prefix, c->string, 0);
            if (!lc) {
                if (empty_value(c))
                    continue;
                if (path)
                    snprintf(path, pathlen, "%s", sub);
                return 0;
            }
            if (strcmp(sub, "metadata.ownerReferences") == 0) {
                if (!refs_subset(c, lc, sub, path, pathlen))
                    return 0;
                continue;
            }
            if (!subset_at(c, lc, sub, path, pathlen))
                return 0;
        }
        return 1;
    }
    if (cJSON_IsArray(d)) {
        if (!cJSON_IsArray(l) || cJSON_GetArraySize(d) != cJSON_GetArraySize(l)) {
            if (!l && empty_value(d))
                return 1;
            if (path)
                snprintf(path, pathlen, "%s", prefix);
            return 0;
        }
        const cJSON *dc = d->child, *lc = l->child;
        for (int i = 0; dc && lc; i++, dc = dc->next, lc = lc->next) {
            set_path(sub, sizeof(sub), prefix, NULL, i);
            if (!subset_at(dc, lc, sub, path, pathlen))
                return 0;
        }
        return 1;
    }
    int same;
    if (cJSON_IsString(d))
        same = cJSON_IsString(l) && strcmp(d->valuestring, l->valuestring) == 0;
    else if (cJSON_IsNumber(d))
        same = cJSON_IsNumber(l) && d->valuedouble == l->valuedouble;
    else if (cJSON_IsBool(d))
        same = cJSON_IsBool(l) && cJSON_IsTrue(d) == cJSON_IsTrue(l);
    else
        same = !l || cJSON_IsNull(l);
    if (!same && path)
        snprintf(path, pathlen, "%s", prefix);
    return same;
}

int op_subset(const cJSON *desired, const cJSON *live, char *path, size_t pathlen)
{
    char prefix[1] = "";
    if (path && pathlen)
        path[0] = '\0';
    return subset_at(desired, live, prefix, path, pathlen);
}

static cJSON *ref_by_uid_mut(cJSON *refs, const char *uid)
{
    cJSON *r;
    cJSON_ArrayForEach(r, refs)
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
        if (cJSON_IsString(u) && uid && strcmp(u->valuestring, uid) == 0)
            return r;
    }
    return NULL;
}

static void merge_refs(cJSON *live, const cJSON *desired)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, desired)
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uid");
        cJSON *cur = ref_by_uid_mut(live, cJSON_IsString(u) ? u->valuestring : NULL);
        if (cur)
            cJSON_ReplaceItemViaPointer(live, cur, cJSON_Duplicate(r, 1));
        else
            cJSON_AddItemToArray(live, cJSON_Duplicate(r, 1));
    }
}

static void overlay(cJSON *live, const cJSON *desired, int depth, const char *parent)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, desired)
    {
        cJSON *lc = cJSON_GetObjectItemCaseSensitive(live, c->string);
        if (depth == 1 && parent && strcmp(parent, "metadata") == 0 &&
            strcmp(c->string, "ownerReferences") == 0 && cJSON_IsArray(lc) && cJSON_IsArray(c)) {
            merge_refs(lc, c);
            continue;
        }
        if (lc && cJSON_IsObject(lc) && cJSON_IsObject(c)) {
            overlay(lc, c, depth + 1, c->string);
            continue;
        }
        cJSON *copy = cJSON_Duplicate(c, 1);
        if (lc)
            cJSON_ReplaceItemViaPointer(live, lc, copy);
        else
            cJSON_AddItemToObject(live, c->string, copy);
    }
}

cJSON *op_merge_for_update(const cJSON *live, const cJSON *desired)
{
    cJSON *out = cJSON_Duplicate(live, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "status");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(out, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
    overlay(out, desired, 0, NULL);
    return out;
}
