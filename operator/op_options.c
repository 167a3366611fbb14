#include "op_options.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/constants.h"
#include "common/units.h"
#include "op_http.h"
#include "op_leader.h"

enum opt_type {
    OPT_STR,
    OPT_INT,
    OPT_BOOL,
    OPT_DURATION,
    OPT_LEVEL,
    OPT_FORMAT,
    OPT_ADDR,    /* host:port, :port or 0 */
    OPT_QPS,     /* requests per second, decimals allowed; 0 for none */
    OPT_POLICY,  /* an image pull policy */
    OPT_CLI_BOOL /* a boolean read from the command line only (--help, --version) */
};

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    const char *help;
};

#define OFF(f) offsetof(struct op_options, f)

static const struct opt opts[] = {
    {"kubeconfig", OPT_STR, OFF(kubeconfig),
     "kubeconfig file (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)"},
    {"context", OPT_STR, OFF(context), "kubeconfig context (default: current-context)"},
    {"namespace", OPT_STR, OFF(ns), "watch only this namespace (default: every namespace)"},
    {"workers", OPT_INT, OFF(workers), "Topologies reconciled at once (default 4)"},
    {"generator-image", OPT_STR, OFF(generator_image),
     "generator image for Topologies that name none (default " TOPO_DEFAULT_GENERATOR_IMAGE ")"},
    {"collector-image", OPT_STR, OFF(collector_image),
     "collector image for Topologies that name none (default " TOPO_DEFAULT_COLLECTOR_IMAGE ")"},
    {"image-pull-policy", OPT_POLICY, OFF(image_pull_policy),
     "pull policy for Topologies that name none (default " TOPO_DEFAULT_PULL_POLICY ")"},
    {"leader-elect", OPT_BOOL, OFF(leader_elect),
     "reconcile only while holding the leader Lease (for more than one replica)"},
    {"leader-elect-id", OPT_STR, OFF(leader_elect_id),
     "name of the leader Lease (default ho11y-operator-leader)"},
    {"leader-elect-namespace", OPT_STR, OFF(leader_elect_namespace),
     "namespace of the leader Lease (default: $POD_NAMESPACE, the service account's or the "
     "kubeconfig context's namespace, else default)"},
    {"leader-elect-lease-duration", OPT_DURATION, OFF(lease_duration_ms),
     "how long a leader's lease is valid (default 15s)"},
    {"leader-elect-renew-deadline", OPT_DURATION, OFF(renew_deadline_ms),
     "how long the leader keeps trying to renew before it stops leading (default 10s)"},
    {"leader-elect-retry-period", OPT_DURATION, OFF(retry_period_ms),
     "how often to try to acquire or renew the lease (default 2s)"},
    {"graceful-shutdown-timeout", OPT_DURATION, OFF(shutdown_timeout_ms),
     "how long SIGTERM waits for postponed status writes and reconciles in flight (default 30s)"},
    {"cache-sync-timeout", OPT_DURATION, OFF(cache_sync_timeout_ms),
     "how long the first list of every watched kind may take before the operator gives up and "
     "exits 1, e.g. when the API server's certificate is not trusted (default 2m)"},
    {"sync-period", OPT_DURATION, OFF(sync_period_ms),
     "how often every Topology is reconciled again although nothing changed, a safety net for "
     "missed changes; each period varies by up to 10 % (default 10h)"},
    {"kube-api-qps", OPT_QPS, OFF(kube_api_qps),
     "client-side limit of API requests per second, on average; 0 sends without waiting and "
     "leaves the limiting to the API server's priority and fairness (default 0)"},
    {"kube-api-burst", OPT_INT, OFF(kube_api_burst),
     "API requests sent at once before --kube-api-qps spaces them (default 10)"},
    {"metrics-addr", OPT_ADDR, OFF(metrics_addr),
     "address of /metrics, host:port or :port; 0 disables (default :8080)"},
    {"health-addr", OPT_ADDR, OFF(health_addr),
     "address of /healthz and /readyz; 0 disables (default :8081)"},
    {"log-level", OPT_LEVEL, OFF(log_level), "debug, info, warn or error (default info)"},
    {"log-format", OPT_FORMAT, OFF(log_format), "text or json (default text)"},
    {"help", OPT_CLI_BOOL, OFF(help), "print this help and exit"},
    {"version", OPT_CLI_BOOL, OFF(version), "print the version and exit"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void op_options_usage(FILE *f)
{
    fprintf(f, "Usage: ho11y-operator [flags]\n\n"
               "Runs the Topology controller (ho11y.dev/v1alpha1): reconciles Deployments,\n"
               "Services, the collector ConfigMap and ServiceAccounts for every Topology.\n\n"
               "Flags (each but --help and --version also read from HO11Y_<FLAG>, e.g.\n"
               "HO11Y_METRICS_ADDR; a flag given on the command line wins over its variable):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        int bool_flag = opts[i].type == OPT_BOOL || opts[i].type == OPT_CLI_BOOL;
        fprintf(f, "  --%s%s\n      %s\n", opts[i].name, bool_flag ? "" : " VALUE", opts[i].help);
    }
    fprintf(f, "\nIn a cluster the service-account folder (token, ca.crt, namespace) can be moved "
               "with HO11Y_SERVICEACCOUNT_DIR.\n"
               "SIGTERM or SIGINT: stop taking work, finish reconciles in flight, release the "
               "lease, exit 0; a second signal exits at once.\n");
}

static enum ho11y_err set_value(const struct opt *op, const char *value, const char *source,
                                struct op_options *o, char *err, size_t errlen)
{
    char *base = (char *)o;
    char *end;
    switch (op->type) {
    case OPT_STR:
        *(const char **)(base + op->offset) = value;
        return HO11Y_OK;
    case OPT_ADDR: {
        char host[256];
        int port, enabled;
        if (op_http_parse_addr(value, host, sizeof(host), &port, &enabled)) {
            snprintf(err, errlen,
                     "%s: invalid address \"%s\": want host:port (an IPv4 host or localhost), "
                     ":port or 0",
                     source, value);
            return HO11Y_INVAL;
        }
        *(const char **)(base + op->offset) = value;
        return HO11Y_OK;
    }
    case OPT_QPS: {
        double v = strtod(value, &end);
        if (end == value || *end || !(v >= 0 && v <= 100000)) {
            snprintf(err, errlen,
                     "%s: invalid value \"%s\": want requests per second from 0 to "
                     "100000",
                     source, value);
            return HO11Y_INVAL;
        }
        *(double *)(base + op->offset) = v;
        return HO11Y_OK;
    }
    case OPT_POLICY:
        if (!value[0]) /* the default, as an empty value of any flag */
            return HO11Y_OK;
        if (strcmp(value, "Always") != 0 && strcmp(value, "IfNotPresent") != 0 &&
            strcmp(value, "Never") != 0) {
            snprintf(err, errlen, "%s: invalid value \"%s\": want Always, IfNotPresent or Never",
                     source, value);
            return HO11Y_INVAL;
        }
        *(const char **)(base + op->offset) = value;
        return HO11Y_OK;
    case OPT_INT: {
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 1 || v > 1024) {
            snprintf(err, errlen, "%s: invalid value \"%s\": want an integer from 1 to 1024",
                     source, value);
            return HO11Y_INVAL;
        }
        *(int *)(base + op->offset) = (int)v;
        return HO11Y_OK;
    }
    case OPT_BOOL:
    case OPT_CLI_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(int *)(base + op->offset) = 1;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(int *)(base + op->offset) = 0;
        else {
            snprintf(err, errlen, "%s: invalid value \"%s\": want true or false", source, value);
            return HO11Y_INVAL;
        }
        return HO11Y_OK;
    case OPT_DURATION: {
        int64_t ns = 0;
        if (ho11y_duration_parse(value, &ns) || ns < 1000000) {
            snprintf(err, errlen, "%s: invalid duration \"%s\": want 1ms or more (e.g. 15s, 500ms)",
                     source, value);
            return HO11Y_INVAL;
        }
        *(int64_t *)(base + op->offset) = ns / 1000000;
        return HO11Y_OK;
    }
    case OPT_LEVEL:
        if (log_level_parse(value, (enum log_level *)(base + op->offset))) {
            snprintf(err, errlen, "%s: invalid level \"%s\": want debug, info, warn or error",
                     source, value);
            return HO11Y_INVAL;
        }
        return HO11Y_OK;
    case OPT_FORMAT:
        if (log_format_parse(value, (enum log_format *)(base + op->offset))) {
            snprintf(err, errlen, "%s: invalid format \"%s\": want text or json", source, value);
            return HO11Y_INVAL;
        }
        return HO11Y_OK;
    }
    return HO11Y_INVAL;
}

enum ho11y_err op_options_parse(int argc, char **argv, struct op_options *o, char *err,
                                size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->workers = 4;
    o->generator_image = TOPO_DEFAULT_GENERATOR_IMAGE;
    o->collector_image = TOPO_DEFAULT_COLLECTOR_IMAGE;
    o->leader_elect_id = "ho11y-operator-leader";
    o->lease_duration_ms = 15000;
    o->renew_deadline_ms = 10000;
    o->retry_period_ms = 2000;
    o->shutdown_timeout_ms = 30000;
    o->cache_sync_timeout_ms = 120000;
    o->sync_period_ms = 10LL * 3600 * 1000;
    o->kube_api_burst = 10;
    o->metrics_addr = ":8080";
    o->health_addr = ":8081";
    o->log_level = LOG_LEVEL_INFO;
    o->log_format = LOG_FORMAT_TEXT;
    enum ho11y_err r;
    unsigned char given[NOPTS] = {0};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
            return HO11Y_INVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = NOPTS;
        for (size_t i = 0; i < NOPTS; i++)
            if (strlen(opts[i].name) == nlen && strncmp(opts[i].name, name, nlen) == 0)
                k = i;
        if (k == NOPTS) {
            snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)nlen, name);
            return HO11Y_INVAL;
        }
        const struct opt *op = &opts[k];
        const char *value = eq ? eq + 1 : NULL;
        if (!value && (op->type == OPT_BOOL || op->type == OPT_CLI_BOOL))
            value = "true";
        if (!value) {
            if (a + 1 >= argc) {
                snprintf(err, errlen, "flag --%s needs a value", op->name);
                return HO11Y_INVAL;
            }
            value = argv[++a];
        }
        char source[80];
        snprintf(source, sizeof(source), "--%s", op->name);
        if ((r = set_value(op, value, source, o, err, errlen)))
            return r;
        given[k] = 1;
    }
    /* --help and --version answer whatever the rest holds. */
    if (o->help || o->version)
        return HO11Y_OK;
    /* Then the environment, for what the command line left unset. */
    for (size_t i = 0; i < NOPTS; i++) {
        if (given[i] || opts[i].type == OPT_CLI_BOOL)
            continue;
        char env[64] = "HO11Y_";
        size_t n = strlen(env);
        for (const char *p = opts[i].name; *p && n < sizeof(env) - 1; p++)
            env[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && v[0] && (r = set_value(&opts[i], v, env, o, err, errlen)))
            return r;
    }
    if (o->leader_elect && (r = op_leader_check_timings(o->lease_duration_ms, o->renew_deadline_ms,
                                                        o->retry_period_ms, err, errlen)))
        return r;
    if (o->ns && !o->ns[0])
        o->ns = NULL;
    return HO11Y_OK;
}
