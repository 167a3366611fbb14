/* W3C traceparent/tracestate and X-Amzn-Trace-Id parsing, formatting and precedence. */
#include <string.h>

#include "generator/propagation.h"
#include "test.h"

static const char *const TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static enum ho11y_err tp(const char *v, uint8_t t[16], uint8_t p[8], bool *sampled)
{
    return gen_traceparent_parse(v, strlen(v), t, p, sampled);
}

TEST(traceparent_valid)
{
    uint8_t t[16], p[8];
    char hex[33];
    bool sampled = false;
    CHECK_INT_EQ(tp(TP, t, p, &sampled), HO11Y_OK);
    gen_hex_encode(t, 16, hex);
    CHECK_STR_EQ(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    gen_hex_encode(p, 8, hex);
    CHECK_STR_EQ(hex, "00f067aa0ba902b7");
    CHECK(sampled);
    CHECK_INT_EQ(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", t, p, &sampled),
                 HO11Y_OK);
    CHECK(!sampled);
    /* Flags are a bit field: only bit 0 means sampled. */
    CHECK_INT_EQ(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", t, p, &sampled),
                 HO11Y_OK);
    CHECK(sampled);
    /* Surrounding blanks are tolerated. */
    CHECK_INT_EQ(tp("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", t, p, &sampled),
                 HO11Y_OK);
    /* A future version may carry more fields after a dash. */
    CHECK_INT_EQ(
        tp("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", t, p, &sampled),
        HO11Y_OK);
}

TEST(traceparent_invalid)
{
    static const char *const bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is exactly 55 */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* no dash after 55 */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero parent */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",  /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  /* not hex */
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 garbage after it",
    };
    uint8_t t[16], p[8];
    bool s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tp(bad[i], t, p, &s) == HO11Y_OK)
            test__fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    /* Length is honoured: the value need not be NUL-terminated. */
    CHECK_INT_EQ(gen_traceparent_parse(TP, 54, t, p, &s), HO11Y_PARSE);
}

TEST(traceparent_format_round_trip)
{
    uint8_t t[16], p[8], t2[16], p2[8];
    char out[GEN_TRACEPARENT_LEN + 1];
    bool s;
    gen_trace_id_new(t, 1727120288);
    gen_span_id_new(p);
    gen_traceparent_format(t, p, true, out);
    CHECK_INT_EQ(strlen(out), 55);
    CHECK_INT_EQ(tp(out, t2, p2, &s), HO11Y_OK);
    CHECK(memcmp(t, t2, 16) == 0 && memcmp(p, p2, 8) == 0 && s);
    CHECK(strncmp(out, "00-66f1c3a0", 11) == 0); /* the epoch leads the trace id */
    CHECK_STR_EQ(out + 52, "-01");
}

TEST(tracestate_rules)
{
    static const char *const good[] = {
        "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "  rojo=1 , congo=2 ",
        "a,,b=1", /* an empty member is allowed... but "a" has no '=' */
    };
    CHECK_INT_EQ(gen_tracestate_check(good[0], strlen(good[0])), HO11Y_OK);
    CHECK_INT_EQ(gen_tracestate_check(good[1], strlen(good[1])), HO11Y_OK);
    CHECK_INT_EQ(gen_tracestate_check(good[2], strlen(good[2])), HO11Y_OK);
    CHECK_INT_EQ(gen_tracestate_check(good[3], strlen(good[3])), HO11Y_PARSE);
    const char *tenant = "fw529a3039@dt=123,b=,c=d";
    CHECK_INT_EQ(gen_tracestate_check(tenant, 17), HO11Y_OK);
    CHECK_INT_EQ(gen_tracestate_check(tenant, strlen(tenant)), HO11Y_PARSE); /* empty value */
    const char *bad[] = {"Upper=1", "k=v=w", "k=a,k=b", "1abc=x", "k=a\tb", "k=\x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gen_tracestate_check(bad[i], strlen(bad[i])) == HO11Y_OK)
            test__fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    char many[400] = "";
    for (int i = 0; i < 33; i++) {
        char m[16];
        snprintf(m, sizeof(m), "%sk%d=v", i ? "," : "", i);
        strncat(many, m, sizeof(many) - strlen(many) - 1);
    }
    CHECK_INT_EQ(gen_tracestate_check(many, strlen(many)), HO11Y_LIMIT);
    char longv[600];
    memset(longv, 'a', sizeof(longv));
    CHECK_INT_EQ(gen_tracestate_check(longv, sizeof(longv)), HO11Y_LIMIT);
}

static enum ho11y_err xr(const char *v, struct gen_xray_header *h)
{
    return gen_xray_header_parse(v, strlen(v), h);
}

TEST(xray_header_valid)
{
    struct gen_xray_header h;
    char hex[33];
    CHECK_INT_EQ(
        xr("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", &h),
        HO11Y_OK);
    gen_hex_encode(h.trace_id, 16, hex);
    CHECK_STR_EQ(hex, "5759e988bd862e3fe1be46a994272793");
    gen_hex_encode(h.parent_id, 8, hex);
    CHECK_STR_EQ(hex, "53995c3f42cd8ad8");
    CHECK(h.has_parent && h.sampled);
    CHECK_STR_EQ(h.extra, "");
    /* Root alone (a load balancer's header): the trace continues without a parent. */
    CHECK_INT_EQ(xr("Root=1-5759e988-bd862e3fe1be46a994272793", &h), HO11Y_OK);
    CHECK(!h.has_parent);
    CHECK_INT_EQ(xr(" Sampled=0 ; Root=1-5759e988-bd862e3fe1be46a994272793 ;", &h), HO11Y_OK);
    CHECK(!h.sampled);
    /* Unknown pairs are kept for forwarding; Self (per hop) is not. */
    CHECK_INT_EQ(
        xr("Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;"
           "Parent=53995c3f42cd8ad8;Lineage=a87bd80c:1|68fd508a:5;Foo=bar",
           &h),
        HO11Y_OK);
    CHECK_STR_EQ(h.extra, "Lineage=a87bd80c:1|68fd508a:5;Foo=bar");
    CHECK_INT_EQ(xr("Root=1-5759e988-bd862e3fe1be46a994272793;junk;=;Sampled=?", &h), HO11Y_OK);
    CHECK(h.sampled);
}

TEST(xray_header_invalid)
{
    static const char *const bad[] = {
        "",
        "Parent=53995c3f42cd8ad8;Sampled=1",        /* no Root */
        "Root=1-5759e988-bd862e3fe1be46a99427279",  /* short */
        "Root=2-5759e988-bd862e3fe1be46a994272793", /* version */
        "Root=1-5759E988-bd862e3fe1be46a994272793", /* upper case */
        "Root=1-5759e988_bd862e3fe1be46a994272793",
        "Root=1-00000000-000000000000000000000000", /* all zero */
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8adz",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272794",
        "root=1-5759e988-bd862e3fe1be46a994272793", /* keys are exact */
    };
    struct gen_xray_header h;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (xr(bad[i], &h) == HO11Y_OK)
            test__fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    char huge[GEN_XRAY_HEADER_MAX + 100];
    memset(huge, ';', sizeof(huge));
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): unterminated on purpose, with a size */
    memcpy(huge, "Root=1-5759e988-bd862e3fe1be46a994272793", 40);
    CHECK_INT_EQ(gen_xray_header_parse(huge, sizeof(huge), &h), HO11Y_LIMIT);
}

TEST(xray_extra_is_bounded)
{
    char v[1000];
    size_t o = (size_t)snprintf(v, sizeof(v), "Root=1-5759e988-bd862e3fe1be46a994272793");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(v + o, sizeof(v) - o, ";Key%d=value%d", i, i);
    struct gen_xray_header h;
    CHECK_INT_EQ(gen_xray_header_parse(v, o, &h), HO11Y_OK);
    CHECK(strlen(h.extra) <= GEN_XRAY_EXTRA_MAX);
    CHECK(strncmp(h.extra, "Key0=value0;Key1=value1", 23) == 0);
}

TEST(xray_format)
{
    uint8_t t[16], s[8];
    char out[GEN_XRAY_HEADER_OUT];
    CHECK(gen_hex_decode("5759e988bd862e3fe1be46a994272793", 16, t));
    CHECK(gen_hex_decode("53995c3f42cd8ad8", 8, s));
    CHECK_INT_EQ(gen_xray_header_format(t, s, true, "", out, sizeof(out)), HO11Y_OK);
    CHECK_STR_EQ(out, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    CHECK_INT_EQ(gen_xray_header_format(t, s, true, "Lineage=a:1", out, sizeof(out)), HO11Y_OK);
    CHECK_STR_EQ(out, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
                      "Lineage=a:1");
    CHECK_INT_EQ(gen_xray_header_format(t, s, true, "", out, 20), HO11Y_LIMIT);
    char id[GEN_XRAY_ID_LEN + 1];
    gen_xray_id_format(t, id);
    CHECK_STR_EQ(id, "1-5759e988-bd862e3fe1be46a994272793");
}

TEST(extract_precedence)
{
    struct gen_trace_context c;
    char hex[33];
    const char *xray =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Lineage=x:1";
    /* traceparent first. */
    gen_propagation_extract(TP, "congo=t61", xray, &c);
    CHECK_INT_EQ(c.source, GEN_PROP_W3C);
    gen_hex_encode(c.trace_id, 16, hex);
    CHECK_STR_EQ(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK_STR_EQ(c.tracestate, "congo=t61");
    CHECK_STR_EQ(c.xray_extra, ""); /* another trace's pairs are not carried over */
    /* An invalid traceparent falls back to X-Ray, and its tracestate goes with it. */
    gen_propagation_extract("00-zz", "congo=t61", xray, &c);
    CHECK_INT_EQ(c.source, GEN_PROP_XRAY);
    gen_hex_encode(c.parent_id, 8, hex);
    CHECK_STR_EQ(hex, "53995c3f42cd8ad8");
    CHECK(c.has_parent);
    CHECK_STR_EQ(c.tracestate, "");
    CHECK_STR_EQ(c.xray_extra, "Lineage=x:1");
    /* Same trace in both: X-Ray pairs are kept. */
    gen_propagation_extract("00-5759e988bd862e3fe1be46a994272793-1111111111111111-01", NULL, xray,
                            &c);
    CHECK_INT_EQ(c.source, GEN_PROP_W3C);
    CHECK_STR_EQ(c.xray_extra, "Lineage=x:1");
    /* Invalid tracestate is dropped, the trace goes on. */
    gen_propagation_extract(TP, "BAD=1", NULL, &c);
    CHECK_INT_EQ(c.source, GEN_PROP_W3C);
    CHECK_STR_EQ(c.tracestate, "");
    gen_propagation_extract(NULL, NULL, NULL, &c);
    CHECK_INT_EQ(c.source, GEN_PROP_NONE);
    gen_propagation_extract("garbage", NULL, "Root=garbage", &c);
    CHECK_INT_EQ(c.source, GEN_PROP_NONE);
}

TEST(trace_ids_carry_the_epoch)
{
    uint8_t a[16], b[16], s[8];
    gen_trace_id_new(a, 0x66f1c3a0);
    gen_trace_id_new(b, 0x66f1c3a0);
    CHECK(a[0] == 0x66 && a[1] == 0xf1 && a[2] == 0xc3 && a[3] == 0xa0);
    CHECK(memcmp(a + 4, b + 4, 12) != 0);
    for (int i = 0; i < 1000; i++) {
        gen_span_id_new(s);
        CHECK(!gen_id_is_zero(s, 8));
    }
    uint8_t out[2];
    CHECK(!gen_hex_decode("Ab", 1, out));
    CHECK(gen_hex_decode("ab", 1, out) && out[0] == 0xab);
}
