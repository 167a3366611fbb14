#include "op_cache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/constants.h"
#include "common/alloc.h"

static const char *str_at(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long num_at(const cJSON *obj, const char *key, int *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (present)
        *present = cJSON_IsNumber(v);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

const cJSON *op_controller_ref(const cJSON *obj)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences");
    const cJSON *r;
    cJSON_ArrayForEach(r, refs)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller")))
            return r;
    }
    return NULL;
}

struct op_topology *op_topology_trim(const cJSON *obj)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *name = str_at(meta, "name");
    if (!name)
        return NULL;
    struct op_topology *t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(name);
    t->ns = xstrdup(str_at(meta, "namespace") ? str_at(meta, "namespace") : "");
    t->uid = xstrdup(str_at(meta, "uid") ? str_at(meta, "uid") : "");
    t->generation = num_at(meta, "generation", NULL);
    t->deleting = cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp") != NULL &&
                  !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp"));

    /* Only what the api/ parser reads; labels, annotations and managedFields stay behind. */
    cJSON *slim = cJSON_CreateObject();
    const char *api = str_at(obj, "apiVersion"), *kind = str_at(obj, "kind");
    cJSON_AddStringToObject(slim, "apiVersion", api ? api : TOPO_API_VERSION);
    cJSON_AddStringToObject(slim, "kind", kind ? kind : TOPO_KIND);
    cJSON *m = cJSON_AddObjectToObject(slim, "metadata");
    cJSON_AddStringToObject(m, "name", t->name);
    if (t->ns[0])
        cJSON_AddStringToObject(m, "namespace", t->ns);
    if (t->uid[0])
        cJSON_AddStringToObject(m, "uid", t->uid);
    cJSON_AddNumberToObject(m, "generation", (double)t->generation);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    if (spec)
        cJSON_AddItemToObject(slim, "spec", cJSON_Duplicate(spec, 1));
    t->json = cJSON_PrintUnformatted(slim);
    cJSON_Delete(slim);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
    if (cJSON_IsObject(status))
        t->status = cJSON_PrintUnformatted(status);
    return t;
}

void op_topology_free(struct op_topology *t)
{
    if (!t)
        return;
    free(t->ns);
    free(t->name);
    free(t->uid);
    free(t->json);
    free(t->status);
    free(t);
}

struct op_topology *op_topology_copy(const struct op_topology *t)
{
    struct op_topology *c = xcalloc(1, sizeof(*c));
    c->ns = xstrdup(t->ns);
    c->name = xstrdup(t->name);
    c->uid = xstrdup(t->uid);
    c->generation = t->generation;
    c->deleting = t->deleting;
    c->json = xstrdup(t->json);
    c->status = xstrdup(t->status);
    return c;
}

struct op_child *op_child_trim(const cJSON *obj)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!str_at(meta, "name"))
        return NULL;
    struct op_child *c = xcalloc(1, sizeof(*c));
    const char *uid = str_at(meta, "uid");
    snprintf(c->uid, sizeof(c->uid), "%s", uid ? uid : "");
    const cJSON *ref = op_controller_ref(obj);
    const char *rkind = str_at(ref, "kind"), *rapi = str_at(ref, "apiVersion");
    if (ref && rkind && strcmp(rkind, TOPO_KIND) == 0 && rapi &&
        strncmp(rapi, TOPO_GROUP "/", strlen(TOPO_GROUP) + 1) == 0) {
        const char *ruid = str_at(ref, "uid"), *rname = str_at(ref, "name");
        snprintf(c->owner_uid, sizeof(c->owner_uid), "%s", ruid ? ruid : "");
        c->owner_name = xstrdup(rname);
    } else if (ref) {
        /* Controlled by something else: remember that it is not ours. */
        snprintf(c->owner_uid, sizeof(c->owner_uid), "%s", "-");
    }
    c->generation = num_at(meta, "generation", NULL);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp");
    c->deleting = dt && !cJSON_IsNull(dt);
    op_digest_live(obj, c->digest);
    const char *kind = str_at(obj, "kind");
    if (kind && strcmp(kind, "Deployment") == 0) {
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
        c->spec_replicas = num_at(spec, "replicas", &c->has_spec_replicas);
        c->has_status = cJSON_IsObject(st);
        c->observed_generation = num_at(st, "observedGeneration", NULL);
        c->replicas = num_at(st, "replicas", NULL);
        c->ready_replicas = num_at(st, "readyReplicas", NULL);
        c->available_replicas = num_at(st, "availableReplicas", NULL);
        c->updated_replicas = num_at(st, "updatedReplicas", NULL);
    }
    return c;
}

void op_child_free(struct op_child *c)
{
    if (!c)
        return;
    free(c->owner_name);
    free(c);
}

/* ---- digests ---- */

static const char *const volatile_meta[] = {"resourceVersion", "generation", "managedFields",
                                            "creationTimestamp", "selfLink"};

static int skipped(int depth, const char *parent, const char *key, int live)
{
    if (!live)
        return 0;
    if (depth == 0 && strcmp(key, "status") == 0)
        return 1;
    if (depth == 1 && parent && strcmp(parent, "metadata") == 0) {
        for (size_t i = 0; i < sizeof(volatile_meta) / sizeof(volatile_meta[0]); i++)
            if (strcmp(key, volatile_meta[i]) == 0)
                return 1;
    }
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const cJSON *const *x = a, *const *y = b;
    return strcmp((*x)->string, (*y)->string);
}

static void feed(EVP_MD_CTX *md, const void *p, size_t n)
{
    EVP_DigestUpdate(md, p, n);
}

static void digest_node(EVP_MD_CTX *md, const cJSON *n, int depth, const char *parent, int live)
{
    char tag;
    if (cJSON_IsObject(n)) {
        size_t count = 0, i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, n) count++;
        const cJSON **kids = xcalloc(count ? count : 1, sizeof(*kids));
        cJSON_ArrayForEach(c, n) kids[i++] = c;
        qsort(kids, count, sizeof(*kids), key_cmp);
        feed(md, "{", 1);
        for (i = 0; i < count; i++) {
            if (skipped(depth, parent, kids[i]->string, live))
                continue;
            feed(md, kids[i]->string, strlen(kids[i]->string) + 1);
            digest_node(md, kids[i], depth + 1, kids[i]->string, live);
        }
        feed(md, "}", 1);
        free(kids);
    } else if (cJSON_IsArray(n)) {
        const cJSON *c;
        feed(md, "[", 1);
        cJSON_ArrayForEach(c, n) digest_node(md, c, depth + 1, NULL, live);
        feed(md, "]", 1);
    } else if (cJSON_IsString(n)) {
        feed(md, "s", 1);
        feed(md, n->valuestring, strlen(n->valuestring) + 1);
    } else if (cJSON_IsNumber(n)) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "n%.17g", n->valuedouble);
        feed(md, buf, (size_t)len + 1);
    } else {
        tag = cJSON_IsTrue(n) ? 't' : cJSON_IsFalse(n) ? 'f' : 'z';
        feed(md, &tag, 1);
    }
}

static void digest(const cJSON *obj, int live, unsigned char out[OP_DIGEST_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    if (obj)
        digest_node(md, obj, 0, NULL, live);
    EVP_DigestFinal_ex(md, full, &len);
    EVP_MD_CTX_free(md);
    memcpy(out, full, OP_DIGEST_LEN);
}

void op_digest_live(const cJSON *obj, unsigned char out[OP_DIGEST_LEN])
{
    digest(obj, 1, out);
}

void op_digest_all(const cJSON *obj, unsigned char out[OP_DIGEST_LEN])
{
    digest(obj, 0, out);
}
