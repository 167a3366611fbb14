/*
 * Every name and number of the Topology API that other parts of the project (the operator, the
 * generator, ho11yctl, the chart, the CRD) must agree on: the API group, label and annotation
 * keys, environment variable names, ports, object name suffixes, defaults and limits.
 * The CRD (crds/ho11y.dev_topologies.yaml) repeats the limits and defaults; a test checks that
 * the two agree.
 */
#ifndef HO11Y_API_CONSTANTS_H
#define HO11Y_API_CONSTANTS_H

/* The API. */
#define TOPO_GROUP       "ho11y.dev"
#define TOPO_VERSION     "v1alpha1"
#define TOPO_API_VERSION TOPO_GROUP "/" TOPO_VERSION
#define TOPO_KIND        "Topology"
#define TOPO_PLURAL      "topologies"

/* Labels on every object the operator creates (DESIGN §4); values: see the comments. */
#define TOPO_LABEL_MANAGED_BY    "app.kubernetes.io/managed-by" /* TOPO_MANAGED_BY_VALUE */
#define TOPO_LABEL_PART_OF       "app.kubernetes.io/part-of"    /* TOPO_PART_OF_VALUE */
#define TOPO_LABEL_INSTANCE      "app.kubernetes.io/instance"   /* the Topology's name */
#define TOPO_LABEL_COMPONENT     "app.kubernetes.io/component"  /* TOPO_COMPONENT_* */
#define TOPO_LABEL_TOPOLOGY      "ho11y.dev/topology"           /* the Topology's name */
#define TOPO_LABEL_APP           "app" /* the object's name, as in the recipe's selectors */
#define TOPO_MANAGED_BY_VALUE    "ho11y-operator"
#define TOPO_PART_OF_VALUE       "ho11y"
#define TOPO_COMPONENT_GENERATOR "generator"
#define TOPO_COMPONENT_COLLECTOR "collector"
#define TOPO_COMPONENT_LOAD      "load"
/* Label and annotation keys under this prefix are the operator's; users may not set them. */
#define TOPO_RESERVED_KEY_PREFIX "ho11y.dev/"
/* Pod annotation on the collector: SHA-256 of its config, so a config change rolls the pods. */
#define TOPO_ANNOTATION_CONFIG_HASH "ho11y.dev/config-hash"
/* ServiceAccount annotation for IAM roles for service accounts (EKS). */
#define TOPO_ANNOTATION_ROLE_ARN "eks.amazonaws.com/role-arn"

/* Generator containers. */
#define TOPO_GENERATOR_CONTAINER "ho11y"
#define TOPO_GENERATOR_PORT      8765
#define TOPO_GENERATOR_PORT_NAME "http"
/*
 * Command run in generator and load containers when the image is the operator's own (the image
 * carries ho11y, ho11yctl and ho11y-operator). A user-supplied spec.image runs its own entry
 * point, as the upstream ho11y image does.
 */
#define TOPO_GENERATOR_COMMAND    "ho11y"
#define TOPO_LOAD_CONTAINER       "load"
#define TOPO_DEFAULT_SERVICE_PORT 80

/* Collector objects and ports (Managed mode). */
#define TOPO_COLLECTOR_SUFFIX       "-collector" /* ConfigMap, Deployment, Service, SA: T-collector */
#define TOPO_COLLECTOR_CONTAINER    "otel-collector"
#define TOPO_COLLECTOR_CONFIG_KEY   "config.yaml"
#define TOPO_COLLECTOR_CONFIG_DIR   "/conf"
#define TOPO_COLLECTOR_VOLUME       "config"
#define TOPO_OTLP_GRPC_PORT         4317
#define TOPO_OTLP_HTTP_PORT         4318
#define TOPO_COLLECTOR_METRICS_PORT 8888
#define TOPO_COLLECTOR_HEALTH_PORT  13133
#define TOPO_PORT_NAME_OTLP_GRPC    "otlp-grpc"
#define TOPO_PORT_NAME_OTLP_HTTP    "otlp-http"
#define TOPO_PORT_NAME_METRICS      "metrics"
#define TOPO_PORT_NAME_HEALTH       "health"
#define TOPO_OTLP_TRACES_PATH       "/v1/traces"

/* Load driver (when spec.load is set). */
#define TOPO_LOAD_SUFFIX "-load" /* Deployment T-load */

/*
 * Environment of generator containers, in the order the renderer writes them (DESIGN §4).
 * Values: DISABLE_OM "on", HO11Y_LOG_DEST "stdout", OTEL_RESOURCE_ATTRIB and OTEL_SERVICE_NAME
 * the service name, OTEL_EXPORTER_OTLP_ENDPOINT "host:4317" (gRPC, no scheme, for the upstream
 * generator), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "http://host:4318/v1/traces" (OTLP/HTTP JSON,
 * ours), HO11Y_INJECT_FAILURE "enabled" when failures are on, DOWNSTREAM0.. one per call
 * ("http://svc" plus ":port" unless 80, a URL as given, or "DUMMY:<size>:<duration>").
 */
#define TOPO_ENV_DISABLE_OM        "DISABLE_OM"
#define TOPO_ENV_LOG_DEST          "HO11Y_LOG_DEST"
#define TOPO_ENV_RESOURCE_ATTRIB   "OTEL_RESOURCE_ATTRIB"
#define TOPO_ENV_SERVICE_NAME      "OTEL_SERVICE_NAME"
#define TOPO_ENV_OTLP_ENDPOINT     "OTEL_EXPORTER_OTLP_ENDPOINT"
#define TOPO_ENV_OTLP_TRACES       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
#define TOPO_ENV_INJECT_FAILURE    "HO11Y_INJECT_FAILURE"
#define TOPO_ENV_DOWNSTREAM_PREFIX "DOWNSTREAM" /* DOWNSTREAM0, DOWNSTREAM1, ... */
/* Our generator's own knobs; each is set only when it changes behaviour. */
#define TOPO_ENV_FAILURE_RATE  "HO11Y_FAILURE_RATE"  /* integer percent 0..100 */
#define TOPO_ENV_FAILURE_CODES "HO11Y_FAILURE_CODES" /* "400,403,301,404,501" */
#define TOPO_ENV_LATENCY       "HO11Y_LATENCY"       /* "<fixed>[+<jitter>]", Go durations */
#define TOPO_ENV_PARALLEL      "HO11Y_PARALLEL"      /* "true" */
#define TOPO_ENV_CUTOFF_TPS    "HO11Y_CUTOFF_TPS"    /* integer > 0 (upstream name) */
#define TOPO_ENV_PORT          "HO11Y_PORT"          /* never set: the port is fixed */
#define TOPO_ENV_BIND_ADDRESS  "HO11Y_BIND_ADDRESS"  /* never set: pods listen on every address */
#define TOPO_ENV_LOAD_TARGET   "HO11Y_LOAD_TARGET"   /* "http://<target>[:port]/" */
#define TOPO_ENV_LOAD_RATE     "HO11Y_LOAD_RATE"     /* integer requests per second */
#define TOPO_DUMMY_PREFIX      "DUMMY:"

/* Defaults (the CRD schema carries the same ones). */
#define TOPO_DEFAULT_COLLECTOR_MODE "Managed"
#define TOPO_DEFAULT_FAILURE_RATE   49 /* upstream: rand.Intn(100) > 50 */
#define TOPO_DEFAULT_FAILURE_CODES                                                                 \
    {                                                                                              \
        400, 403, 301, 404, 501                                                                    \
    }
#define TOPO_DEFAULT_DURATION    "0s"
#define TOPO_DEFAULT_DUMMY_SIZE  "0"
#define TOPO_DEFAULT_LOAD_RATE   5
#define TOPO_DEFAULT_PULL_POLICY "IfNotPresent"
/* Images used when neither the Topology nor the operator's flags name one. */
#define TOPO_DEFAULT_GENERATOR_IMAGE "ho11y-operator:" HO11Y_VERSION
#define TOPO_DEFAULT_COLLECTOR_IMAGE "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"

/* Limits (DESIGN §3). */
#define TOPO_MAX_NAME_LEN         40 /* metadata.name: leaves room for "-collector" */
#define TOPO_MAX_SERVICE_NAME_LEN 50
#define TOPO_MAX_SERVICES         64
#define TOPO_MAX_CALLS            16
#define TOPO_MAX_REPLICAS         1000
#define TOPO_MAX_DUMMY_SIZE       (64ull << 20) /* 64MiB */
#define TOPO_MAX_DUMMY_SIZE_TEXT  "64MiB"
#define TOPO_MAX_DURATION_NS      (60ll * 1000000000ll) /* 60s */
#define TOPO_MAX_DURATION_TEXT    "60s"
#define TOPO_MAX_FAILURE_CODES    16
#define TOPO_MAX_CUTOFF_TPS       1000000
#define TOPO_MAX_LOAD_RATE        10000
#define TOPO_MAX_ENV              64
#define TOPO_MAX_URL_LEN          2048
#define TOPO_MAX_STRING_LEN       1024 /* images, hosts, endpoints, env values */
#define TOPO_MAX_LABELS           64   /* podLabels and podAnnotations, each */
#define TOPO_MAX_ANNOTATION_VALUE 4096

#endif
