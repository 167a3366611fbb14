#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "kube/kube_map.h"
#include "kube/kube_stream.h"
#include "test.h"

struct collect {
    struct hbuf out;
    int n;
};

static enum ho11y_err collect_line(void *ud, const char *line, size_t len)
{
    struct collect *c = ud;
    hbuf_add(&c->out, line, len);
    hbuf_addc(&c->out, '|');
    c->n++;
    return HO11Y_OK;
}

TEST(lines_split_across_chunks)
{
    struct kube_lines s;
    struct collect c = {0};
    hbuf_init(&c.out, 1024);
    kube_lines_init(&s, 16);
    const char *input = "ab\ncd\r\n\n  \nef";
    /* Feed one byte at a time: every boundary position is exercised. */
    for (size_t i = 0; i < strlen(input); i++)
        CHECK_INT_EQ(kube_lines_feed(&s, input + i, 1, collect_line, &c), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&c.out), "ab|cd|");
    CHECK_INT_EQ(kube_lines_finish(&s, collect_line, &c), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&c.out), "ab|cd|ef|");
    CHECK_INT_EQ(kube_lines_feed(&s, "0123456789abcdefXYZ", 19, collect_line, &c), HO11Y_LIMIT);
    kube_lines_cleanup(&s);
    kube_lines_init(&s, 4);
    CHECK_INT_EQ(kube_lines_feed(&s, "abcdefgh\n", 9, collect_line, &c), HO11Y_LIMIT);
    kube_lines_cleanup(&s);
    hbuf_cleanup(&c.out);
}

TEST(event_decode)
{
    struct kube_event ev;
    char err[256];
    const char *added = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{"
                        "\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"12\"}}}";
    CHECK_INT_EQ(kube_event_decode(added, strlen(added), &ev, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(ev.type, KUBE_EVENT_ADDED);
    CHECK_STR_EQ(ev.rv, "12");
    kube_event_cleanup(&ev);
    const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Service\",\"metadata\":{"
                     "\"resourceVersion\":\"99\"}}}";
    CHECK_INT_EQ(kube_event_decode(bm, strlen(bm), &ev, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(ev.type, KUBE_EVENT_BOOKMARK);
    CHECK_STR_EQ(ev.rv, "99");
    kube_event_cleanup(&ev);
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (4071)\","
                       "\"reason\":\"Expired\",\"code\":410}}";
    CHECK_INT_EQ(kube_event_decode(gone, strlen(gone), &ev, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(ev.type, KUBE_EVENT_ERROR);
    CHECK_INT_EQ(ev.code, 410);
    CHECK_STR_EQ(ev.reason, "Expired");
    kube_event_cleanup(&ev);
    /* A code beyond any integer type saturates instead of overflowing the conversion. */
    const char *huge = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                       "\"code\":4155555555555555555555555555550}}";
    CHECK_INT_EQ(kube_event_decode(huge, strlen(huge), &ev, err, sizeof(err)), HO11Y_OK);
    CHECK(ev.code == LONG_MAX);
    kube_event_cleanup(&ev);
    const char *bad[] = {"{", "[]", "{\"type\":\"NOPE\",\"object\":{}}",
                         "{\"type\":\"ADDED\",\"object\":3}",
                         "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{}}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT_EQ(kube_event_decode(bad[i], strlen(bad[i]), &ev, err, sizeof(err)), HO11Y_PARSE);
        CHECK(ev.root == NULL);
    }
    CHECK_STR_EQ(kube_event_type_name(KUBE_EVENT_DELETED), "DELETED");
}

static enum ho11y_err collect_item(void *ud, const char *json, size_t len)
{
    return collect_line(ud, json, len);
}

static void scan_in_chunks(const char *doc, size_t chunk, const char *expect_items,
                           const char *expect_rv, const char *expect_cont)
{
    struct kube_list_scan s;
    struct collect c = {0};
    hbuf_init(&c.out, 4096);
    kube_list_scan_init(&s, 1024);
    size_t len = strlen(doc);
    for (size_t i = 0; i < len; i += chunk) {
        size_t n = len - i < chunk ? len - i : chunk;
        CHECK_INT_EQ(kube_list_scan_feed(&s, doc + i, n, collect_item, &c), HO11Y_OK);
    }
    char *rv, *cont;
    CHECK_INT_EQ(kube_list_scan_finish(&s, &rv, &cont), HO11Y_OK);
    CHECK_STR_EQ(hbuf_str(&c.out), expect_items);
    if (expect_rv)
        CHECK_STR_EQ(rv, expect_rv);
    else
        CHECK(rv == NULL);
    if (expect_cont)
        CHECK_STR_EQ(cont, expect_cont);
    else
        CHECK(cont == NULL);
    free(rv);
    free(cont);
    kube_list_scan_cleanup(&s);
    hbuf_cleanup(&c.out);
}

TEST(list_scan_items_and_metadata)
{
    const char *doc =
        "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
        "\"42\",\"continue\":\"tok\"},\"items\":[{\"metadata\":{\"name\":\"a\",\"x\":\"}]\\\"\"}},"
        " {\"metadata\":{\"name\":\"b\"},\"spec\":{\"l\":[1,[2],{}]}}]}\n";
    const char *items = "{\"metadata\":{\"name\":\"a\",\"x\":\"}]\\\"\"}}|"
                        "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"l\":[1,[2],{}]}}|";
    for (size_t chunk = 1; chunk < 40; chunk++)
        scan_in_chunks(doc, chunk, items, "42", "tok");
    /* Items before metadata, an empty continue, no items at all. */
    scan_in_chunks(
        "{\"items\":[{\"a\":1}],\"metadata\":{\"resourceVersion\":\"7\",\"continue\":\"\"}}", 5,
        "{\"a\":1}|", "7", NULL);
    scan_in_chunks("{\"items\":[],\"metadata\":{\"resourceVersion\":\"8\"}}", 3, "", "8", NULL);
    scan_in_chunks("{\"items\":null,\"kind\":\"X\"}", 2, "", NULL, NULL);
    /* A key named like ours deeper down is not ours. */
    scan_in_chunks("{\"other\":{\"items\":[{\"no\":1}],\"metadata\":{\"resourceVersion\":\"1\"}},"
                   "\"metadata\":{\"resourceVersion\":\"2\"}}",
                   4, "", "2", NULL);
}

TEST(list_scan_rejects_malformed)
{
    const char *bad[] = {"[]", "{\"items\":[1]}", "}", "{\"items\":[{}]}}", "{\"a\":\"x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kube_list_scan s;
        struct collect c = {0};
        hbuf_init(&c.out, 4096);
        kube_list_scan_init(&s, 1024);
        enum ho11y_err r = kube_list_scan_feed(&s, bad[i], strlen(bad[i]), collect_item, &c);
        char *rv = NULL, *cont = NULL;
        if (!r)
            r = kube_list_scan_finish(&s, &rv, &cont);
        if (r == HO11Y_OK)
            test__fail(__FILE__, __LINE__, "accepted %s", bad[i]);
        kube_list_scan_cleanup(&s);
        hbuf_cleanup(&c.out);
    }
    /* An item larger than the bound. */
    struct kube_list_scan s;
    struct collect c = {0};
    hbuf_init(&c.out, 4096);
    kube_list_scan_init(&s, 8);
    const char *big = "{\"items\":[{\"name\":\"0123456789\"}]}";
    CHECK_INT_EQ(kube_list_scan_feed(&s, big, strlen(big), collect_item, &c), HO11Y_LIMIT);
    kube_list_scan_cleanup(&s);
    hbuf_cleanup(&c.out);
}

static int count_cb(void *ud, const char *key, void *value)
{
    (*(int *)ud)++;
    return 0;
}

TEST(map_basics)
{
    struct kube_map m;
    kube_map_init(&m);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        CHECK(kube_map_put(&m, key, xstrdup(key)) == NULL);
    }
    CHECK_INT_EQ(m.count, 1000);
    CHECK_STR_EQ(kube_map_get(&m, "ns/obj-517"), "ns/obj-517");
    char *old = kube_map_put(&m, "ns/obj-3", xstrdup("new"));
    CHECK_STR_EQ(old, "ns/obj-3");
    free(old);
    free(kube_map_del(&m, "ns/obj-4"));
    CHECK(!kube_map_has(&m, "ns/obj-4"));
    CHECK(kube_map_del(&m, "ns/absent") == NULL);
    int n = 0;
    kube_map_foreach(&m, count_cb, &n);
    CHECK_INT_EQ(n, 999);
    kube_map_cleanup(&m, free);
    kube_map_cleanup(NULL, free);
}

/* A value kept in its entry's block, the way the informer's cache keeps records. */
static struct kube_map_entry *inline_entry(const char *key, int value)
{
    size_t head = kube_map_head_size(key);
    CHECK(head % 8 == 0);
    char *block = xmalloc(head + sizeof(value));
    memcpy(block + head, &value, sizeof(value));
    return kube_map_entry_init(block, key);
}

static int inline_value(struct kube_map *m, const char *key)
{
    int v = -1;
    const char *p = kube_map_get(m, key);
    if (p)
        memcpy(&v, p, sizeof(v));
    return v;
}

TEST(map_inline_values)
{
    struct kube_map m;
    kube_map_init(&m);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        CHECK(kube_map_link(&m, inline_entry(key, i)) == NULL);
    }
    CHECK_INT_EQ(m.count, 100);
    CHECK_INT_EQ(inline_value(&m, "ns/obj-42"), 42);
    CHECK(((uintptr_t)kube_map_get(&m, "ns/obj-42") & 7) == 0);
    struct kube_map_entry *old = kube_map_link(&m, inline_entry("ns/obj-7", 700));
    CHECK(old != NULL);
    CHECK_STR_EQ(old->key, "ns/obj-7");
    free(old);
    CHECK_INT_EQ(m.count, 100);
    CHECK_INT_EQ(inline_value(&m, "ns/obj-7"), 700);
    struct kube_map_entry *gone = kube_map_unlink(&m, "ns/obj-8");
    CHECK(gone != NULL);
    CHECK_STR_EQ(gone->key, "ns/obj-8");
    free(gone);
    CHECK(kube_map_unlink(&m, "ns/obj-8") == NULL);
    CHECK(!kube_map_has(&m, "ns/obj-8"));
    CHECK_INT_EQ(m.count, 99);
    int n = 0;
    kube_map_foreach(&m, count_cb, &n);
    CHECK_INT_EQ(n, 99);
    kube_map_cleanup(&m, NULL);
}
