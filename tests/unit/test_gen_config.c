/* The generator's environment parsing: defaults, upstream compatibility, every malformed value
 * reported with its variable name. */
#include <string.h>

#include "generator/config.h"
#include "test.h"

static enum ho11y_err load(struct gen_config *cfg, const char *const *env, char *err, size_t len)
{
    return gen_config_load(cfg, env, err, len);
}

TEST(defaults_match_upstream)
{
    const char *env[] = {NULL};
    struct gen_config c;
    char err[256];
    CHECK_INT_EQ(load(&c, env, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(c.port, 8765);
    CHECK_INT_EQ(c.log_fd, 2); /* logrus default: stderr */
    CHECK_STR_EQ(c.service_name, "ho11y-svc");
    CHECK(c.open_metrics);
    CHECK(c.failure_percent == 0);
    CHECK_INT_EQ(c.nfailure_codes, 5);
    CHECK_INT_EQ(c.failure_codes[0], 400);
    CHECK_INT_EQ(c.failure_codes[2], 301);
    CHECK_INT_EQ(c.failure_codes[4], 501);
    CHECK_INT_EQ(c.cutoff_tps, 0);
    CHECK_INT_EQ(c.ndownstreams, 0);
    CHECK(c.export_enabled);
    CHECK_STR_EQ(c.otlp_url, "http://localhost:4318/v1/traces");
    CHECK_INT_EQ(c.bsp_queue_max, 2048);
    CHECK_INT_EQ(c.bsp_batch_max, 512);
    CHECK_INT_EQ(c.bsp_delay_ns, 5000LL * 1000000);
    CHECK_INT_EQ(c.bsp_export_timeout_ns, 30000LL * 1000000);
    CHECK_INT_EQ(c.otlp_timeout_ns, 10000LL * 1000000);
    CHECK_INT_EQ(c.downstream_timeout_ns, 10LL * 1000000000);
    CHECK(!c.parallel);
    CHECK(c.load_target == NULL);
    CHECK(c.threads >= 1);
    CHECK_INT_EQ(c.nwarnings, 0);
    gen_config_cleanup(&c);
}

TEST(recipe_downstream1)
{
    const char *env[] = {"DISABLE_OM=on",
                         "HO11Y_LOG_DEST=stdout",
                         "OTEL_RESOURCE_ATTRIB=downstream1",
                         "OTEL_EXPORTER_OTLP_ENDPOINT=adot-collector.adot-col:4317",
                         "DOWNSTREAM0=https://o11y.news/",
                         "DOWNSTREAM1=DUMMY:187kB:42ms",
                         "DOWNSTREAM2=DUMMY:13kB:2ms",
                         NULL};
    struct gen_config c;
    char err[256];
    CHECK_INT_EQ(load(&c, env, err, sizeof(err)), HO11Y_OK);
    CHECK(!c.open_metrics);
    CHECK_INT_EQ(c.log_fd, 1);
    CHECK_STR_EQ(c.service_name, "downstream1");
    CHECK_INT_EQ(c.ndownstreams, 3);
    CHECK_INT_EQ(c.downstreams[0].type, GEN_DOWNSTREAM_URL);
    CHECK_STR_EQ(c.downstreams[0].peer, "o11y.news");
    CHECK_STR_EQ(c.downstreams[0].raw, "https://o11y.news/");
    CHECK_INT_EQ(c.downstreams[1].type, GEN_DOWNSTREAM_DUMMY);
    CHECK_INT_EQ(c.downstreams[1].dummy_bytes, 191488);
    CHECK_INT_EQ(c.downstreams[1].dummy_ns, 42000000);
    CHECK_INT_EQ(c.downstreams[2].dummy_bytes, 13312);
    CHECK_INT_EQ(c.downstreams[2].dummy_ns, 2000000);
    /* The upstream gRPC address has no scheme: OTLP/HTTP on 4318 of the same host, said aloud. */
    CHECK_STR_EQ(c.otlp_url, "http://adot-collector.adot-col:4318/v1/traces");
    CHECK_INT_EQ(c.nwarnings, 1);
    CHECK_STR_CONTAINS(c.warnings[0], "OTEL_EXPORTER_OTLP_ENDPOINT");
    gen_config_cleanup(&c);
}

TEST(recipe_frontend_failures)
{
    const char *env[] = {"HO11Y_INJECT_FAILURE=enabled", "DOWNSTREAM0=http://downstream0",
                         "DOWNSTREAM1=http://downstream1", NULL};
    struct gen_config c;
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK(c.failure_percent == 49.0);
    CHECK(c.failure_legacy);
    CHECK_STR_EQ(c.downstreams[0].peer, "downstream0");
    CHECK_STR_EQ(c.downstreams[1].url, "http://downstream1");
    gen_config_cleanup(&c);
}

TEST(sparse_slots_keep_their_numbers)
{
    const char *env[] = {"DOWNSTREAM3=DUMMY:1:1ms", "DOWNSTREAM15=http://x:81/p",
                         "DOWNSTREAM0=", NULL};
    struct gen_config c;
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK_INT_EQ(c.ndownstreams, 2);
    CHECK_INT_EQ(c.downstreams[0].slot, 3);
    CHECK_INT_EQ(c.downstreams[1].slot, 15);
    CHECK_STR_EQ(c.downstreams[1].peer, "x");
    gen_config_cleanup(&c);
}

TEST(our_knobs)
{
    const char *env[] = {"HO11Y_FAILURE_RATE=12.5",
                         "HO11Y_FAILURE_CODES=500, 503,429",
                         "HO11Y_LATENCY=40ms+10ms",
                         "HO11Y_PARALLEL=true",
                         "HO11Y_DOWNSTREAM_TIMEOUT=1.5s",
                         "HO11Y_CUTOFF_TPS=20",
                         "HO11Y_PORT=0",
                         "HO11Y_BIND_ADDRESS=::1",
                         "HO11Y_LOG_LEVEL=warn",
                         "HO11Y_LOG_FORMAT=text",
                         NULL};
    struct gen_config c;
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK(c.failure_percent == 12.5);
    CHECK(!c.failure_legacy);
    CHECK_INT_EQ(c.nfailure_codes, 3);
    CHECK_INT_EQ(c.failure_codes[1], 503);
    CHECK_INT_EQ(c.latency_fixed_ns, 40000000);
    CHECK_INT_EQ(c.latency_jitter_ns, 10000000);
    CHECK(c.parallel);
    CHECK_INT_EQ(c.downstream_timeout_ns, 1500000000);
    CHECK_INT_EQ(c.cutoff_tps, 20);
    CHECK_INT_EQ(c.port, 0);
    CHECK_STR_EQ(c.bind_address, "::1");
    CHECK_INT_EQ(c.log_level, LOG_LEVEL_WARN);
    CHECK_INT_EQ(c.log_format, LOG_FORMAT_TEXT);
    gen_config_cleanup(&c);
}

TEST(latency_forms)
{
    const char *forms[] = {"HO11Y_LATENCY=40ms,10ms", "HO11Y_LATENCY=fixed=40ms,jitter=10ms",
                           "HO11Y_LATENCY=jitter=10ms,fixed=40ms"};
    for (size_t i = 0; i < 3; i++) {
        const char *env[] = {forms[i], NULL};
        struct gen_config c;
        CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
        CHECK_INT_EQ(c.latency_fixed_ns, 40000000);
        CHECK_INT_EQ(c.latency_jitter_ns, 10000000);
        gen_config_cleanup(&c);
    }
    const char *only[] = {"HO11Y_LATENCY=250ms", NULL};
    struct gen_config c;
    CHECK_INT_EQ(load(&c, only, NULL, 0), HO11Y_OK);
    CHECK_INT_EQ(c.latency_fixed_ns, 250000000);
    CHECK_INT_EQ(c.latency_jitter_ns, 0);
    gen_config_cleanup(&c);
}

TEST(endpoint_precedence)
{
    struct gen_config c;
    const char *both[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://a:4318",
                          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://b:9999/custom", NULL};
    CHECK_INT_EQ(load(&c, both, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.otlp_url, "https://b:9999/custom"); /* per-signal URL used as is */
    CHECK_STR_EQ(c.otlp_url_from, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    CHECK_INT_EQ(c.nwarnings, 0);
    gen_config_cleanup(&c);
    const char *base[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://a:4318", NULL};
    CHECK_INT_EQ(load(&c, base, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.otlp_url, "http://a:4318/v1/traces");
    gen_config_cleanup(&c);
    const char *slash[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://a:4318/otlp/", NULL};
    CHECK_INT_EQ(load(&c, slash, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.otlp_url, "http://a:4318/otlp/v1/traces");
    gen_config_cleanup(&c);
    /* The operator sets the upstream gRPC address and ours: ours wins, nothing to warn about. */
    const char *operator_env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=col:4317",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://col:4318/v1/traces",
                                  NULL};
    CHECK_INT_EQ(load(&c, operator_env, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.otlp_url, "http://col:4318/v1/traces");
    CHECK_INT_EQ(c.nwarnings, 0);
    gen_config_cleanup(&c);
    const char *none[] = {"OTEL_TRACES_EXPORTER=none", NULL};
    CHECK_INT_EQ(load(&c, none, NULL, 0), HO11Y_OK);
    CHECK(!c.export_enabled);
    gen_config_cleanup(&c);
    const char *off[] = {"OTEL_SDK_DISABLED=true", NULL};
    CHECK_INT_EQ(load(&c, off, NULL, 0), HO11Y_OK);
    CHECK(!c.export_enabled);
    gen_config_cleanup(&c);
}

TEST(headers_and_bsp)
{
    const char *env[] = {"OTEL_EXPORTER_OTLP_HEADERS=api-key=secret%20one, x-tenant = a",
                         "OTEL_EXPORTER_OTLP_TRACES_HEADERS=X-Tenant=b",
                         "OTEL_BSP_SCHEDULE_DELAY=100",
                         "OTEL_BSP_MAX_QUEUE_SIZE=100",
                         "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10",
                         "OTEL_BSP_EXPORT_TIMEOUT=2000",
                         "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=500",
                         NULL};
    struct gen_config c;
    char err[256];
    CHECK_INT_EQ(load(&c, env, err, sizeof(err)), HO11Y_OK);
    CHECK_INT_EQ(c.notlp_headers, 2);
    CHECK_STR_EQ(c.otlp_headers[0], "api-key: secret one");
    CHECK_STR_EQ(c.otlp_headers[1], "X-Tenant: b"); /* the traces variable overrides */
    CHECK_INT_EQ(c.bsp_delay_ns, 100000000);
    CHECK_INT_EQ(c.bsp_queue_max, 100);
    CHECK_INT_EQ(c.bsp_batch_max, 10);
    CHECK_INT_EQ(c.bsp_export_timeout_ns, 2000000000);
    CHECK_INT_EQ(c.otlp_timeout_ns, 500000000);
    gen_config_cleanup(&c);
}

TEST(service_name_and_resource)
{
    struct gen_config c;
    const char *attrs[] = {
        "OTEL_RESOURCE_ATTRIBUTES=service.name=from-list,deployment.environment=dev%2Cx", NULL};
    CHECK_INT_EQ(load(&c, attrs, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.service_name, "from-list");
    CHECK_INT_EQ(c.nresource, 2);
    CHECK_STR_EQ(c.resource_keys[1], "deployment.environment");
    CHECK_STR_EQ(c.resource_values[1], "dev,x");
    gen_config_cleanup(&c);
    const char *upstream[] = {"OTEL_RESOURCE_ATTRIBUTES=service.name=from-list",
                              "OTEL_RESOURCE_ATTRIB=frontend", NULL};
    CHECK_INT_EQ(load(&c, upstream, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.service_name, "frontend");
    gen_config_cleanup(&c);
    const char *ours[] = {"OTEL_SERVICE_NAME=svc", "OTEL_RESOURCE_ATTRIB=frontend", NULL};
    CHECK_INT_EQ(load(&c, ours, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.service_name, "svc");
    CHECK_INT_EQ(c.nwarnings, 1);
    gen_config_cleanup(&c);
}

TEST(load_mode)
{
    struct gen_config c;
    const char *env[] = {"HO11Y_LOAD_TARGET=http://frontend:8765/", "HO11Y_LOAD_RATE=2.5",
                         "HO11Y_LOAD_CONCURRENCY=8", "HO11Y_LOAD_DURATION=1m", NULL};
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK_STR_EQ(c.load_target, "http://frontend:8765/");
    CHECK(c.load_rate == 2.5);
    CHECK_INT_EQ(c.load_concurrency, 8);
    CHECK_INT_EQ(c.load_duration_ns, 60LL * 1000000000);
    gen_config_cleanup(&c);
}

TEST(connect_to_entries)
{
    struct gen_config c;
    const char *env[] = {"HO11Y_CONNECT_TO=backend:8765:127.0.0.1:40001, ghost:80:127.0.0.1:9 ,"
                         "::127.0.0.1:,[::1]:443:[fe80::1]:8443,x:1::2,"
                         "A-b.c_d:65535:localhost:1",
                         NULL};
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK_INT_EQ(c.nconnect_to, 6);
    CHECK_STR_EQ(c.connect_to[0], "backend:8765:127.0.0.1:40001");
    CHECK_STR_EQ(c.connect_to[1], "ghost:80:127.0.0.1:9"); /* blanks around entries cut */
    CHECK_STR_EQ(c.connect_to[2], "::127.0.0.1:");         /* any host, any port */
    CHECK_STR_EQ(c.connect_to[3], "[::1]:443:[fe80::1]:8443");
    CHECK_STR_EQ(c.connect_to[4], "x:1::2"); /* same host, another port */
    CHECK_INT_EQ(c.nwarnings, 0);
    gen_config_cleanup(&c);
}

TEST(load_requests)
{
    struct gen_config c;
    const char *env[] = {"HO11Y_LOAD_TARGET=http://frontend/", "HO11Y_LOAD_RATE=5",
                         "HO11Y_LOAD_REQUESTS=30", NULL};
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK_INT_EQ(c.load_requests, 30);
    CHECK_INT_EQ(c.nwarnings, 0);
    gen_config_cleanup(&c);
}

TEST(warnings_for_surprises)
{
    struct gen_config c;
    const char *env[] = {"HO11Y_INJECT_FAILURE=false", "HO11Y_FAILURE_RAET=5", NULL};
    CHECK_INT_EQ(load(&c, env, NULL, 0), HO11Y_OK);
    CHECK(c.failure_percent == 49.0); /* upstream: any non-empty value turns failures on */
    CHECK_INT_EQ(c.nwarnings, 2);
    CHECK_STR_CONTAINS(c.warnings[0], "HO11Y_INJECT_FAILURE=false");
    CHECK_STR_CONTAINS(c.warnings[1], "HO11Y_FAILURE_RAET");
    gen_config_cleanup(&c);
}

/* Every malformed value is refused with an error that starts with its variable's name. */
TEST(malformed_values_name_the_variable)
{
    static const struct {
        const char *entry;
        const char *variable;
    } cases[] = {
        {"HO11Y_PORT=abc", "HO11Y_PORT"},
        {"HO11Y_PORT=65536", "HO11Y_PORT"},
        {"HO11Y_PORT=-1", "HO11Y_PORT"},
        {"HO11Y_PORT= 80", "HO11Y_PORT"},
        {"HO11Y_PORT=8080x", "HO11Y_PORT"},
        {"HO11Y_BIND_ADDRESS=localhost", "HO11Y_BIND_ADDRESS"},
        {"HO11Y_LOG_DEST=file", "HO11Y_LOG_DEST"},
        {"HO11Y_LOG_LEVEL=loud", "HO11Y_LOG_LEVEL"},
        {"HO11Y_LOG_FORMAT=xml", "HO11Y_LOG_FORMAT"},
        {"HO11Y_CUTOFF_TPS=ten", "HO11Y_CUTOFF_TPS"},
        {"HO11Y_CUTOFF_TPS=-5", "HO11Y_CUTOFF_TPS"},
        {"HO11Y_CUTOFF_TPS=1.5", "HO11Y_CUTOFF_TPS"},
        {"HO11Y_FAILURE_RATE=101", "HO11Y_FAILURE_RATE"},
        {"HO11Y_FAILURE_RATE=-1", "HO11Y_FAILURE_RATE"},
        {"HO11Y_FAILURE_RATE=half", "HO11Y_FAILURE_RATE"},
        {"HO11Y_FAILURE_RATE=1e2", "HO11Y_FAILURE_RATE"},
        {"HO11Y_FAILURE_RATE=5.", "HO11Y_FAILURE_RATE"},
        {"HO11Y_FAILURE_CODES=600", "HO11Y_FAILURE_CODES"},
        {"HO11Y_FAILURE_CODES=500,", "HO11Y_FAILURE_CODES"},
        {"HO11Y_FAILURE_CODES=500;503", "HO11Y_FAILURE_CODES"},
        {"HO11Y_FAILURE_CODES=99", "HO11Y_FAILURE_CODES"},
        {"HO11Y_LATENCY=fast", "HO11Y_LATENCY"},
        {"HO11Y_LATENCY=10ms+", "HO11Y_LATENCY"},
        {"HO11Y_LATENCY=-10ms", "HO11Y_LATENCY"},
        {"HO11Y_LATENCY=61s", "HO11Y_LATENCY"},
        {"HO11Y_LATENCY=fixed=1s,speed=2", "HO11Y_LATENCY"},
        {"HO11Y_PARALLEL=maybe", "HO11Y_PARALLEL"},
        {"HO11Y_DOWNSTREAM_TIMEOUT=10", "HO11Y_DOWNSTREAM_TIMEOUT"},
        {"HO11Y_DOWNSTREAM_TIMEOUT=0s", "HO11Y_DOWNSTREAM_TIMEOUT"},
        {"HO11Y_THREADS=0", "HO11Y_THREADS"},
        {"HO11Y_MAX_CONNECTIONS=lots", "HO11Y_MAX_CONNECTIONS"},
        {"HO11Y_IDLE_TIMEOUT=100ms", "HO11Y_IDLE_TIMEOUT"},
        {"HO11Y_SHUTDOWN_TIMEOUT=forever", "HO11Y_SHUTDOWN_TIMEOUT"},
        {"DOWNSTREAM0=downstream0", "DOWNSTREAM0"},
        {"DOWNSTREAM0=ftp://x/", "DOWNSTREAM0"},
        {"DOWNSTREAM1=http://", "DOWNSTREAM1"},
        {"DOWNSTREAM2=http://a b/", "DOWNSTREAM2"},
        {"DOWNSTREAM3=DUMMY", "DOWNSTREAM3"},
        {"DOWNSTREAM4=DUMMY:187kB", "DOWNSTREAM4"},
        {"DOWNSTREAM5=DUMMY:187kB:42ms:x", "DOWNSTREAM5"},
        {"DOWNSTREAM6=DUMMY:187Kb:42ms", "DOWNSTREAM6"},
        {"DOWNSTREAM7=DUMMY:1.5kB:42ms", "DOWNSTREAM7"},
        {"DOWNSTREAM8=DUMMY:65MiB:1ms", "DOWNSTREAM8"},
        {"DOWNSTREAM9=DUMMY:1kB:42", "DOWNSTREAM9"},
        {"DOWNSTREAM10=DUMMY:1kB:61s", "DOWNSTREAM10"},
        {"DOWNSTREAM11=DUMMY:1kB:-1s", "DOWNSTREAM11"},
        {"DOWNSTREAM16=http://x/", "DOWNSTREAM"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=grpc://x:4317", "OTEL_EXPORTER_OTLP_ENDPOINT"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=host:port", "OTEL_EXPORTER_OTLP_ENDPOINT"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=a b:4317", "OTEL_EXPORTER_OTLP_ENDPOINT"},
        {"OTEL_EXPORTER_OTLP_HEADERS=novalue", "OTEL_EXPORTER_OTLP_HEADERS"},
        {"OTEL_EXPORTER_OTLP_HEADERS=a=%zz", "OTEL_EXPORTER_OTLP_HEADERS"},
        {"OTEL_EXPORTER_OTLP_HEADERS=bad name=1", "OTEL_EXPORTER_OTLP_HEADERS"},
        {"OTEL_EXPORTER_OTLP_HEADERS=x=a%0d%0ab", "OTEL_EXPORTER_OTLP_HEADERS"},
        {"OTEL_EXPORTER_OTLP_HEADERS=content-type=text/plain", "OTEL_EXPORTER_OTLP_HEADERS"},
        {"OTEL_EXPORTER_OTLP_TRACES_HEADERS==v", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_PROTOCOL"},
        {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
        {"OTEL_EXPORTER_OTLP_COMPRESSION=gzip", "OTEL_EXPORTER_OTLP_COMPRESSION"},
        {"OTEL_EXPORTER_OTLP_TIMEOUT=10s", "OTEL_EXPORTER_OTLP_TIMEOUT"},
        {"OTEL_EXPORTER_OTLP_CERTIFICATE=/nonexistent/ca.pem", "OTEL_EXPORTER_OTLP_CERTIFICATE"},
        {"OTEL_TRACES_EXPORTER=zipkin", "OTEL_TRACES_EXPORTER"},
        {"OTEL_SDK_DISABLED=perhaps", "OTEL_SDK_DISABLED"},
        {"OTEL_BSP_SCHEDULE_DELAY=5s", "OTEL_BSP_SCHEDULE_DELAY"},
        {"OTEL_BSP_MAX_QUEUE_SIZE=0", "OTEL_BSP_MAX_QUEUE_SIZE"},
        {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=abc", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"},
        {"OTEL_BSP_EXPORT_TIMEOUT=0", "OTEL_BSP_EXPORT_TIMEOUT"},
        {"OTEL_RESOURCE_ATTRIBUTES=noequals", "OTEL_RESOURCE_ATTRIBUTES"},
        {"OTEL_RESOURCE_ATTRIBUTES==v", "OTEL_RESOURCE_ATTRIBUTES"},
        {"HO11Y_LOAD_RATE=5", "HO11Y_LOAD_TARGET"},
        {"HO11Y_LOAD_TARGET=http://x/", "HO11Y_LOAD_RATE"},
        {"HO11Y_LOAD_CONCURRENCY=0", "HO11Y_LOAD_CONCURRENCY"},
        {"HO11Y_LOAD_DURATION=soon", "HO11Y_LOAD_DURATION"},
        {"HO11Y_LOAD_REQUESTS=0", "HO11Y_LOAD_REQUESTS"},
        {"HO11Y_LOAD_REQUESTS=1e3", "HO11Y_LOAD_REQUESTS"},
        {"HO11Y_CONNECT_TO=backend:8765", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=backend:8765:127.0.0.1", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b:2:c", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b:2,", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=,a:1:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b:2;c:1:d:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:http:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:0:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b:65536", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b:-2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a b:1:c:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1:b/c:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=[::1:1:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=[zz]:1:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=::1:1:b:2", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=a:1::", "HO11Y_CONNECT_TO"},
        {"HO11Y_CONNECT_TO=http://a:1:b:2", "HO11Y_CONNECT_TO"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[3] = {cases[i].entry, NULL, NULL};
        /* The load pair needs its partner to reach the value checks. */
        if (strncmp(cases[i].entry, "HO11Y_LOAD_CONCURRENCY", 22) == 0 ||
            strncmp(cases[i].entry, "HO11Y_LOAD_DURATION", 19) == 0)
            env[1] = NULL;
        struct gen_config c;
        char err[512] = "";
        enum ho11y_err r = load(&c, env, err, sizeof(err));
        if (r != HO11Y_CONFIG)
            test__fail(__FILE__, __LINE__, "%s was accepted", cases[i].entry);
        size_t n = strlen(cases[i].variable);
        if (strncmp(err, cases[i].variable, n) != 0)
            test__fail(__FILE__, __LINE__, "%s: error does not start with %s: \"%s\"",
                       cases[i].entry, cases[i].variable, err);
        CHECK(c.service_name == NULL); /* left empty */
    }
    /* Values are quoted, with control characters escaped, so logs stay one line. */
    const char *ctl[] = {"HO11Y_PORT=8\n\"x", NULL};
    struct gen_config c;
    char err[256];
    CHECK_INT_EQ(load(&c, ctl, err, sizeof(err)), HO11Y_CONFIG);
    CHECK_STR_CONTAINS(err, "HO11Y_PORT: invalid value \"8\\x0a\\x22x\"");
}

TEST(oversized_values_are_refused)
{
    static char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix; big ends in a zero byte */
    memcpy(big, "DOWNSTREAM0=http://", 19);
    const char *env[] = {big, NULL};
    struct gen_config c;
    char err[256];
    CHECK_INT_EQ(load(&c, env, err, sizeof(err)), HO11Y_CONFIG);
    CHECK_STR_CONTAINS(err, "DOWNSTREAM0: invalid value");
    CHECK_STR_CONTAINS(err, "...");
}
