/*
 * Reconcile of one Topology (DESIGN §4, §5): validate; render the desired objects with api/;
 * for each, create it when missing, leave it alone when the live object already holds every
 * field we set, update it otherwise (never an object this Topology does not control); delete
 * owned leftovers; write the status only when it changed; record events at transitions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/constants.h"
#include "api/field_error.h"
#include "api/render.h"
#include "api/topology.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"
#include "common/log.h"
#include "kube/kube_util.h"
#include "op_compare.h"
#include "op_internal.h"
#include "op_status.h"

/* A conflict with an object outside our cache (it lacks the managed-by label, so no watch
 * event says when it goes away) is looked at again this often: one GET per such object. */
#define CONFLICT_RECHECK_MS 10000
/* Transient API errors are reported in the status only after this many retries. */
#define ERROR_STATUS_AFTER 3
#define MAX_TOUCHED        (TOPO_MAX_SERVICES + 4)
/* One NameConflict, as the status and the event say it; a list joins them with "; ". The text
 * is what a restarted operator recognises in the status, so it must not vary. */
#define CONFLICT_FMT "%s %s exists and is not controlled by this Topology"

struct rc {
    struct op_controller *ctl;
    struct kube_conn *conn;
    struct op_topology *topo;
    const char *key;
    unsigned created[OP_KIND_COUNT], updated[OP_KIND_COUNT], deleted[OP_KIND_COUNT];
    unsigned nchanges;
    char last_change[192];
    struct hbuf conflicts;
    char *reported; /* the conflicts known before this pass ("; "-separated), NULL none */
    int external_conflict;
    enum ho11y_err error;
    char error_msg[1024];
    long retry_after;
    const char *touched[MAX_TOUCHED]; /* Deployments written in this pass: not ready yet */
    size_t ntouched;
    int owner_checked; /* the Topology was read from the API in this pass */
    int gone;          /* ... and found deleted: stop */
};

static const char *const plural_names[OP_KIND_COUNT] = {"ServiceAccounts", "ConfigMaps", "Services",
                                                        "Deployments"};

static void note_error(struct rc *rc, enum ho11y_err err, const char *msg, long retry_after)
{
    if (rc->error)
        return;
    rc->error = err;
    snprintf(rc->error_msg, sizeof(rc->error_msg), "%s", msg);
    rc->retry_after = retry_after;
}

static void note_change(struct rc *rc, unsigned *counter, const char *verb, enum op_kind kind,
                        const char *name)
{
    counter[kind]++;
    rc->nchanges++;
    snprintf(rc->last_change, sizeof(rc->last_change), "%s %s %s", verb, op_kind_name[kind], name);
    LOG_INFO("%s %s %s/%s for topology %s", verb, op_kind_name[kind], rc->topo->ns, name, rc->key);
}

static void touch(struct rc *rc, enum op_kind kind, const char *name)
{
    if (kind == OP_KIND_DEPLOYMENT && rc->ntouched < MAX_TOUCHED)
        rc->touched[rc->ntouched++] = name;
}

static int touched(const struct rc *rc, const char *name)
{
    for (size_t i = 0; i < rc->ntouched; i++)
        if (strcmp(rc->touched[i], name) == 0)
            return 1;
    return 0;
}

/* ---- children ---- */

struct child_copy {
    struct op_child *rec; /* the fixed part */
    struct op_deployment_state *dep;
    int found;
};

static int copy_child(void *ud, const void *rec)
{
    struct child_copy *c = ud;
    *c->rec = *(const struct op_child *)rec;
    if (c->dep)
        op_child_deployment(rec, c->dep);
    c->found = 1;
    return 0;
}

/* Copies the fixed part of the cached record of child name into out, and its Deployment state
 * into dep (may be NULL). */
static int lookup_child(struct rc *rc, enum op_kind kind, const char *name, struct op_child *out,
                        struct op_deployment_state *dep)
{
    char key[512];
    struct child_copy c = {out, dep, 0};
    snprintf(key, sizeof(key), "%s/%s", rc->topo->ns, name);
    kube_informer_get(rc->ctl->children[kind], key, copy_child, &c);
    return c.found;
}

static const char *json_str(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_conflict(struct rc *rc, enum op_kind kind, const char *name, const char *ck,
                         int external)
{
    if (rc->conflicts.len)
        hbuf_adds(&rc->conflicts, "; ");
    hbuf_addf(&rc->conflicts, CONFLICT_FMT, op_kind_name[kind], name);
    op__conflict_add(rc->ctl, ck, rc->key);
    if (external)
        rc->external_conflict = 1;
}

static enum ho11y_err request(struct rc *rc, struct kube_req *req, struct kube_resp *resp,
                              cJSON **out)
{
    char err[1024];
    if (out)
        *out = NULL;
    enum ho11y_err r = kube_conn_do(rc->conn, req, resp, err, sizeof(err));
    if (r) {
        if (r != HO11Y_NOTFOUND && r != HO11Y_EXISTS && r != HO11Y_CANCELLED)
            LOG_WARN("Request for topology %s failed: %s", rc->key, err);
        if (r != HO11Y_NOTFOUND && r != HO11Y_EXISTS)
            note_error(rc, r, err, resp->status.retry_after);
        return r;
    }
    if (out) {
        *out = cJSON_ParseWithLength(resp->body, resp->body_len);
        if (!*out) {
            snprintf(err, sizeof(err), "%s: unreadable answer from the API server", req->verb);
            note_error(rc, HO11Y_PARSE, err, 0);
            return HO11Y_PARSE;
        }
    }
    return HO11Y_OK;
}

static void ensure_live(struct rc *rc, enum op_kind kind, const cJSON *d,
                        const unsigned char hd[OP_DIGEST_LEN], const char *ck, int may_create);

/* Whether the cached status says this generation was reconciled before. */
static int generation_seen(const struct op_topology *t)
{
    cJSON *st = t->status ? cJSON_Parse(t->status) : NULL;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(st, "observedGeneration");
    int seen = cJSON_IsNumber(g) && doc_number_ll(g, 0) == t->generation;
    cJSON_Delete(st);
    return seen;
}

/*
 * Whether the Topology still exists, before a child of a generation reconciled earlier is
 * created again. When a Topology is deleted, the garbage collector deletes its children; their
 * watch events can reach us before the Topology's own, and the cache would then have us create
 * the children again (for the collector to delete once more). A child missing at a generation
 * we already reconciled is that case or drift, both rare, so one GET settles it; a first
 * creation needs none.
 */
static int owner_alive(struct rc *rc)
{
    if (rc->owner_checked)
        return !rc->gone;
    if (!generation_seen(rc->topo))
        return 1;
    rc->owner_checked = 1;
    struct kube_req req = {
        .verb = "GET", .res = &kube_res_topologies, .ns = rc->topo->ns, .name = rc->topo->name};
    struct kube_resp resp;
    cJSON *live = NULL;
    enum ho11y_err r = request(rc, &req, &resp, &live);
    if (r == HO11Y_OK) {
        const char *uid = json_str(live, "metadata", "uid");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(live, "metadata"), "deletionTimestamp");
        rc->gone = !uid || strcmp(uid, rc->topo->uid) != 0 || (dt && !cJSON_IsNull(dt));
    } else {
        rc->gone = 1; /* not found; or the error is noted: retried with backoff */
    }
    if (rc->gone && r != HO11Y_NOTFOUND && r != HO11Y_OK)
        LOG_DEBUG("Topology %s could not be confirmed before a create", rc->key);
    else if (rc->gone)
        LOG_INFO("Topology %s is gone; its children are left to the garbage collector", rc->key);
    cJSON_Delete(live);
    return !rc->gone;
}

static void create_child(struct rc *rc, enum op_kind kind, const cJSON *d,
                         const unsigned char hd[OP_DIGEST_LEN], const char *ck, int may_retry)
{
    const char *name = json_str(d, "metadata", "name");
    if (!owner_alive(rc))
        return;
    char *body = cJSON_PrintUnformatted(d);
    struct kube_req req = {.verb = "POST",
                           .res = op_kind_resource[kind],
                           .ns = rc->topo->ns,
                           .body = body,
                           .body_len = strlen(body)};
    struct kube_resp resp;
    cJSON *live = NULL;
    enum ho11y_err r = request(rc, &req, &resp, &live);
    free(body);
    if (r == HO11Y_EXISTS && may_retry) {
        /* Someone else's object, or ours not yet in the cache: look at it. */
        ensure_live(rc, kind, d, hd, ck, 0);
        return;
    }
    if (r == HO11Y_EXISTS) {
        /* Gone when read, there again at the create: whose it is now is for the next pass to
         * find out, which the error makes happen (request() records nothing for a 409). */
        note_error(rc, HO11Y_CONFLICT, "the name was taken again while it was being created", 0);
        return;
    }
    if (r)
        return;
    unsigned char dl[OP_DIGEST_LEN];
    op_digest_live(live, dl);
    op__verified_put(rc->ctl, rc->topo, rc->key, ck, json_str(live, "metadata", "uid"), dl, hd, 0);
    note_change(rc, rc->created, "Created", kind, name);
    touch(rc, kind, name);
    cJSON_Delete(live);
}

static int selectors_differ(const cJSON *d, const cJSON *live)
{
    const cJSON *ds =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "spec"), "selector");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(live, "spec"), "selector");
    return ds && ls && !cJSON_Compare(ds, ls, 1);
}

static void delete_object(struct rc *rc, enum op_kind kind, const char *name, const char *uid,
                          const char *ck)
{
    char *body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":"
                           "{\"uid\":\"%s\"},\"propagationPolicy\":\"Background\"}",
                           uid);
    struct kube_req req = {.verb = "DELETE",
                           .res = op_kind_resource[kind],
                           .ns = rc->topo->ns,
                           .name = name,
                           .body = body,
                           .body_len = strlen(body)};
    struct kube_resp resp;
    enum ho11y_err r = request(rc, &req, &resp, NULL);
    free(body);
    if (r == HO11Y_OK || r == HO11Y_NOTFOUND) {
        op__verified_put(rc->ctl, rc->topo, rc->key, ck, uid, NULL, NULL, 1);
        if (r == HO11Y_OK)
            note_change(rc, rc->deleted, "Deleted", kind, name);
    }
}

static void update_child(struct rc *rc, enum op_kind kind, const cJSON *d,
                         const unsigned char hd[OP_DIGEST_LEN], const char *ck, const cJSON *live,
                         const char *diff)
{
    const char *name = json_str(d, "metadata", "name");
    const char *uid = json_str(live, "metadata", "uid");
    if (kind == OP_KIND_DEPLOYMENT && selectors_differ(d, live)) {
        /* The selector is immutable: delete, and the next pass creates it again. */
        LOG_INFO("Deployment %s/%s has a foreign selector; recreating it", rc->topo->ns, name);
        delete_object(rc, kind, name, uid ? uid : "", ck);
        note_error(rc, HO11Y_CONFLICT, "recreating a Deployment whose selector changed", 0);
        return;
    }
    cJSON *merged = op_merge_for_update(live, d);
    char *body = cJSON_PrintUnformatted(merged);
    cJSON_Delete(merged);
    struct kube_req req = {.verb = "PUT",
                           .res = op_kind_resource[kind],
                           .ns = rc->topo->ns,
                           .name = name,
                           .body = body,
                           .body_len = strlen(body)};
    struct kube_resp resp;
    cJSON *out = NULL;
    enum ho11y_err r = request(rc, &req, &resp, &out);
    free(body);
    if (r)
        return;
    unsigned char dl[OP_DIGEST_LEN];
    op_digest_live(out, dl);
    op__verified_put(rc->ctl, rc->topo, rc->key, ck, json_str(out, "metadata", "uid"), dl, hd, 0);
    LOG_DEBUG("%s %s/%s differed at %s", op_kind_name[kind], rc->topo->ns, name, diff);
    note_change(rc, rc->updated, "Updated", kind, name);
    touch(rc, kind, name);
    cJSON_Delete(out);
}

/* Reads the live object and makes it hold the desired fields (or reports a conflict). */
static void ensure_live(struct rc *rc, enum op_kind kind, const cJSON *d,
                        const unsigned char hd[OP_DIGEST_LEN], const char *ck, int may_create)
{
    const char *name = json_str(d, "metadata", "name");
    struct kube_req req = {
        .verb = "GET", .res = op_kind_resource[kind], .ns = rc->topo->ns, .name = name};
    struct kube_resp resp;
    cJSON *live = NULL;
    enum ho11y_err r = request(rc, &req, &resp, &live);
    if (r == HO11Y_NOTFOUND) {
        if (may_create)
            create_child(rc, kind, d, hd, ck, 0);
        return;
    }
    if (r)
        return;
    const cJSON *ref = op_controller_ref(live);
    const char *ruid = ref ? json_str(ref, "uid", NULL) : NULL;
    if (!ruid || strcmp(ruid, rc->topo->uid) != 0) {
        struct op_child tmp;
        add_conflict(rc, kind, name, ck, !lookup_child(rc, kind, name, &tmp, NULL));
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(live, "metadata"),
                                         "deletionTimestamp")) {
        note_error(rc, HO11Y_CONFLICT, "waiting for a deleted object to go away", 0);
        goto out;
    }
    char diff[512];
    if (op_subset(d, live, diff, sizeof(diff))) {
        unsigned char dl[OP_DIGEST_LEN];
        op_digest_live(live, dl);
        op__verified_put(rc->ctl, rc->topo, rc->key, ck, json_str(live, "metadata", "uid"), dl, hd,
                         0);
        goto out;
    }
    update_child(rc, kind, d, hd, ck, live, diff);
out:
    cJSON_Delete(live);
}

/* Whether the conflicts known before this pass name the object. */
static int conflict_reported(const struct rc *rc, enum op_kind kind, const char *name)
{
    char entry[512];
    const char *list = rc->reported;
    int n = snprintf(entry, sizeof(entry), CONFLICT_FMT, op_kind_name[kind], name);
    if (!list || n < 0 || (size_t)n >= sizeof(entry))
        return 0;
    for (const char *p = list; (p = strstr(p, entry)) != NULL; p += n)
        if ((p == list || (p - list >= 2 && p[-2] == ';' && p[-1] == ' ')) &&
            (p[n] == '\0' || p[n] == ';'))
            return 1;
    return 0;
}

static void apply_object(struct rc *rc, const cJSON *d)
{
    const char *kind_s = json_str(d, "kind", NULL), *name = json_str(d, "metadata", "name");
    int kind = op_kind_of(kind_s);
    if (kind < 0 || !name) {
        LOG_ERROR("Rendered object of kind %s is not managed by the operator",
                  kind_s ? kind_s : "(none)");
        return;
    }
    char ck[512];
    unsigned char hd[OP_DIGEST_LEN];
    struct op_child live;
    struct op_verified v;
    op_child_key(ck, sizeof(ck), (enum op_kind)kind, rc->topo->ns, name);
    op_digest_all(d, hd);
    int have_v = op__verified_get(rc->ctl, rc->key, ck, &v) && !v.deleted;
    if (lookup_child(rc, (enum op_kind)kind, name, &live, NULL)) {
        if (!op_child_owned_by(&live, &rc->topo->id)) {
            add_conflict(rc, (enum op_kind)kind, name, ck, 0);
            return;
        }
        if (live.deleting) {
            note_error(rc, HO11Y_CONFLICT, "waiting for a deleted object to go away", 0);
            return;
        }
        if (have_v && op__verified_uid_is(&v, &live.uid) &&
            memcmp(v.live, live.digest, OP_DIGEST_LEN) == 0 &&
            memcmp(v.desired, hd, OP_DIGEST_LEN) == 0)
            return; /* verified before and unchanged since */
        ensure_live(rc, (enum op_kind)kind, d, hd, ck, 1);
        return;
    }
    if (have_v && memcmp(v.desired, hd, OP_DIGEST_LEN) == 0)
        return; /* created or verified by us; the cache has not caught up yet */
    /* A name known to be taken (by this process, or by the status after a restart) by an
     * object outside the cache is read, not created: the create would be a write refused with
     * 409, followed by the same GET to tell whose the object is. The report alone is not
     * trusted: no watch tells whether the object went meanwhile, one GET does. */
    if (have_v || conflict_reported(rc, (enum op_kind)kind, name))
        ensure_live(rc, (enum op_kind)kind, d, hd, ck, 1);
    else
        create_child(rc, (enum op_kind)kind, d, hd, ck, 1);
}

struct leftover {
    enum op_kind kind;
    char name[256];
    char uid[48];
};

struct leftover_ctx {
    const char *ns;
    const struct op_uid *uid;
    const cJSON *objects;
    enum op_kind kind;
    struct leftover *items;
    size_t n, cap;
};

static int desired_has(const cJSON *objects, enum op_kind kind, const char *name)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, objects)
    {
        const char *k = json_str(o, "kind", NULL), *n = json_str(o, "metadata", "name");
        if (k && n && op_kind_of(k) == (int)kind && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

static int find_leftover(void *ud, const char *key, const void *rec)
{
    struct leftover_ctx *lc = ud;
    const struct op_child *c = rec;
    size_t nslen = strlen(lc->ns);
    if (!op_child_owned_by(c, lc->uid) || strncmp(key, lc->ns, nslen) != 0 || key[nslen] != '/' ||
        c->deleting)
        return 0;
    const char *name = key + nslen + 1;
    if (desired_has(lc->objects, lc->kind, name))
        return 0;
    if (lc->n == lc->cap) {
        lc->cap = lc->cap ? lc->cap * 2 : 8;
        lc->items = xrealloc(lc->items, lc->cap * sizeof(*lc->items));
    }
    struct leftover *l = &lc->items[lc->n++];
    l->kind = lc->kind;
    snprintf(l->name, sizeof(l->name), "%s", name);
    op_child_uid_text(c, l->uid, sizeof(l->uid));
    return 0;
}

static void delete_leftovers(struct rc *rc, const cJSON *objects)
{
    struct leftover_ctx lc = {rc->topo->ns, &rc->topo->id, objects, 0, NULL, 0, 0};
    for (int k = 0; k < OP_KIND_COUNT; k++) {
        lc.kind = (enum op_kind)k;
        kube_informer_foreach(rc->ctl->children[k], find_leftover, &lc);
    }
    for (size_t i = 0; i < lc.n; i++) {
        char ck[512];
        struct op_verified v;
        op_child_key(ck, sizeof(ck), lc.items[i].kind, rc->topo->ns, lc.items[i].name);
        struct op_uid u;
        op_uid_set(&u, lc.items[i].uid);
        if (op__verified_get(rc->ctl, rc->key, ck, &v) && v.deleted && op__verified_uid_is(&v, &u))
            continue; /* deleted already; the cache has not caught up yet */
        delete_object(rc, lc.items[i].kind, lc.items[i].name, lc.items[i].uid, ck);
    }
    free(lc.items);
}

/* ---- status ---- */

static int deployment_ready(const struct op_deployment_state *c)
{
    long long want = c->has_spec_replicas ? c->spec_replicas : 1;
    return c->has_status && c->observed && c->updated_replicas >= want &&
           c->available_replicas >= want && c->replicas == c->updated_replicas;
}

struct readiness {
    struct op_service_status *svcs;
    size_t nsvcs, nready;
    int all_ready;
    struct hbuf waiting;
    char *urls[TOPO_MAX_SERVICES];
    int collector_ready;
    long long collector_ready_replicas;
    int collector_seen;
};

static void check_deployment(struct rc *rc, struct readiness *rd, const char *name, int *ready,
                             long long *replicas, long long *ready_replicas)
{
    struct op_child c;
    struct op_deployment_state d = {0};
    int found = lookup_child(rc, OP_KIND_DEPLOYMENT, name, &c, &d);
    int ok =
        found && !touched(rc, name) && op_child_owned_by(&c, &rc->topo->id) && deployment_ready(&d);
    if (replicas)
        *replicas = found && d.has_spec_replicas ? d.spec_replicas : 1;
    if (ready_replicas)
        *ready_replicas = found ? d.ready_replicas : 0;
    if (ready)
        *ready = ok;
    if (!ok) {
        rd->all_ready = 0;
        if (rd->waiting.len)
            hbuf_adds(&rd->waiting, ", ");
        hbuf_adds(&rd->waiting, name);
    }
}

static void readiness_compute(struct rc *rc, const struct topology *t, struct readiness *rd)
{
    memset(rd, 0, sizeof(*rd));
    rd->all_ready = 1;
    hbuf_init(&rd->waiting, 8192);
    rd->nsvcs = t->nservices;
    rd->svcs = xcalloc(t->nservices ? t->nservices : 1, sizeof(*rd->svcs));
    for (size_t i = 0; i < t->nservices; i++) {
        struct op_service_status *s = &rd->svcs[i];
        s->name = t->services[i].name;
        rd->urls[i] = topo_service_url(&t->services[i]);
        s->url = rd->urls[i];
        check_deployment(rc, rd, s->name, &s->ready, &s->replicas, &s->ready_replicas);
        /* Replicas the spec sets are enforced, so they are what the Deployment will have even
         * before the cache shows it; unset ones are the live count (an autoscaler's), or the
         * API's default of 1 until the Deployment is seen (check_deployment). */
        if (t->services[i].replicas.set)
            s->replicas = t->services[i].replicas.value;
        rd->nready += s->ready ? 1 : 0;
    }
    if (topo_collector_mode(t) == TOPO_COLLECTOR_MANAGED) {
        char *name = xasprintf("%s%s", t->name, TOPO_COLLECTOR_SUFFIX);
        check_deployment(rc, rd, name, &rd->collector_ready, NULL, &rd->collector_ready_replicas);
        rd->collector_seen = 1;
        free(name);
    }
    if (t->load.set) {
        char *name = xasprintf("%s%s", t->name, TOPO_LOAD_SUFFIX);
        check_deployment(rc, rd, name, NULL, NULL, NULL);
        free(name);
    }
}

static void readiness_cleanup(struct readiness *rd)
{
    for (size_t i = 0; i < rd->nsvcs && i < TOPO_MAX_SERVICES; i++)
        free(rd->urls[i]);
    free(rd->svcs);
    hbuf_cleanup(&rd->waiting);
}

/*
 * Status writes are coalesced. The design's budget while a Topology is created is two writes:
 * one when it is reconciled and one when it is Ready. Between the two, the Deployments become
 * available one by one, each a watch event; writing readyServices 1/3, 2/3 on every one of them
 * would cost a write per service and a watch event per write for every client of Topologies.
 * So a change that only reports progress (readyServices, readyReplicas, the Ready message; the
 * conditions' status, reasons and everything else unchanged) is written at most once per
 * PROGRESS_WRITE_INTERVAL_MS per Topology; the reconcile is requeued for the end of the
 * interval so the latest progress is still written. Every transition (a condition's status or
 * reason, observedGeneration, the services listed, the collector's hash) is written at once.
 */
#define PROGRESS_WRITE_INTERVAL_MS 2000
/*
 * Our own status write normally comes back through the watch within milliseconds. Until the
 * cache shows it, a status built from the cache would carry stale lastTransitionTimes and could
 * compare equal to an outdated status, so the write waits for the cache (in short steps), for
 * at most STATUS_ECHO_WAIT_MS (after that the cache is taken as it is: someone else wrote).
 */
#define STATUS_ECHO_WAIT_MS  2000
#define STATUS_ECHO_RETRY_MS 50

/* Marks (on) or clears the status write of Topology key as postponed (see op_controller_stop). */
static void set_status_postponed(struct op_controller *ctl, const struct op_topology *t,
                                 const char *key, int on)
{
    pthread_mutex_lock(&ctl->state_lock);
    op__state_get(ctl, t, key)->status_postponed = on;
    pthread_mutex_unlock(&ctl->state_lock);
}

/*
 * Writes the status when it differs from the current one (and from what this process wrote
 * last). *became_ready tells whether Ready turned True. When the write is postponed (see
 * above), *defer_ms says when to look again (0 otherwise).
 */
static enum ho11y_err write_status(struct rc *rc, const struct op_status_input *in,
                                   int *became_ready, int64_t *defer_ms)
{
    char now[32], err[1024];
    enum ho11y_err result = HO11Y_OK;
    cJSON *old = rc->topo->status ? cJSON_Parse(rc->topo->status) : NULL;
    kube_time_format(time(NULL), now, sizeof(now));
    cJSON *st = op_status_build(in, old, now);
    cJSON *skel = op_status_skeleton(st);
    unsigned char d[OP_DIGEST_LEN], sk[OP_DIGEST_LEN], od[OP_DIGEST_LEN];
    op_digest_all(st, d);
    op_digest_all(skel, sk);
    op_digest_all(old, od);
    cJSON_Delete(skel);
    int was_ready = 0, already = 0, progress = 0;
    int64_t now_ms = kube_now_ms(), wait = 0;
    op_status_condition(old, "Ready", &was_ready, NULL);
    *defer_ms = 0;
    if (became_ready)
        *became_ready = 0;
    pthread_mutex_lock(&rc->ctl->state_lock);
    struct op_topo_state *s = op__state_get(rc->ctl, rc->topo, rc->key);
    int64_t since = now_ms - s->status_written_ms;
    if (s->status_written && memcmp(s->status_digest, d, OP_DIGEST_LEN) == 0)
        already = 1;
    else if (s->status_written && memcmp(s->status_digest, od, OP_DIGEST_LEN) != 0 &&
             since < STATUS_ECHO_WAIT_MS)
        wait = STATUS_ECHO_RETRY_MS;
    else if (s->status_written && memcmp(s->status_skeleton, sk, OP_DIGEST_LEN) == 0 &&
             since < PROGRESS_WRITE_INTERVAL_MS && !atomic_load(&rc->ctl->flushing)) {
        wait = PROGRESS_WRITE_INTERVAL_MS - since;
        progress = 1;
    }
    /* A stopping operator writes what still waits for its interval (op_controller_stop); the
     * mark goes once the status is written or found to need no write. */
    if (progress)
        s->status_postponed = 1;
    pthread_mutex_unlock(&rc->ctl->state_lock);
    if (already || op_status_equal(st, old)) {
        set_status_postponed(rc->ctl, rc->topo, rc->key, 0);
        goto out;
    }
    if (wait > 0) {
        if (progress)
            LOG_DEBUG("Progress of topology %s postponed by %lld ms (written at most every %d ms)",
                      rc->key, (long long)wait, PROGRESS_WRITE_INTERVAL_MS);
        else
            LOG_DEBUG("Status of topology %s waits %lld ms for the cache to show the last write",
                      rc->key, (long long)wait);
        *defer_ms = wait;
        goto out;
    }
    char *body = op_status_patch(st, old);
    struct kube_req req = {.verb = "PATCH",
                           .res = &kube_res_topologies,
                           .ns = rc->topo->ns,
                           .name = rc->topo->name,
                           .sub = "status",
                           .body = body,
                           .body_len = strlen(body),
                           .content_type = "application/merge-patch+json"};
    struct kube_resp resp;
    result = kube_conn_do(rc->conn, &req, &resp, err, sizeof(err));
    free(body);
    if (result == HO11Y_NOTFOUND) {
        result = HO11Y_OK; /* deleted meanwhile: forget_topology drops its state */
        goto out;
    }
    if (result) {
        if (result != HO11Y_CANCELLED)
            LOG_WARN("Status of topology %s not written: %s", rc->key, err);
        note_error(rc, result, err, resp.status.retry_after);
        goto out;
    }
    pthread_mutex_lock(&rc->ctl->state_lock);
    s = op__state_get(rc->ctl, rc->topo, rc->key);
    s->status_written = 1;
    memcpy(s->status_digest, d, OP_DIGEST_LEN);
    memcpy(s->status_skeleton, sk, OP_DIGEST_LEN);
    s->status_written_ms = kube_now_ms();
    s->status_postponed = 0;
    pthread_mutex_unlock(&rc->ctl->state_lock);
    if (became_ready)
        *became_ready = in->ready.status && !was_ready;
out:
    cJSON_Delete(st);
    cJSON_Delete(old);
    return result;
}

static void event(struct rc *rc, const char *type, const char *reason, const char *message)
{
    op_events_record(rc->ctl->events, rc->conn, rc->topo, type, reason, message);
}

static void summary(const struct rc *rc, struct hbuf *out)
{
    if (rc->nchanges == 1) {
        hbuf_adds(out, rc->last_change);
        return;
    }
    const unsigned *counts[3] = {rc->created, rc->updated, rc->deleted};
    const char *const verbs[3] = {"created", "updated", "deleted"};
    for (int g = 0; g < 3; g++) {
        int first = 1;
        for (int k = OP_KIND_COUNT - 1; k >= 0; k--) {
            unsigned n = counts[g][k];
            if (!n)
                continue;
            if (first)
                hbuf_addf(out, "%s%s ", out->len ? "; " : "", verbs[g]);
            else
                hbuf_adds(out, ", ");
            first = 0;
            /* "1 ConfigMap", "3 ConfigMaps" */
            hbuf_addf(out, "%u %.*s", n, (int)(strlen(plural_names[k]) - (n == 1 ? 1 : 0)),
                      plural_names[k]);
        }
    }
    if (out->len && out->data[0] >= 'a' && out->data[0] <= 'z')
        out->data[0] = (char)(out->data[0] - 'a' + 'A');
}

/*
 * Whether the status (compact JSON, may be NULL) already reports msg as InvalidSpec for
 * generation: then the Warning event for this generation was sent, perhaps by an earlier run of
 * the operator, and is not sent again.
 */
static int status_reports_invalid(const char *status, long long generation, const char *msg)
{
    cJSON *st = status ? cJSON_Parse(status) : NULL;
    const cJSON *c = op_status_find_condition(st, "Reconciled");
    const char *reason = json_str(c, "reason", NULL), *message = json_str(c, "message", NULL);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(c, "observedGeneration");
    int found = reason && strcmp(reason, OP_REASON_INVALID_SPEC) == 0 && message &&
                strcmp(message, msg) == 0 && cJSON_IsNumber(g) && doc_number_ll(g, 0) == generation;
    cJSON_Delete(st);
    return found;
}

/*
 * An invalid spec: nothing is created, changed or deleted; the status says why (every error),
 * and one Warning event per generation. The event goes first, so that a failure to record it
 * is retried; once the status shows the error, a retry or a restarted operator knows it was
 * reported.
 */
static enum op_result invalid(struct rc *rc, const char *msg, int64_t *after_ms)
{
    int64_t defer = 0;
    struct op_status_input in = {
        .generation = rc->topo->generation,
        .reconciled = {0, OP_REASON_INVALID_SPEC, msg},
        .ready = {0, OP_REASON_INVALID_SPEC, "The spec is invalid: nothing was changed"},
    };
    pthread_mutex_lock(&rc->ctl->state_lock);
    struct op_topo_state *s = op__state_get(rc->ctl, rc->topo, rc->key);
    int report = s->invalid_generation != rc->topo->generation;
    s->error_reported = 0; /* a run of API failures ends with the spec that met them */
    pthread_mutex_unlock(&rc->ctl->state_lock);
    /* Logged once per generation, like the event. */
    if (report)
        LOG_WARN("Topology %s is invalid: %s", rc->key, msg);
    else
        LOG_DEBUG("Topology %s is still invalid", rc->key);
    if (report && !status_reports_invalid(rc->topo->status, rc->topo->generation, msg)) {
        enum ho11y_err r = op_events_record(rc->ctl->events, rc->conn, rc->topo, "Warning",
                                            OP_REASON_INVALID_SPEC, msg);
        if (r) {
            note_error(rc, r, "the InvalidSpec event was not recorded", 0);
            return OP_RESULT_ERROR;
        }
    }
    if (report) {
        pthread_mutex_lock(&rc->ctl->state_lock);
        op__state_get(rc->ctl, rc->topo, rc->key)->invalid_generation = rc->topo->generation;
        pthread_mutex_unlock(&rc->ctl->state_lock);
    }
    if (write_status(rc, &in, NULL, &defer))
        return OP_RESULT_ERROR;
    if (defer > 0) {
        *after_ms = defer;
        return OP_RESULT_REQUEUE_AFTER;
    }
    return OP_RESULT_SUCCESS;
}

static void forget_topology(struct op_controller *ctl, const char *key)
{
    struct op_uid uid = {{0}};
    pthread_mutex_lock(&ctl->state_lock);
    struct op_topo_state *s = kube_map_del(&ctl->states, key);
    int known = s != NULL;
    if (known)
        uid = s->uid;
    op__state_free(s);
    pthread_mutex_unlock(&ctl->state_lock);
    op__conflict_clear(ctl, key);
    if (known)
        op_events_forget(ctl->events, &uid);
}

static int copy_topology(void *ud, const void *rec)
{
    *(struct op_topology **)ud = op_topology_copy(rec);
    return 0;
}

/*
 * The conflicts known before this pass (caller frees; NULL none): those this process reported
 * last, and those the cached status reports, which is all a restarted operator knows of them.
 */
static char *known_conflicts(struct rc *rc)
{
    char *mine = NULL, *known = NULL;
    pthread_mutex_lock(&rc->ctl->state_lock);
    struct op_topo_state *s = op__state_get(rc->ctl, rc->topo, rc->key);
    mine = xstrdup(s->conflicts);
    pthread_mutex_unlock(&rc->ctl->state_lock);
    /* Most statuses report no conflict: those are not parsed. */
    const char *text = rc->topo->status;
    cJSON *st = text && strstr(text, "\"" OP_REASON_NAME_CONFLICT "\"") ? cJSON_Parse(text) : NULL;
    const cJSON *c = op_status_find_condition(st, "Reconciled");
    const char *reason = json_str(c, "reason", NULL);
    const char *in_status = reason && strcmp(reason, OP_REASON_NAME_CONFLICT) == 0
                                ? json_str(c, "message", NULL)
                                : NULL;
    if (mine && in_status)
        known = xasprintf("%s; %s", mine, in_status);
    else
        known = xstrdup(mine ? mine : in_status);
    cJSON_Delete(st);
    free(mine);
    return known;
}

/* The NameConflict event is sent when the set of conflicts changes. */
static void report_conflicts(struct rc *rc)
{
    const char *now = rc->conflicts.len ? hbuf_str(&rc->conflicts) : NULL;
    pthread_mutex_lock(&rc->ctl->state_lock);
    struct op_topo_state *s = op__state_get(rc->ctl, rc->topo, rc->key);
    int changed =
        (now == NULL) != (s->conflicts == NULL) || (now && strcmp(now, s->conflicts) != 0);
    s->external_conflict = rc->external_conflict;
    pthread_mutex_unlock(&rc->ctl->state_lock);
    if (!changed)
        return;
    if (now) {
        LOG_WARN("Topology %s: %s", rc->key, now);
        event(rc, "Warning", OP_REASON_NAME_CONFLICT, now);
    }
    pthread_mutex_lock(&rc->ctl->state_lock);
    s = op__state_get(rc->ctl, rc->topo, rc->key);
    free(s->conflicts);
    s->conflicts = xstrdup(now);
    pthread_mutex_unlock(&rc->ctl->state_lock);
}

/*
 * An error that outlasted its retries (the status now says ApiError) is a Warning event, once
 * for each run of failures: the retries that follow, with whatever errors they meet, add none
 * (unless the event itself could not be sent), and the next successful reconcile ends the run.
 */
static void report_error(struct rc *rc)
{
    pthread_mutex_lock(&rc->ctl->state_lock);
    struct op_topo_state *s = op__state_get(rc->ctl, rc->topo, rc->key);
    int send = rc->error && !s->error_reported;
    s->error_reported = rc->error != HO11Y_OK;
    pthread_mutex_unlock(&rc->ctl->state_lock);
    if (!send || op_events_record(rc->ctl->events, rc->conn, rc->topo, "Warning",
                                  OP_REASON_API_ERROR, rc->error_msg) == HO11Y_OK)
        return;
    /* Not sent (the API is likely what fails): the next failing retry sends it. */
    pthread_mutex_lock(&rc->ctl->state_lock);
    op__state_get(rc->ctl, rc->topo, rc->key)->error_reported = 0;
    pthread_mutex_unlock(&rc->ctl->state_lock);
}

static enum op_result finish(struct rc *rc, const struct topology *t, const cJSON *objects,
                             int64_t *after_ms)
{
    struct readiness rd;
    struct hbuf msg, rmsg;
    hbuf_init(&msg, 64 * 1024);
    hbuf_init(&rmsg, 64 * 1024);
    readiness_compute(rc, t, &rd);
    unsigned requeues = kube_queue_num_requeues(rc->ctl->queue, rc->key);
    int transient = rc->error && rc->error != HO11Y_CANCELLED && requeues < ERROR_STATUS_AFTER;

    struct op_status_input in = {
        .generation = rc->topo->generation, .services = rd.svcs, .nservices = rd.nsvcs};
    char *grpc = NULL, *config = NULL, hash[65];
    topo_collector_endpoints(t, &grpc, NULL);
    in.has_collector = 1;
    in.collector_endpoint = grpc;
    if (rd.collector_seen) {
        config = topo_collector_config(t);
        topo_config_hash(config, hash);
        in.collector_has_ready = 1;
        in.collector_ready_replicas = rd.collector_ready_replicas;
        in.collector_config_hash = hash;
    }
    int nobjects = cJSON_GetArraySize(objects);
    if (rc->conflicts.len) {
        in.reconciled = (struct op_condition){0, OP_REASON_NAME_CONFLICT, hbuf_str(&rc->conflicts)};
        in.ready = (struct op_condition){0, OP_REASON_NAME_CONFLICT,
                                         "Some objects cannot be created; see Reconciled"};
    } else {
        if (rc->error)
            in.reconciled = (struct op_condition){0, OP_REASON_API_ERROR, rc->error_msg};
        else {
            hbuf_addf(&msg, "All %d objects are up to date", nobjects);
            in.reconciled = (struct op_condition){1, OP_REASON_RECONCILED, hbuf_str(&msg)};
        }
        if (rd.all_ready) {
            hbuf_addf(&rmsg, "%zu/%zu services ready", rd.nready, rd.nsvcs);
            in.ready = (struct op_condition){1, OP_REASON_READY, hbuf_str(&rmsg)};
        } else {
            hbuf_addf(&rmsg, "%zu/%zu services ready; waiting for %s", rd.nready, rd.nsvcs,
                      hbuf_str(&rd.waiting));
            in.ready = (struct op_condition){0, OP_REASON_PROGRESSING, hbuf_str(&rmsg)};
        }
    }
    int became_ready = 0;
    int64_t defer = 0;
    if (!transient && rc->error != HO11Y_CANCELLED)
        write_status(rc, &in, &became_ready, &defer);
    if (rc->nchanges) {
        struct hbuf s;
        hbuf_init(&s, 4096);
        summary(rc, &s);
        event(rc, "Normal", OP_REASON_RECONCILED, hbuf_str(&s));
        hbuf_cleanup(&s);
    }
    if (rc->error != HO11Y_CANCELLED)
        report_conflicts(rc);
    if (!transient && rc->error != HO11Y_CANCELLED)
        report_error(rc);
    if (became_ready)
        event(rc, "Normal", OP_REASON_READY, hbuf_str(&rmsg));
    free(grpc);
    free(config);
    readiness_cleanup(&rd);
    hbuf_cleanup(&msg);
    hbuf_cleanup(&rmsg);
    if (rc->error) {
        /* The worker backs off at least as long as the server asked (Retry-After). */
        *after_ms = rc->retry_after > 0 ? rc->retry_after * 1000 : 0;
        return OP_RESULT_ERROR;
    }
    if (rc->external_conflict || defer > 0) {
        *after_ms = rc->external_conflict ? CONFLICT_RECHECK_MS : defer;
        if (defer > 0 && defer < *after_ms)
            *after_ms = defer;
        return OP_RESULT_REQUEUE_AFTER;
    }
    return OP_RESULT_SUCCESS;
}

/*
 * Every line logged while this thread reconciles key (here or in the layers below, such as the
 * Kubernetes client) carries the controller, the Topology's namespace and name, and a
 * reconcileID: a random version-4 UUID, new for each reconcile, as controller-runtime logs.
 */
static void log_context_begin(const char *key)
{
    char hex[33], id[37], ns[64] = "";
    const char *slash = strchr(key, '/'), *name = slash ? slash + 1 : key;
    kube_rand_hex(hex, 16);
    /* xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V one of 8 9 a b (the RFC 4122 variant). */
    int v = hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10;
    hex[12] = '4';
    hex[16] = "89ab"[v & 3];
    snprintf(id, sizeof(id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    if (slash)
        snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    const struct log_field fields[] = {LOG_STR("controller", "topology"), LOG_STR("namespace", ns),
                                       LOG_STR("name", name), LOG_STR("reconcileID", id)};
    log_ctx_set(fields, sizeof(fields) / sizeof(fields[0]));
}

enum op_result op_reconcile(struct op_controller *ctl, struct kube_conn *conn, const char *key,
                            int64_t *after_ms)
{
    struct rc rc = {.ctl = ctl, .conn = conn, .key = key};
    struct field_errors errs;
    struct topology *t = NULL;
    cJSON *obj = NULL, *objects = NULL;
    enum op_result result = OP_RESULT_SUCCESS;
    char err[1024];
    *after_ms = 0;
    log_context_begin(key);
    field_errors_init(&errs);
    hbuf_init(&rc.conflicts, 64 * 1024);
    kube_informer_get(ctl->topologies, key, copy_topology, &rc.topo);
    if (!rc.topo) {
        forget_topology(ctl, key);
        goto out;
    }
    if (rc.topo->deleting) {
        /* The garbage collector removes the children; no status is written any more. */
        set_status_postponed(ctl, rc.topo, key, 0);
        goto out;
    }
    obj = op_topology_object(rc.topo);
    if (topo_load(obj, NULL, 0, &t, &errs) != HO11Y_OK) {
        char *msg = field_errors_join(&errs);
        result = invalid(&rc, msg, after_ms);
        free(msg);
        goto out;
    }
    struct topo_render_opts ropts = {ctl->generator_image, ctl->collector_image, ctl->pull_policy};
    if (topo_render(t, &ropts, &objects, err, sizeof(err)) != HO11Y_OK) {
        result = invalid(&rc, err, after_ms);
        goto out;
    }
    rc.reported = known_conflicts(&rc);
    op__conflict_clear(ctl, key);
    const cJSON *d;
    cJSON_ArrayForEach(d, objects)
    {
        if (atomic_load(&ctl->cancel) || rc.gone)
            break;
        apply_object(&rc, d);
    }
    if (rc.gone && !rc.error)
        goto out; /* deleted: its watch event cleans up */
    if (!atomic_load(&ctl->cancel) && !rc.gone)
        delete_leftovers(&rc, objects);
    if (atomic_load(&ctl->cancel))
        note_error(&rc, HO11Y_CANCELLED, "cancelled", 0);
    result = finish(&rc, t, objects, after_ms);
out:
    cJSON_Delete(objects);
    cJSON_Delete(obj);
    topo_free(t);
    field_errors_cleanup(&errs);
    op_topology_free(rc.topo);
    hbuf_cleanup(&rc.conflicts);
    free(rc.reported);
    return result; /* the log context stays until the worker is done with the key */
}
