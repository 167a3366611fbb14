#include "op_cache.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/constants.h"
#include "common/alloc.h"
#include "common/doc.h"
#include "common/hash.h"

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
    return doc_number_ll(v, 0);
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

/* ---- packed JSON ---- */

/*
 * The Topology records are most of what the cache holds, and their JSON is mostly the same
 * words: the keys of the spec (api/) and of the status the operator writes (op_status.c). JSON
 * text never holds the bytes 1 to 31 raw (cJSON escapes them), so in a packed string each of
 * them stands for one of these words. A status of three services shrinks from about 760 bytes
 * to about 230, its spec from about 280 to about 100. Packing is deterministic, so packed
 * strings compare equal exactly when the JSON does.
 */
static const char *const words[] = {
    NULL,
    /* status, in the order op_status.c writes it */
    "{\"observedGeneration\":", ",\"readyServices\":\"",
    ",\"conditions\":[{\"type\":\"Reconciled\",\"status\":\"",
    "\"},{\"type\":\"Ready\",\"status\":\"",
    "\",\"observedGeneration\":", ",\"lastTransitionTime\":\"", "\",\"reason\":\"",
    "\",\"message\":\"", "\"}],\"services\":[{\"name\":\"", "\"},{\"name\":\"",
    "\",\"replicas\":", ",\"readyReplicas\":", ",\"url\":\"http://",
    "\"}],\"collector\":{\"endpoint\":\"", ",\"configHash\":\"", " services ready", "All ",
    " objects are up to date", "True", "False", "Reconciled",
    /* spec */
    "{\"services\":[{", "\"calls\":[{\"service\":\"", "\"},{\"service\":\"",
    "\"failure\":{\"rate\":", ",\"codes\":[", "\"name\":\"", "\",\"port\":", "},{",
    "\"collector\":{"};
#define NWORDS   (sizeof(words) / sizeof(words[0]))
#define RAW_MARK '\x1f' /* the text held a byte below 32: kept as it is after this mark */

_Static_assert(NWORDS <= (unsigned char)RAW_MARK, "word codes must stay below RAW_MARK");

static char *pack(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 32) {
            char *raw = xmalloc(n + 2);
            raw[0] = RAW_MARK;
            memcpy(raw + 1, s, n + 1);
            return raw;
        }
    }
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n;) {
        size_t best = 0, blen = 0;
        for (size_t w = 1; w < NWORDS; w++) {
            size_t wl = strlen(words[w]);
            if (wl > blen && s[i] == words[w][0] && strncmp(s + i, words[w], wl) == 0) {
                best = w;
                blen = wl;
            }
        }
        if (best) {
            *o++ = (char)best;
            i += blen;
        } else {
            *o++ = s[i++];
        }
    }
    *o = '\0';
    return out;
}

static char *unpack(const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == RAW_MARK)
        return xstrdup(p + 1);
    size_t n = 0;
    for (const unsigned char *q = (const unsigned char *)p; *q; q++)
        n += *q < NWORDS ? strlen(words[*q]) : 1;
    char *out = xmalloc(n + 1), *o = out;
    for (const unsigned char *q = (const unsigned char *)p; *q; q++) {
        if (*q < NWORDS) {
            size_t wl = strlen(words[*q]);
            memcpy(o, words[*q], wl);
            o += wl;
        } else {
            *o++ = (char)*q;
        }
    }
    *o = '\0';
    return out;
}

/* One allocation holds head bytes, the record and its strings (status may be NULL). */
static struct op_topology *topology_make(size_t head, const char *ns, const char *name,
                                         const char *uid, const char *json, const char *status)
{
    size_t lns = strlen(ns) + 1, lname = strlen(name) + 1, luid = strlen(uid) + 1;
    size_t ljson = strlen(json) + 1, lstatus = status ? strlen(status) + 1 : 0;
    char *block =
        xcalloc(1, head + sizeof(struct op_topology) + lns + lname + luid + ljson + lstatus);
    struct op_topology *t = (struct op_topology *)(block + head);
    char *p = (char *)(t + 1);
    t->ns = memcpy(p, ns, lns);
    t->name = memcpy(p += lns, name, lname);
    t->uid = memcpy(p += lname, uid, luid);
    t->json = memcpy(p += luid, json, ljson);
    t->status = status ? memcpy(p + ljson, status, lstatus) : NULL;
    op_uid_set(&t->id, uid);
    return t;
}

struct op_topology *op_topology_trim(const cJSON *obj, size_t head)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *name = str_at(meta, "name");
    if (!name)
        return NULL;
    const char *ns = str_at(meta, "namespace") ? str_at(meta, "namespace") : "";
    const char *uid = str_at(meta, "uid") ? str_at(meta, "uid") : "";
    long long generation = num_at(meta, "generation", NULL);

    /* Only the spec is kept (compact): metadata is in the record's fields, and labels,
     * annotations and managedFields stay behind. */
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    char *text = spec ? cJSON_PrintUnformatted(spec) : xstrdup("");
    char *json = pack(text);
    free(text);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    text = cJSON_IsObject(st) ? cJSON_PrintUnformatted(st) : NULL;
    char *status = pack(text);
    free(text);
    struct op_topology *t = topology_make(head, ns, name, uid, json, status);
    t->packed = 1;
    t->generation = generation;
    t->deleting = cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp") != NULL &&
                  !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp"));
    free(json);
    free(status);
    return t;
}

void op_topology_free(struct op_topology *t)
{
    free(t);
}

struct op_topology *op_topology_copy(const struct op_topology *t)
{
    char *json = t->packed ? unpack(t->json) : NULL;
    char *status = t->packed ? unpack(t->status) : NULL;
    struct op_topology *c = topology_make(0, t->ns, t->name, t->uid, t->packed ? json : t->json,
                                          t->packed ? status : t->status);
    c->generation = t->generation;
    c->deleting = t->deleting;
    free(json);
    free(status);
    return c;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int op_topology_same(const struct op_topology *a, const struct op_topology *b)
{
    return a->generation == b->generation && a->deleting == b->deleting && a->packed == b->packed &&
           same_str(a->ns, b->ns) && same_str(a->name, b->name) && same_str(a->uid, b->uid) &&
           same_str(a->json, b->json) && same_str(a->status, b->status);
}

cJSON *op_topology_object(const struct op_topology *t)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "apiVersion", TOPO_API_VERSION);
    cJSON_AddStringToObject(obj, "kind", TOPO_KIND);
    cJSON *m = cJSON_AddObjectToObject(obj, "metadata");
    cJSON_AddStringToObject(m, "name", t->name);
    if (t->ns[0])
        cJSON_AddStringToObject(m, "namespace", t->ns);
    if (t->uid[0])
        cJSON_AddStringToObject(m, "uid", t->uid);
    cJSON_AddNumberToObject(m, "generation", (double)t->generation);
    char *text = t->packed ? unpack(t->json) : NULL;
    const char *json = t->packed ? text : t->json;
    cJSON *spec = json[0] ? cJSON_Parse(json) : NULL;
    if (spec)
        cJSON_AddItemToObject(obj, "spec", spec);
    free(text);
    return obj;
}

char *op_topology_status_text(const struct op_topology *t)
{
    return t->packed ? unpack(t->status) : xstrdup(t->status);
}

/* ---- uids ---- */

/* Parses the canonical lowercase UUID text (8-4-4-4-12); anything else returns 0. */
static int uuid_parse(const char *s, unsigned char out[OP_UID_LEN])
{
    size_t n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
            continue;
        }
        int hi = ho11y_hex_digit(s[i]);
        int lo = hi < 0 ? -1 : ho11y_hex_digit(s[++i]);
        if (lo < 0)
            return 0;
        out[n++] = (unsigned char)(hi << 4 | lo);
    }
    return s[36] == '\0';
}

int op_uid_set(struct op_uid *u, const char *s)
{
    memset(u->b, 0, sizeof(u->b));
    if (!s || !s[0])
        return 0;
    if (strlen(s) == 36 && uuid_parse(s, u->b))
        return 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL))
        abort();
    memcpy(u->b, md, OP_UID_LEN);
    return 0;
}

int op_uid_eq(const struct op_uid *a, const struct op_uid *b)
{
    return memcmp(a->b, b->b, OP_UID_LEN) == 0;
}

int op_uid_is_zero(const struct op_uid *u)
{
    static const struct op_uid zero;
    return op_uid_eq(u, &zero);
}

/* ---- children ---- */

/* Replica counts are int32 in the API; anything else is clamped. */
static int int_at(const cJSON *obj, const char *key, unsigned char *present)
{
    int has = 0;
    long long v = num_at(obj, key, &has);
    if (present)
        *present = (unsigned char)has;
    return v > 2147483647LL ? 2147483647 : v < -2147483647LL ? -2147483647 : (int)v;
}

static void deployment_state(const cJSON *obj, struct op_deployment_state *d)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    memset(d, 0, sizeof(*d));
    d->spec_replicas = int_at(spec, "replicas", &d->has_spec_replicas);
    d->has_status = cJSON_IsObject(st);
    d->observed = num_at(st, "observedGeneration", NULL) >= num_at(meta, "generation", NULL);
    d->replicas = int_at(st, "replicas", NULL);
    d->ready_replicas = int_at(st, "readyReplicas", NULL);
    d->available_replicas = int_at(st, "availableReplicas", NULL);
    d->updated_replicas = int_at(st, "updatedReplicas", NULL);
}

/* The owner's name (or ""), then the uid text when uid_text. */
static const char *child_names(const struct op_child *c)
{
    return (const char *)c->data + (c->deployment ? sizeof(struct op_deployment_state) : 0);
}

struct op_child *op_child_trim(const cJSON *obj, size_t head)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!str_at(meta, "name"))
        return NULL;
    const char *uid = str_at(meta, "uid");
    const cJSON *ref = op_controller_ref(obj);
    const char *rkind = str_at(ref, "kind"), *rapi = str_at(ref, "apiVersion");
    const char *rname = NULL, *ruid = NULL;
    unsigned char owner = ref ? OP_OWNER_OTHER : OP_OWNER_NONE;
    if (ref && rkind && strcmp(rkind, TOPO_KIND) == 0 && rapi &&
        strncmp(rapi, TOPO_GROUP "/", strlen(TOPO_GROUP) + 1) == 0) {
        owner = OP_OWNER_TOPOLOGY;
        rname = str_at(ref, "name");
        ruid = str_at(ref, "uid");
    }
    const char *kind = str_at(obj, "kind");
    int deployment = kind && strcmp(kind, "Deployment") == 0;
    struct op_uid u;
    int is_uuid = op_uid_set(&u, uid);
    /* A uid that is not a UUID is kept as text (at most 47 characters, as before) for requests. */
    size_t dlen = deployment ? sizeof(struct op_deployment_state) : 0;
    size_t nlen = rname ? strlen(rname) : 0;
    size_t ulen = !is_uuid && uid ? strnlen(uid, 47) : 0;
    char *block =
        xcalloc(1, head + sizeof(struct op_child) + dlen + nlen + 1 + (ulen ? ulen + 1 : 0));
    struct op_child *c = (struct op_child *)(block + head);
    c->uid = u;
    c->owner = owner;
    if (owner == OP_OWNER_TOPOLOGY)
        op_uid_set(&c->owner_uid, ruid);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(meta, "deletionTimestamp");
    c->deleting = dt && !cJSON_IsNull(dt);
    op_digest_live(obj, c->digest);
    if (deployment) {
        struct op_deployment_state d;
        deployment_state(obj, &d);
        c->deployment = 1;
        memcpy(c->data, &d, sizeof(d));
    }
    char *names = (char *)c->data + dlen;
    /* The names' terminators are the zero bytes xcalloc left. */
    if (rname)
        memcpy(names, rname, nlen); /* NOLINT(bugprone-not-null-terminated-result) */
    if (ulen) {
        c->uid_text = 1;
        memcpy(names + nlen + 1, uid, ulen);
    }
    return c;
}

/* The size of c's data. */
static size_t data_size(const struct op_child *c)
{
    const char *names = child_names(c);
    size_t n = strlen(names) + 1;
    if (c->uid_text)
        n += strlen(names + n) + 1;
    return (size_t)(names - (const char *)c->data) + n;
}

int op_child_same(const struct op_child *a, const struct op_child *b)
{
    /* Records are zeroed before they are filled, so any padding compares equal too. */
    return memcmp(a, b, sizeof(*a)) == 0 && data_size(a) == data_size(b) &&
           memcmp(a->data, b->data, data_size(a)) == 0;
}

void op_child_deployment(const struct op_child *c, struct op_deployment_state *out)
{
    if (c->deployment)
        memcpy(out, c->data, sizeof(*out));
    else
        memset(out, 0, sizeof(*out));
}

const char *op_child_owner_name(const struct op_child *c)
{
    const char *names = child_names(c);
    return c->owner == OP_OWNER_TOPOLOGY && names[0] ? names : NULL;
}

void op_child_uid_text(const struct op_child *c, char *out, size_t outlen)
{
    if (c->uid_text) {
        const char *names = child_names(c);
        snprintf(out, outlen, "%s", names + strlen(names) + 1);
        return;
    }
    if (op_uid_is_zero(&c->uid)) {
        snprintf(out, outlen, "%s", "");
        return;
    }
    const unsigned char *b = c->uid.b;
    snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int op_child_owned_by(const struct op_child *c, const struct op_uid *topo_uid)
{
    return c->owner == OP_OWNER_TOPOLOGY && op_uid_eq(&c->owner_uid, topo_uid);
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
