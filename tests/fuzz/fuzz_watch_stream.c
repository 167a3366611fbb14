/*
 * What the API server streams to the operator: watch responses (the line splitter and the event
 * decoder) and List responses (the streaming item scanner). The first input byte picks the
 * chunk sizes; the rest is the stream. Splitting the stream differently must not change the
 * lines, items or results (a TCP read can end anywhere).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "operator/kube/kube_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 4096
#define MAX_ITEM 4096

/* Everything a feed produced, in order, for comparing two feeds. */
struct record {
    struct hbuf log;
};

static enum ho11y_err on_line(void *ud, const char *line, size_t len)
{
    struct record *r = ud;
    struct kube_event ev;
    char err[256];
    if (len > MAX_LINE)
        abort();
    hbuf_addf(&r->log, "L%zu:", len);
    hbuf_add(&r->log, line, len);
    enum ho11y_err result = kube_event_decode(line, len, &ev, err, sizeof(err));
    if (result == HO11Y_OK) {
        if (!ev.root || !ev.object)
            abort();
        if (ev.type == KUBE_EVENT_ERROR && (!ev.reason || !ev.message))
            abort();
        hbuf_addf(&r->log, "|E%s:%s:%ld:%zu:%zu\n", kube_event_type_name(ev.type),
                  ev.rv ? ev.rv : "-", ev.code, ev.reason ? strlen(ev.reason) : 0,
                  ev.message ? strlen(ev.message) : 0);
        kube_event_cleanup(&ev);
    } else {
        if (!memchr(err, '\0', sizeof(err)))
            abort();
        hbuf_addf(&r->log, "|X%d\n", (int)result);
    }
    return HO11Y_OK;
}

static enum ho11y_err on_item(void *ud, const char *json, size_t len)
{
    struct record *r = ud;
    /* The scanner follows nesting, not bracket types: a malformed item may end in ']' (the
     * caller's JSON parser refuses it). */
    if (len > MAX_ITEM || len < 2 || json[0] != '{' ||
        (json[len - 1] != '}' && json[len - 1] != ']'))
        abort();
    hbuf_addf(&r->log, "I%zu:", len);
    hbuf_add(&r->log, json, len);
    cJSON *item = cJSON_ParseWithLength(json, len);
    hbuf_adds(&r->log, item ? "|ok\n" : "|bad\n");
    cJSON_Delete(item);
    return HO11Y_OK;
}

/* Chunk sizes from the seed: 1..16 bytes, or the whole stream at once when seed is 0. */
static size_t chunk(unsigned seed, size_t i, size_t left)
{
    size_t n = seed ? 1 + ((seed * 31u + i * 7u) % 16u) : left;
    return n < left ? n : left;
}

static void watch(const char *s, size_t size, unsigned seed, struct record *r)
{
    struct kube_lines lines;
    enum ho11y_err result = HO11Y_OK;
    kube_lines_init(&lines, MAX_LINE);
    for (size_t off = 0, i = 0; off < size && !result; i++) {
        size_t n = chunk(seed, i, size - off);
        result = kube_lines_feed(&lines, s + off, n, on_line, r);
        off += n;
    }
    if (!result)
        result = kube_lines_finish(&lines, on_line, r);
    hbuf_addf(&r->log, "=%d\n", (int)result);
    kube_lines_cleanup(&lines);
}

static void list(const char *s, size_t size, unsigned seed, struct record *r)
{
    struct kube_list_scan scan;
    enum ho11y_err result = HO11Y_OK;
    kube_list_scan_init(&scan, MAX_ITEM);
    for (size_t off = 0, i = 0; off < size && !result; i++) {
        size_t n = chunk(seed, i, size - off);
        result = kube_list_scan_feed(&scan, s + off, n, on_item, r);
        off += n;
    }
    char *rv = NULL, *cont = NULL;
    if (!result)
        result = kube_list_scan_finish(&scan, &rv, &cont);
    hbuf_addf(&r->log, "=%d:%s:%s\n", (int)result, rv ? rv : "-", cont ? cont : "-");
    free(rv);
    free(cont);
    kube_list_scan_cleanup(&scan);
}

static void compare(void (*fn)(const char *, size_t, unsigned, struct record *), const char *s,
                    size_t size, unsigned seed)
{
    struct record whole, pieces;
    hbuf_init(&whole.log, (size_t)8 << 20);
    hbuf_init(&pieces.log, (size_t)8 << 20);
    fn(s, size, 0, &whole);
    fn(s, size, seed ? seed : 1, &pieces);
    if (whole.log.len != pieces.log.len ||
        memcmp(whole.log.data, pieces.log.data, whole.log.len) != 0)
        abort(); /* the result depends on where the reads ended */
    hbuf_cleanup(&whole.log);
    hbuf_cleanup(&pieces.log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        ho11y_alloc_init();
        initialised = 1;
    }
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    size--;
    /* An exact-size copy so that reads past the end are caught. */
    char *s = xmalloc(size ? size : 1);
    memcpy(s, data + 1, size);
    compare(watch, s, size, seed);
    compare(list, s, size, seed);
    free(s);
    return 0;
}
