#include "kube_stream.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/doc.h"

/* The top-level metadata of a list holds a few short strings. */
#define LIST_META_MAX (64u * 1024)

void kube_lines_init(struct kube_lines *s, size_t max_line)
{
    hbuf_init(&s->buf, max_line);
}

void kube_lines_cleanup(struct kube_lines *s)
{
    if (s)
        hbuf_cleanup(&s->buf);
}

static int blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

static enum ho11y_err emit_line(const char *p, size_t len, kube_line_fn fn, void *ud)
{
    if (len && p[len - 1] == '\r')
        len--;
    if (blank(p, len))
        return HO11Y_OK;
    return fn(ud, p, len);
}

enum ho11y_err kube_lines_feed(struct kube_lines *s, const char *data, size_t len, kube_line_fn fn,
                               void *ud)
{
    enum ho11y_err r;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            if (hbuf_add(&s->buf, data, len))
                return HO11Y_LIMIT;
            return HO11Y_OK;
        }
        size_t n = (size_t)(nl - data);
        if (s->buf.len) {
            if (hbuf_add(&s->buf, data, n))
                return HO11Y_LIMIT;
            r = emit_line(s->buf.data, s->buf.len, fn, ud);
            hbuf_reset(&s->buf);
        } else {
            if (n > s->buf.max)
                return HO11Y_LIMIT;
            r = emit_line(data, n, fn, ud);
        }
        if (r)
            return r;
        data += n + 1;
        len -= n + 1;
    }
    return HO11Y_OK;
}

enum ho11y_err kube_lines_finish(struct kube_lines *s, kube_line_fn fn, void *ud)
{
    enum ho11y_err r = HO11Y_OK;
    if (s->buf.len)
        r = emit_line(s->buf.data, s->buf.len, fn, ud);
    hbuf_reset(&s->buf);
    return r;
}

static const char *const event_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *kube_event_type_name(enum kube_event_type t)
{
    return (unsigned)t < 5 ? event_names[t] : "UNKNOWN";
}

enum ho11y_err kube_event_decode(const char *line, size_t len, struct kube_event *ev, char *err,
                                 size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    cJSON *root = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "watch event is not a JSON object");
        return HO11Y_PARSE;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
    int t = -1;
    for (int i = 0; cJSON_IsString(type) && i < 5; i++)
        if (strcmp(type->valuestring, event_names[i]) == 0)
            t = i;
    if (t < 0 || !cJSON_IsObject(obj)) {
        snprintf(err, errlen, "watch event has %s", t < 0 ? "an unknown type" : "no object");
        cJSON_Delete(root);
        return HO11Y_PARSE;
    }
    ev->type = (enum kube_event_type)t;
    ev->root = root;
    ev->object = obj;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
    if (cJSON_IsString(rv) && rv->valuestring[0])
        ev->rv = rv->valuestring;
    if (ev->type == KUBE_EVENT_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(obj, "reason");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        ev->code = (long)doc_number_ll(code, 0);
        ev->reason = cJSON_IsString(reason) ? reason->valuestring : "";
        ev->message = cJSON_IsString(msg) ? msg->valuestring : "";
    } else if (ev->type != KUBE_EVENT_BOOKMARK) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0]) {
            snprintf(err, errlen, "%s event object has no metadata.name", event_names[ev->type]);
            kube_event_cleanup(ev);
            return HO11Y_PARSE;
        }
    }
    return HO11Y_OK;
}

void kube_event_cleanup(struct kube_event *ev)
{
    if (!ev)
        return;
    cJSON_Delete(ev->root);
    memset(ev, 0, sizeof(*ev));
}

enum { MODE_NONE, MODE_SKIP, MODE_ITEMS, MODE_META };

void kube_list_scan_init(struct kube_list_scan *s, size_t max_item)
{
    memset(s, 0, sizeof(*s));
    hbuf_init(&s->item, max_item);
    hbuf_init(&s->meta, LIST_META_MAX);
}

void kube_list_scan_cleanup(struct kube_list_scan *s)
{
    if (!s)
        return;
    hbuf_cleanup(&s->item);
    hbuf_cleanup(&s->meta);
}

static int key_is(const struct kube_list_scan *s, const char *k)
{
    return !s->key_long && s->keylen == strlen(k) && memcmp(s->key, k, s->keylen) == 0;
}

/* Copies the run data[from, to) into the buffer being captured. */
static enum ho11y_err capture(struct kube_list_scan *s, const char *p, size_t n)
{
    if (!n || !s->capturing)
        return HO11Y_OK;
    struct hbuf *b = s->mode == MODE_META ? &s->meta : &s->item;
    return hbuf_add(b, p, n) ? HO11Y_LIMIT : HO11Y_OK;
}

enum ho11y_err kube_list_scan_feed(struct kube_list_scan *s, const char *data, size_t len,
                                   kube_item_fn fn, void *ud)
{
    enum ho11y_err r;
    size_t run = 0; /* start of the bytes not yet copied into the capture buffer */
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (s->in_str) {
            if (s->esc) {
                s->esc = 0;
            } else if (c == '\\') {
                s->esc = 1;
            } else if (c == '"') {
                s->in_str = 0;
                s->key_active = 0;
            } else if (s->key_active) {
                if (s->keylen < sizeof(s->key))
                    s->key[s->keylen++] = c;
                else
                    s->key_long = 1;
            }
            continue;
        }
        if (s->done) {
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
                return HO11Y_PARSE;
            continue;
        }
        switch (c) {
        case '"':
            if (s->depth == 0 || (s->depth == 2 && s->mode == MODE_ITEMS))
                return HO11Y_PARSE;
            s->in_str = 1;
            if (s->depth == 1 && s->expect_key) {
                s->key_active = 1;
                s->keylen = 0;
                s->key_long = 0;
            }
            break;
        case '{':
        case '[':
            if (s->depth == 0) {
                if (c != '{')
                    return HO11Y_PARSE;
                s->expect_key = 1;
            } else if (s->depth == 1) {
                if (s->expect_key)
                    return HO11Y_PARSE;
                if (key_is(s, "items") && c == '[') {
                    s->mode = MODE_ITEMS;
                } else if (key_is(s, "metadata") && c == '{') {
                    s->mode = MODE_META;
                    s->capturing = 1;
                    hbuf_reset(&s->meta);
                    run = i;
                } else {
                    s->mode = MODE_SKIP;
                }
            } else if (s->depth == 2 && s->mode == MODE_ITEMS) {
                if (c != '{')
                    return HO11Y_PARSE;
                s->capturing = 1;
                hbuf_reset(&s->item);
                run = i;
            }
            if (++s->depth > 512)
                return HO11Y_LIMIT;
            break;
        case '}':
        case ']':
            if (s->depth == 0)
                return HO11Y_PARSE;
            s->depth--;
            if (s->capturing && ((s->depth == 2 && s->mode == MODE_ITEMS) ||
                                 (s->depth == 1 && s->mode == MODE_META))) {
                if ((r = capture(s, data + run, i + 1 - run)))
                    return r;
                s->capturing = 0;
                if (s->mode == MODE_ITEMS) {
                    s->nitems++;
                    if ((r = fn(ud, s->item.data, s->item.len)))
                        return r;
                    hbuf_reset(&s->item);
                }
            }
            if (s->depth == 1)
                s->mode = MODE_NONE;
            if (s->depth == 0)
                s->done = 1;
            break;
        case ':':
            if (s->depth == 1)
                s->expect_key = 0;
            break;
        case ',':
            if (s->depth == 1)
                s->expect_key = 1;
            break;
        default:
            /* Nothing but objects may appear in "items", nothing at all outside the root. */
            if ((s->depth == 0 || (s->depth == 2 && s->mode == MODE_ITEMS)) && c != ' ' &&
                c != '\n' && c != '\r' && c != '\t')
                return HO11Y_PARSE;
            break;
        }
    }
    return capture(s, data + run, len - run);
}

static char *meta_string(const cJSON *meta, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    return cJSON_IsString(v) && v->valuestring[0] ? xstrdup(v->valuestring) : NULL;
}

enum ho11y_err kube_list_scan_finish(struct kube_list_scan *s, char **rv, char **cont)
{
    *rv = *cont = NULL;
    if (!s->done || s->in_str)
        return HO11Y_PARSE;
    if (!s->meta.len)
        return HO11Y_OK;
    cJSON *meta = cJSON_ParseWithLength(s->meta.data, s->meta.len);
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        return HO11Y_PARSE;
    }
    *rv = meta_string(meta, "resourceVersion");
    *cont = meta_string(meta, "continue");
    cJSON_Delete(meta);
    return HO11Y_OK;
}
