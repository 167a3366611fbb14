#include "op_status.h"

#include <stdio.h>
#include <string.h>

const cJSON *op_status_find_condition(const cJSON *status, const char *type)
{
    const cJSON *conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
    const cJSON *c;
    cJSON_ArrayForEach(c, conds)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0)
            return c;
    }
    return NULL;
}

int op_status_condition(const cJSON *status, const char *type, int *is_true, const char **reason)
{
    const cJSON *c = op_status_find_condition(status, type);
    if (!c)
        return 0;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reason");
    if (is_true)
        *is_true = cJSON_IsString(st) && strcmp(st->valuestring, "True") == 0;
    if (reason)
        *reason = cJSON_IsString(r) ? r->valuestring : "";
    return 1;
}

static void add_condition(cJSON *arr, const char *type, const struct op_condition *c,
                          long long generation, const cJSON *old, const char *now)
{
    const char *status = c->status ? "True" : "False";
    const char *ltt = now;
    const cJSON *prev = op_status_find_condition(old, type);
    if (prev) {
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(prev, "status");
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(prev, "lastTransitionTime");
        if (cJSON_IsString(ps) && strcmp(ps->valuestring, status) == 0 && cJSON_IsString(pt) &&
            pt->valuestring[0])
            ltt = pt->valuestring;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "observedGeneration", (double)generation);
    cJSON_AddStringToObject(o, "lastTransitionTime", ltt);
    cJSON_AddStringToObject(o, "reason", c->reason);
    /* The API caps condition messages at 32768 bytes. */
    char msg[32768];
    snprintf(msg, sizeof(msg), "%s", c->message ? c->message : "");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddItemToArray(arr, o);
}

cJSON *op_status_build(const struct op_status_input *in, const cJSON *old, const char *now)
{
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "observedGeneration", (double)in->generation);
    if (in->services) {
        size_t ready = 0;
        for (size_t i = 0; i < in->nservices; i++)
            ready += in->services[i].ready ? 1 : 0;
        char rs[64];
        snprintf(rs, sizeof(rs), "%zu/%zu", ready, in->nservices);
        cJSON_AddStringToObject(st, "readyServices", rs);
    } else {
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(old, "readyServices");
        if (rs)
            cJSON_AddItemToObject(st, "readyServices", cJSON_Duplicate(rs, 1));
    }
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    add_condition(conds, "Reconciled", &in->reconciled, in->generation, old, now);
    add_condition(conds, "Ready", &in->ready, in->generation, old, now);
    if (in->services) {
        cJSON *svcs = cJSON_AddArrayToObject(st, "services");
        for (size_t i = 0; i < in->nservices; i++) {
            const struct op_service_status *s = &in->services[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", s->name);
            cJSON_AddNumberToObject(o, "replicas", (double)s->replicas);
            cJSON_AddNumberToObject(o, "readyReplicas", (double)s->ready_replicas);
            if (s->url)
                cJSON_AddStringToObject(o, "url", s->url);
            cJSON_AddItemToArray(svcs, o);
        }
        if (in->has_collector) {
            cJSON *c = cJSON_AddObjectToObject(st, "collector");
            if (in->collector_endpoint)
                cJSON_AddStringToObject(c, "endpoint", in->collector_endpoint);
            if (in->collector_has_ready)
                cJSON_AddNumberToObject(c, "readyReplicas", (double)in->collector_ready_replicas);
            if (in->collector_config_hash)
                cJSON_AddStringToObject(c, "configHash", in->collector_config_hash);
        }
    } else {
        const char *keep[] = {"services", "collector"};
        for (size_t i = 0; i < 2; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, keep[i]);
            if (v)
                cJSON_AddItemToObject(st, keep[i], cJSON_Duplicate(v, 1));
        }
    }
    return st;
}

cJSON *op_status_skeleton(const cJSON *status)
{
    if (!status)
        return NULL;
    cJSON *sk = cJSON_Duplicate(status, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(sk, "readyServices");
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sk, "services"))
        cJSON_DeleteItemFromObjectCaseSensitive(s, "readyReplicas");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(sk, "collector"),
                                            "readyReplicas");
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sk, "conditions"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "Ready") == 0)
            cJSON_DeleteItemFromObjectCaseSensitive(c, "message");
    }
    return sk;
}

int op_status_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return !a && !b;
    return cJSON_Compare(a, b, 1);
}

/*
 * A merge patch keeps every field it does not mention, at every depth: fields of old that new
 * lacks are set to null, in nested objects too (collector.configHash when the collector
 * becomes External). Lists are replaced whole by a merge patch, so they need nothing.
 */
static void null_missing(cJSON *patch, const cJSON *old)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, old)
    {
        if (!c->string)
            continue;
        cJSON *n = cJSON_GetObjectItemCaseSensitive(patch, c->string);
        if (!n)
            cJSON_AddNullToObject(patch, c->string);
        else if (cJSON_IsObject(n) && cJSON_IsObject(c))
            null_missing(n, c);
    }
}

char *op_status_patch(const cJSON *new_, const cJSON *old)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *st = cJSON_Duplicate(new_, 1);
    if (cJSON_IsObject(old))
        null_missing(st, old);
    cJSON_AddItemToObject(body, "status", st);
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return s;
}
