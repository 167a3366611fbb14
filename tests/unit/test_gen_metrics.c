/* The metrics registry and its exposition formats. */
#include "common/buf.h"
#include "generator/metrics.h"
#include "test.h"

static char *render(struct metrics_registry *reg, enum metrics_format fmt)
{
    struct hbuf b;
    size_t len = 0;
    hbuf_init(&b, 1 << 20);
    CHECK_INT_EQ(metrics_render(reg, fmt, &b), HO11Y_OK);
    return hbuf_steal(&b, &len);
}

TEST(labelled_family_without_children_is_not_exposed)
{
    static const char *const code[] = {"http_status_code"};
    struct metrics_registry *reg = metrics_registry_new();
    struct metric_family *total = metrics_family_add(reg, METRIC_COUNTER, "ho11y_total",
                                                     "Total ho11y invokes.", code, 1, NULL, 0);
    CHECK(total != NULL);
    CHECK(metrics_family_add(reg, METRIC_GAUGE, "ho11y_randval", "A random value.", NULL, 0, NULL,
                             0) != NULL);
    char *text = render(reg, METRICS_FORMAT_TEXT);
    CHECK(strstr(text, "ho11y_total") == NULL);
    CHECK_STR_CONTAINS(text, "# TYPE ho11y_randval gauge\nho11y_randval 0\n");
    free(text);
    metrics_inc(metrics_child(total, (const char *const[]){"200"}));
    text = render(reg, METRICS_FORMAT_OM_1_0_0);
    CHECK_STR_CONTAINS(text, "# TYPE ho11y counter\nho11y_total{http_status_code=\"200\"} 1.0\n");
    CHECK_STR_CONTAINS(text, "# EOF\n");
    free(text);
    metrics_registry_free(reg);
}

TEST(histogram_exemplar_only_in_openmetrics)
{
    static const double buckets[] = {0.1, 1};
    struct metrics_registry *reg = metrics_registry_new();
    struct metric *h = metrics_single(
        metrics_family_add(reg, METRIC_HISTOGRAM, "d_seconds", "D.", NULL, 0, buckets, 2));
    metrics_observe_exemplar(h, 0.5, "traceid", "1-6b130c04-65fc9579878d3d237fbe9d47");
    char *text = render(reg, METRICS_FORMAT_TEXT);
    CHECK_STR_CONTAINS(text, "d_seconds_bucket{le=\"1\"} 1\nd_seconds_bucket{le=\"+Inf\"} 1\n");
    CHECK(strstr(text, "traceid") == NULL);
    free(text);
    text = render(reg, METRICS_FORMAT_OM_1_0_0);
    CHECK_STR_CONTAINS(text, "d_seconds_bucket{le=\"1.0\"} 1 # "
                             "{traceid=\"1-6b130c04-65fc9579878d3d237fbe9d47\"} 0.5 ");
    free(text);
    metrics_registry_free(reg);
}
