/*
 * The operator's command line: every flag but --help and --version may also come from the
 * environment as HO11Y_<FLAG> (upper case, dashes as underscores: --metrics-addr =
 * HO11Y_METRICS_ADDR); a flag on the command line wins, and its variable is then not read.
 */
#ifndef HO11Y_OP_OPTIONS_H
#define HO11Y_OP_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/log.h"

struct op_options {
    const char *kubeconfig; /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
    const char *context;
    const char *ns; /* NULL: every namespace */
    int workers;
    const char *generator_image;
    const char *collector_image;
    const char *image_pull_policy;
    int leader_elect;
    const char *leader_elect_id;
    const char *leader_elect_namespace; /* NULL: POD_NAMESPACE, the config's namespace, default */
    int64_t lease_duration_ms;
    int64_t renew_deadline_ms;
    int64_t retry_period_ms;
    int64_t shutdown_timeout_ms;
    int64_t cache_sync_timeout_ms; /* exit 1 when the caches do not sync at start within this */
    int64_t sync_period_ms;        /* every Topology is reconciled again this often (+-10 %) */
    double kube_api_qps;           /* client-side rate limit of API requests; 0: none */
    int kube_api_burst;
    const char *metrics_addr;
    const char *health_addr;
    enum log_level log_level;
    enum log_format log_format;
    int help;
    int version;
};

/**
 * Parses argv (and the environment) into *o; strings point into argv or the environment.
 * HO11Y_INVAL with a message naming the flag in err otherwise.
 */
enum ho11y_err op_options_parse(int argc, char **argv, struct op_options *o, char *err,
                                size_t errlen);

/** Prints the usage text. */
void op_options_usage(FILE *f);

#endif
