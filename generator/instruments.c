#include "generator/instruments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/proc.h"
#include "generator/trace.h"

void gen_instruments_init(struct gen_instruments *ins, struct metrics_registry *reg)
{
    static const double randhist_buckets[] = {-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5};
    static const double duration_buckets[] = {0.0001, 0.0002, 0.0004, 0.0008, 0.0016,
                                              0.0032, 0.0064, 0.0128, 0.0256, 0.0512};
    static const double request_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    static const char *const code[] = {"http_status_code"}, *const ds[] = {"downstream"};
    static const char *const ds_reason[] = {"downstream", "reason"};
    memset(ins, 0, sizeof(*ins));
    ins->reg = reg;
    ins->total = metrics_family_add(reg, METRIC_COUNTER, "ho11y_total", "Total ho11y invokes.",
                                    code, 1, NULL, 0);
    ins->randval = metrics_single(metrics_family_add(reg, METRIC_GAUGE, "ho11y_randval",
                                                     "A random value.", NULL, 0, NULL, 0));
    ins->randhist = metrics_single(metrics_family_add(
        reg, METRIC_HISTOGRAM, "ho11y_randhist",
        "A histogram of normally distributed random numbers.", NULL, 0, randhist_buckets, 10));
    ins->payload = metrics_family_add(reg, METRIC_SUMMARY, "ho11y_downstream_payload_bytes",
                                      "HTTP body size received from a downstream.", ds, 1, NULL, 0);
    ins->duration = metrics_single(metrics_family_add(
        reg, METRIC_HISTOGRAM, "ho11y_downstream_duration_seconds",
        "Duration taken for invoking a downstream.", NULL, 0, duration_buckets, 10));
    ins->downstream_errors = metrics_family_add(
        reg, METRIC_COUNTER, "ho11y_downstream_errors_total",
        "Downstream calls that failed without an HTTP response, by kind of failure.", ds_reason, 2,
        NULL, 0);
    ins->request_duration = metrics_single(metrics_family_add(
        reg, METRIC_HISTOGRAM, "ho11y_request_duration_seconds",
        "Time to answer GET /, downstream calls included.", NULL, 0, request_buckets, 14));
    ins->in_flight =
        metrics_single(metrics_family_add(reg, METRIC_GAUGE, "ho11y_requests_in_flight",
                                          "GET / requests being answered.", NULL, 0, NULL, 0));
}

struct metric *gen_instruments_total(struct gen_instruments *ins, int code)
{
    if (code < 100 || code > 599)
        return NULL;
    struct metric *m = atomic_load_explicit(&ins->total_by_code[code], memory_order_acquire);
    if (m)
        return m;
    char label[8];
    snprintf(label, sizeof(label), "%d", code);
    m = metrics_child(ins->total, (const char *const[]){label});
    atomic_store_explicit(&ins->total_by_code[code], m, memory_order_release);
    return m;
}

void gen_instruments_randomize(struct gen_instruments *ins)
{
    metrics_set(ins->randval, gen_rand_normal());
    metrics_observe(ins->randhist, gen_rand_normal());
}

/* Field n (1-based) of /proc/self/statm, in bytes. */
static double statm_bytes(int field)
{
    unsigned long long v[2] = {0, 0};
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    /* NOLINTNEXTLINE(cert-err34-c): the kernel writes these numbers */
    if (fscanf(f, "%llu %llu", &v[0], &v[1]) != 2)
        v[0] = v[1] = 0;
    fclose(f);
    return (double)v[field - 1] * (double)sysconf(_SC_PAGESIZE);
}

static double proc_rss(void *arg)
{
    (void)arg;
    return statm_bytes(2);
}

static double proc_vsize(void *arg)
{
    (void)arg;
    return statm_bytes(1);
}

static double proc_rss_peak(void *arg)
{
    (void)arg;
    char line[256];
    double kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtod(line + 6, NULL);
    fclose(f);
    return kb * 1024;
}

static double proc_cpu(void *arg)
{
    (void)arg;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double proc_fds(void *arg)
{
    (void)arg;
    return (double)proc_open_fds();
}

static double rlimit_value(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        return 0;
    return rl.rlim_cur == RLIM_INFINITY ? 18446744073709551615.0 : (double)rl.rlim_cur;
}

static double proc_max_fds(void *arg)
{
    (void)arg;
    return rlimit_value(RLIMIT_NOFILE);
}

static double proc_vmax(void *arg)
{
    (void)arg;
    return rlimit_value(RLIMIT_AS);
}

static double start_time_s;

static double proc_start(void *arg)
{
    (void)arg;
    return start_time_s;
}

void gen_process_metrics_register(struct metrics_registry *reg)
{
    start_time_s = proc_start_time();
    metrics_family_add_func(reg, METRIC_COUNTER, "process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", proc_cpu, NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_resident_memory_bytes",
                            "Resident memory size in bytes.", proc_rss, NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_virtual_memory_bytes",
                            "Virtual memory size in bytes.", proc_vsize, NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_virtual_memory_max_bytes",
                            "Maximum amount of virtual memory available in bytes.", proc_vmax,
                            NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", proc_start,
                            NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_open_fds",
                            "Number of open file descriptors.", proc_fds, NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "process_max_fds",
                            "Maximum number of open file descriptors.", proc_max_fds, NULL);
    metrics_family_add_func(reg, METRIC_GAUGE, "ho11y_process_resident_memory_peak_bytes",
                            "Peak resident memory size in bytes (VmHWM).", proc_rss_peak, NULL);
}
