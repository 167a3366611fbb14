#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "kube/kube_client.h"
#include "op_metrics.h"
#include "test.h"

TEST(op_metrics_histogram_text)
{
    static const double bounds[3] = {1e-8, 0.005, 60};
    const unsigned long long buckets[3] = {0, 2, 3};
    struct hbuf out;
    hbuf_init(&out, 1 << 16);
    op_metrics_write_header(&out, "x_seconds", "histogram", "How long x takes");
    op_metrics_write_histogram(&out, "x_seconds", "verb=\"GET\"", bounds, buckets, 3, 1.25, 4);
    op_metrics_write_histogram(&out, "y_seconds", "", bounds, buckets, 1, 0.5, 1);
    CHECK_STR_EQ(hbuf_str(&out), "# HELP x_seconds How long x takes\n"
                                 "# TYPE x_seconds histogram\n"
                                 "x_seconds_bucket{verb=\"GET\",le=\"1e-08\"} 0\n"
                                 "x_seconds_bucket{verb=\"GET\",le=\"0.005\"} 2\n"
                                 "x_seconds_bucket{verb=\"GET\",le=\"60\"} 3\n"
                                 "x_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 4\n"
                                 "x_seconds_sum{verb=\"GET\"} 1.25\n"
                                 "x_seconds_count{verb=\"GET\"} 4\n"
                                 "y_seconds_bucket{le=\"1e-08\"} 0\n"
                                 "y_seconds_bucket{le=\"+Inf\"} 1\n"
                                 "y_seconds_sum 0.5\n"
                                 "y_seconds_count 1\n");
    hbuf_cleanup(&out);
}

TEST(op_metrics_reconcile_histogram)
{
    struct op_metrics m;
    op_metrics_init(&m);
    op_metrics_observe(&m, OP_METRICS_SUCCESS, 0.004);
    op_metrics_observe(&m, OP_METRICS_ERROR, 0.3);
    op_metrics_observe(&m, OP_METRICS_SUCCESS, 100);
    struct hbuf out;
    hbuf_init(&out, 1 << 16);
    op_metrics_write(&m, "topology", &out);
    const char *s = hbuf_str(&out);
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_total{controller=\"topology\","
                          "result=\"success\"} 2\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_errors_total{controller=\"topology\"} 1\n");
    CHECK_STR_CONTAINS(s, "# TYPE controller_runtime_reconcile_time_seconds histogram\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_bucket{controller="
                          "\"topology\",le=\"0.005\"} 1\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_bucket{controller="
                          "\"topology\",le=\"0.3\"} 2\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_bucket{controller="
                          "\"topology\",le=\"60\"} 2\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_bucket{controller="
                          "\"topology\",le=\"+Inf\"} 3\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_sum{controller=\"topology\"} "
                          "100.304\n");
    CHECK_STR_CONTAINS(s, "controller_runtime_reconcile_time_seconds_count{controller="
                          "\"topology\"} 3\n");
    hbuf_cleanup(&out);
    op_metrics_cleanup(&m);
}

/* The host label of the REST client families: the server URL's host and port, as client-go
 * takes them from url.URL.Host. */
TEST(op_metrics_rest_host_label)
{
    static const char *const cases[][2] = {{"https://10.0.0.1:6443", "10.0.0.1:6443"},
                                           {"https://[::1]:6443/", "[::1]:6443"},
                                           {"https://api.example", "api.example"},
                                           {"http://127.0.0.1:8001/prefix", "127.0.0.1:8001"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char server[64];
        snprintf(server, sizeof(server), "%s", cases[i][0]);
        struct kube_config cfg = {0};
        cfg.server = server;
        struct kube_client *c = NULL;
        CHECK_INT_EQ(kube_client_new(&cfg, NULL, &c, NULL, 0), HO11Y_OK);
        CHECK_STR_EQ(kube_client_host(c), cases[i][1]);
        kube_client_free(c);
    }
}
