/*
 * Rendering of the objects the operator creates (api/render.h): the recipe's Deployments and
 * Services (tests/data/recipe/), golden files of the full output (tests/data/golden/, see its
 * README for how to regenerate them), YAML/JSON parity, defaults, determinism (also from
 * several threads), External mode, the load driver, the collector's config hash and the
 * images taken from the render options.
 */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/constants.h"
#include "api/render.h"
#include "api/topology.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/doc.h"
#include "common/yamlout.h"
#include "test.h"

#define GEN_IMAGE "ho11y:golden"
#define COL_IMAGE "otel-collector:golden"

/* Path of a file of the source tree (examples/...). Static buffer. */
static const char *source_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("HO11Y_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", rel);
    return path;
}

/* Loads the one Topology of text (other documents, like a Namespace, are skipped). */
static struct topology *load_text(const char *text, size_t len)
{
    struct doc_set docs;
    char err[512] = "";
    struct topology *t = NULL;
    if (doc_parse(text, len, NULL, &docs, err, sizeof(err)) != HO11Y_OK)
        test__fail(__FILE__, __LINE__, "doc_parse: %s", err);
    for (size_t i = 0; i < docs.count && !t; i++) {
        if (!topo_is_topology(docs.docs[i].root))
            continue;
        struct field_errors errs;
        field_errors_init(&errs);
        if (topo_load(docs.docs[i].root, &docs.docs[i], TOPO_PARSE_STRICT, &t, &errs) != HO11Y_OK) {
            char *msg = field_errors_join(&errs);
            test__fail(__FILE__, __LINE__, "topo_load: %s", msg);
        }
        field_errors_cleanup(&errs);
    }
    doc_set_cleanup(&docs);
    CHECK(t != NULL);
    return t;
}

static struct topology *load_path(const char *path)
{
    size_t len = 0;
    char *text = test_read_file(path, &len);
    struct topology *t = load_text(text, len);
    free(text);
    return t;
}

static cJSON *render(const struct topology *t, const char *gen, const char *col)
{
    struct topo_render_opts opts = {.generator_image = gen, .collector_image = col};
    cJSON *objects = NULL;
    char err[1024] = "";
    if (topo_render(t, &opts, &objects, err, sizeof(err)) != HO11Y_OK)
        test__fail(__FILE__, __LINE__, "topo_render: %s", err);
    CHECK(cJSON_IsArray(objects));
    return objects;
}

/* The objects as `ho11yctl render` prints them: "---" and one YAML document each. */
static char *emit_yaml(const cJSON *objects)
{
    struct hbuf b;
    hbuf_init(&b, (size_t)64 << 20);
    for (const cJSON *o = objects->child; o; o = o->next) {
        CHECK_INT_EQ(hbuf_adds(&b, "---\n"), HO11Y_OK);
        CHECK_INT_EQ(yaml_emit(o, &b), HO11Y_OK);
    }
    return hbuf_steal(&b, NULL);
}

static char *render_yaml(const struct topology *t)
{
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    char *text = emit_yaml(objects);
    cJSON_Delete(objects);
    return text;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/*
 * The node at a dotted path with [n] indexes ("spec.template.spec.containers[0].env"); NULL
 * when any step is missing. Keys with dots (label keys) are looked up with member().
 */
static const cJSON *at(const cJSON *node, const char *path)
{
    char key[128];
    const char *p = path;
    while (node && *p) {
        size_t n = strcspn(p, ".[");
        if (n) {
            CHECK(n < sizeof(key));
            memcpy(key, p, n);
            key[n] = '\0';
            node = member(node, key);
            p += n;
        }
        while (node && *p == '[') {
            char *end = NULL;
            long i = strtol(p + 1, &end, 10);
            CHECK(end && *end == ']');
            node = cJSON_GetArrayItem(node, (int)i);
            p = end + 1;
        }
        if (*p == '.')
            p++;
    }
    return node;
}

static const char *str_at(const cJSON *node, const char *path)
{
    const cJSON *v = at(node, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *find_obj(const cJSON *objects, const char *kind, const char *name)
{
    for (const cJSON *o = objects->child; o; o = o->next) {
        const char *k = str_at(o, "kind"), *n = str_at(o, "metadata.name");
        if (k && n && strcmp(k, kind) == 0 && strcmp(n, name) == 0)
            return o;
    }
    return NULL;
}

static size_t count_kind(const cJSON *objects, const char *kind)
{
    size_t n = 0;
    for (const cJSON *o = objects->child; o; o = o->next) {
        const char *k = str_at(o, "kind");
        if (k && strcmp(k, kind) == 0)
            n++;
    }
    return n;
}

/* The value of the env entry name, or NULL. */
static const char *env_value(const cJSON *env, const char *name)
{
    for (const cJSON *e = env ? env->child : NULL; e; e = e->next) {
        const char *n = str_at(e, "name");
        if (n && strcmp(n, name) == 0)
            return str_at(e, "value");
    }
    return NULL;
}

/* Every key of want is in got with the same string value. */
static void check_map_superset(const cJSON *got, const cJSON *want, const char *what)
{
    CHECK(cJSON_IsObject(got));
    for (const cJSON *w = want->child; w; w = w->next) {
        const cJSON *g = member(got, w->string);
        if (!cJSON_IsString(g) || strcmp(g->valuestring, w->valuestring) != 0)
            test__fail(__FILE__, __LINE__, "%s: %s is %s, the recipe has %s", what, w->string,
                       cJSON_IsString(g) ? g->valuestring : "(missing)", w->valuestring);
    }
}

/*
 * The recipe's env list is found, in order, in ours (ours adds entries in between), with the
 * recipe's values; the entries named in `differs` are only checked for presence and order.
 */
static void check_env_subsequence(const cJSON *got, const cJSON *want, const char *differs,
                                  const char *what)
{
    const cJSON *g = got->child;
    for (const cJSON *w = want->child; w; w = w->next) {
        const char *name = str_at(w, "name"), *value = str_at(w, "value");
        while (g && strcmp(str_at(g, "name"), name) != 0)
            g = g->next;
        if (!g)
            test__fail(__FILE__, __LINE__, "%s: env %s missing or out of the recipe's order", what,
                       name);
        if (!(differs && strcmp(differs, name) == 0))
            if (strcmp(str_at(g, "value"), value) != 0)
                test__fail(__FILE__, __LINE__, "%s: env %s is \"%s\", the recipe has \"%s\"", what,
                           name, str_at(g, "value"), value);
        g = g->next;
    }
}

/* The container port a Service's targetPort reaches in the Deployment's container. */
static long long resolve_target_port(const cJSON *svc_port, const cJSON *container)
{
    const cJSON *tp = member(svc_port, "targetPort");
    if (cJSON_IsNumber(tp))
        return (long long)tp->valuedouble;
    CHECK(cJSON_IsString(tp));
    for (const cJSON *p = member(container, "ports")->child; p; p = p->next)
        if (strcmp(str_at(p, "name"), tp->valuestring) == 0)
            return (long long)at(p, "containerPort")->valuedouble;
    test__fail(__FILE__, __LINE__, "targetPort %s names no container port", tp->valuestring);
}

/*
 * Compares our rendering of t with every Deployment and Service of the recipe: exactly the
 * recipe's generator Deployments and Services, same names, selectors (ours may add labels),
 * ports and env values. endpoint_differs names the env entry whose value may differ (the
 * collector address in Managed mode), or NULL.
 */
static void check_against_recipe(const cJSON *objects, const char *endpoint_differs)
{
    size_t len = 0;
    char *text = test_read_file(test_data_path("recipe/x-ray-sample-app.yaml"), &len);
    struct doc_set recipe;
    CHECK_INT_EQ(doc_parse(text, len, NULL, &recipe, NULL, 0), HO11Y_OK);
    size_t deployments = 0, services = 0;
    for (size_t i = 0; i < recipe.count; i++) {
        const cJSON *want = recipe.docs[i].root;
        const char *kind = str_at(want, "kind"), *name = str_at(want, "metadata.name");
        const cJSON *got = find_obj(objects, kind, name);
        if (!got)
            test__fail(__FILE__, __LINE__, "no %s %s rendered", kind, name);
        const cJSON *dep = find_obj(objects, "Deployment", name);
        const cJSON *ctr = at(dep, "spec.template.spec.containers[0]");
        if (strcmp(kind, "Deployment") == 0) {
            deployments++;
            CHECK_STR_EQ(str_at(ctr, "name"),
                         str_at(want, "spec.template.spec.containers[0].name"));
            check_map_superset(at(got, "spec.selector.matchLabels"),
                               at(want, "spec.selector.matchLabels"), name);
            check_map_superset(at(got, "spec.template.metadata.labels"),
                               at(want, "spec.template.metadata.labels"), name);
            /* The recipe's replicas: 1 is the cluster's default for an unset count. */
            const cJSON *replicas = at(got, "spec.replicas");
            CHECK(!replicas || replicas->valuedouble == at(want, "spec.replicas")->valuedouble);
            const cJSON *wctr = at(want, "spec.template.spec.containers[0]");
            CHECK_INT_EQ(at(ctr, "ports[0].containerPort")->valuedouble,
                         at(wctr, "ports[0].containerPort")->valuedouble);
            CHECK_INT_EQ(cJSON_GetArraySize(member(ctr, "ports")), 1);
            check_env_subsequence(member(ctr, "env"), member(wctr, "env"), endpoint_differs, name);
        } else {
            services++;
            CHECK_STR_EQ(kind, "Service");
            check_map_superset(at(got, "spec.selector"), at(want, "spec.selector"), name);
            /* The Service selects exactly the Deployment's pods. */
            check_map_superset(at(dep, "spec.template.metadata.labels"), at(got, "spec.selector"),
                               name);
            CHECK_INT_EQ(cJSON_GetArraySize(at(got, "spec.ports")),
                         cJSON_GetArraySize(at(want, "spec.ports")));
            CHECK_INT_EQ(at(got, "spec.ports[0].port")->valuedouble,
                         at(want, "spec.ports[0].port")->valuedouble);
            CHECK_INT_EQ(resolve_target_port(at(got, "spec.ports[0]"), ctr),
                         at(want, "spec.ports[0].targetPort")->valuedouble);
        }
    }
    /* Exactly the recipe's generator objects: nothing more of the generator component. */
    size_t ours_d = 0, ours_s = 0;
    for (const cJSON *o = objects->child; o; o = o->next) {
        const cJSON *c = member(at(o, "metadata.labels"), TOPO_LABEL_COMPONENT);
        if (!cJSON_IsString(c) || strcmp(c->valuestring, TOPO_COMPONENT_GENERATOR) != 0)
            continue;
        if (strcmp(str_at(o, "kind"), "Deployment") == 0)
            ours_d++;
        else if (strcmp(str_at(o, "kind"), "Service") == 0)
            ours_s++;
        else
            test__fail(__FILE__, __LINE__, "unexpected generator %s", str_at(o, "kind"));
    }
    CHECK_INT_EQ(deployments, 3);
    CHECK_INT_EQ(services, 3);
    CHECK_INT_EQ(ours_d, deployments);
    CHECK_INT_EQ(ours_s, services);
    doc_set_cleanup(&recipe);
    free(text);
}

TEST(recipe_objects_managed)
{
    struct topology *t = load_path(source_path("examples/xray-sample.yaml"));
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    /* The recipe's own collector lives elsewhere; ours is the Topology's collector. */
    check_against_recipe(objects, TOPO_ENV_OTLP_ENDPOINT);
    const cJSON *env =
        at(find_obj(objects, "Deployment", "frontend"), "spec.template.spec.containers[0].env");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_OTLP_ENDPOINT), "xray-sample-collector:4317");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_OTLP_TRACES),
                 "http://xray-sample-collector:4318/v1/traces");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_SERVICE_NAME), "frontend");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_FAILURE_RATE), "49");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_FAILURE_CODES), "400,403,301,404,501");
    /* Our labels on top of the recipe's. */
    const cJSON *labels = at(find_obj(objects, "Deployment", "frontend"), "metadata.labels");
    CHECK_STR_EQ(str_at(labels, "app"), "frontend");
    CHECK_STR_EQ(member(labels, TOPO_LABEL_MANAGED_BY)->valuestring, "ho11y-operator");
    CHECK_STR_EQ(member(labels, TOPO_LABEL_PART_OF)->valuestring, "ho11y");
    CHECK_STR_EQ(member(labels, TOPO_LABEL_INSTANCE)->valuestring, "xray-sample");
    CHECK_STR_EQ(member(labels, TOPO_LABEL_TOPOLOGY)->valuestring, "xray-sample");
    CHECK_STR_EQ(str_at(find_obj(objects, "Service", "frontend"), "metadata.namespace"),
                 "example-app");
    /* Plus the Managed collector: SA, ConfigMap, Service, Deployment. */
    CHECK_INT_EQ(cJSON_GetArraySize(objects), 10);
    CHECK(find_obj(objects, "ServiceAccount", "xray-sample-collector"));
    CHECK(find_obj(objects, "ConfigMap", "xray-sample-collector"));
    CHECK(find_obj(objects, "Service", "xray-sample-collector"));
    CHECK(find_obj(objects, "Deployment", "xray-sample-collector"));
    cJSON_Delete(objects);
    topo_free(t);
}

TEST(recipe_objects_external)
{
    /* The recipe's graph sending to the recipe's own collector: every env value of the recipe,
     * the collector address included, comes out exactly, and nothing else is created. */
    struct topology *t = load_path(source_path("examples/external-collector.yaml"));
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    check_against_recipe(objects, NULL);
    CHECK_INT_EQ(cJSON_GetArraySize(objects), 6);
    cJSON_Delete(objects);
    topo_free(t);
}

/* Inputs of the golden files: tests/data/golden/<name>.yaml is the rendering of <source>. */
static const struct {
    const char *name;
    const char *source; /* relative to the source tree */
} goldens[] = {
    {"xray-sample", "examples/xray-sample.yaml"},
    {"deep-graph", "examples/deep-graph.yaml"},
    {"external-collector", "examples/external-collector.yaml"},
    {"full", "tests/data/topologies/valid/full.yaml"},
    {"minimal", "tests/data/topologies/valid/minimal.yaml"},
    {"external", "tests/data/topologies/valid/external.yaml"},
};

/* Prints the first line where got and want differ. */
static void report_diff(const char *file, const char *got, const char *want)
{
    int line = 1;
    size_t i = 0, start = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    fprintf(stderr, "%s: first difference at line %d:\n  got:      %.*s\n  expected: %.*s\n", file,
            line, (int)strcspn(got + start, "\n"), got + start, (int)strcspn(want + start, "\n"),
            want + start);
}

TEST(golden_files)
{
    const char *update = getenv("HO11Y_UPDATE_GOLDEN");
    size_t failures = 0;
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        struct topology *t = load_path(source_path(goldens[i].source));
        char *got = render_yaml(t);
        char rel[256], path[4096];
        snprintf(rel, sizeof(rel), "golden/%s.yaml", goldens[i].name);
        snprintf(path, sizeof(path), "%s", test_data_path(rel));
        if (update && *update && strcmp(update, "0") != 0) {
            FILE *f = fopen(path, "wb");
            CHECK(f != NULL);
            CHECK_INT_EQ(fwrite(got, 1, strlen(got), f), strlen(got));
            CHECK_INT_EQ(fclose(f), 0);
            fprintf(stderr, "wrote %s\n", path);
        } else {
            char *want = test_read_file(path, NULL);
            if (strcmp(got, want) != 0) {
                report_diff(path, got, want);
                failures++;
            }
            free(want);
        }
        free(got);
        topo_free(t);
    }
    if (failures)
        fprintf(stderr, "rendering changed; if intended, regenerate the golden files as "
                        "tests/data/golden/README.md says and review the diff\n");
    CHECK_INT_EQ(failures, 0);
}

TEST(yaml_json_parity)
{
    /* The same Topologies written by hand in JSON (other key order, other layout). */
    static const char *const pairs[][2] = {
        {"examples/xray-sample.yaml", "tests/data/render/xray-sample.json"},
        {"tests/data/topologies/valid/full.yaml", "tests/data/render/full.json"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char yaml_path[4096];
        snprintf(yaml_path, sizeof(yaml_path), "%s", source_path(pairs[i][0]));
        struct topology *ty = load_path(yaml_path);
        struct topology *tj = load_path(source_path(pairs[i][1]));
        char *ry = render_yaml(ty), *rj = render_yaml(tj);
        if (strcmp(ry, rj) != 0)
            report_diff(pairs[i][1], rj, ry);
        CHECK_STR_EQ(rj, ry);
        free(ry);
        free(rj);
        topo_free(ty);
        topo_free(tj);
    }
    /* Every valid fixture, printed as JSON by cJSON and read back: the same rendering. */
    static const char *const files[] = {"boundaries.yaml", "external.yaml", "full.yaml",
                                        "large-64x16.yaml", "minimal.yaml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char rel[256];
        size_t len = 0;
        snprintf(rel, sizeof(rel), "topologies/valid/%s", files[i]);
        char *text = test_read_file(test_data_path(rel), &len);
        struct doc_set docs;
        CHECK_INT_EQ(doc_parse(text, len, NULL, &docs, NULL, 0), HO11Y_OK);
        char *json = cJSON_Print(docs.docs[0].root);
        struct topology *ty = load_text(text, len), *tj = load_text(json, strlen(json));
        char *ry = render_yaml(ty), *rj = render_yaml(tj);
        CHECK_STR_EQ(rj, ry);
        free(ry);
        free(rj);
        topo_free(ty);
        topo_free(tj);
        free(json);
        doc_set_cleanup(&docs);
        free(text);
    }
}

TEST(defaults_applied)
{
    /* A Topology relying on every default renders exactly as one spelling them out. */
    static const char implicit[] = "apiVersion: ho11y.dev/v1alpha1\nkind: Topology\n"
                                   "metadata: {name: d}\n"
                                   "spec:\n"
                                   "  services:\n"
                                   "  - name: a\n"
                                   "    failure: {}\n"
                                   "    latency: {}\n"
                                   "    calls: [{service: b}, {dummy: {}}]\n"
                                   "  - name: b\n"
                                   "  load: {target: a}\n";
    static const char explicit_[] =
        "apiVersion: ho11y.dev/v1alpha1\nkind: Topology\n"
        "metadata: {name: d}\n"
        "spec:\n"
        "  collector:\n"
        "    mode: Managed\n"
        "    exporters: {awsxray: {enabled: true}}\n"
        "  services:\n"
        "  - name: a\n"
        "    port: 80\n"
        "    failure: {rate: 49, codes: [400, 403, 301, 404, 501]}\n"
        "    latency: {fixed: 0s, jitter: 0s}\n"
        "    calls: [{service: b}, {dummy: {size: \"0\", duration: 0s}}]\n"
        "  - name: b\n"
        "    port: 80\n"
        "  load: {target: a, rate: 5}\n";
    struct topology *ti = load_text(implicit, strlen(implicit));
    struct topology *te = load_text(explicit_, strlen(explicit_));
    CHECK_INT_EQ(topo_collector_mode(ti), TOPO_COLLECTOR_MANAGED);
    CHECK_INT_EQ(topo_service_port(&ti->services[1]), 80);
    CHECK(ti->load.rate.set && ti->load.rate.value == 5);
    char *ri = render_yaml(ti), *re = render_yaml(te);
    CHECK_STR_EQ(ri, re);
    free(ri);
    free(re);

    cJSON *objects = render(ti, GEN_IMAGE, COL_IMAGE);
    const cJSON *dep = find_obj(objects, "Deployment", "a");
    const cJSON *env = at(dep, "spec.template.spec.containers[0].env");
    CHECK(at(dep, "spec.replicas") == NULL); /* unset: left to the cluster and autoscalers */
    CHECK_STR_EQ(env_value(env, TOPO_ENV_INJECT_FAILURE), "enabled");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_FAILURE_RATE), "49");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_FAILURE_CODES), "400,403,301,404,501");
    CHECK_STR_EQ(env_value(env, "DOWNSTREAM0"), "http://b");
    CHECK_STR_EQ(env_value(env, "DOWNSTREAM1"), "DUMMY:0:0s");
    CHECK(env_value(env, TOPO_ENV_LATENCY) == NULL); /* zero latency: the knob stays off */
    CHECK(env_value(env, TOPO_ENV_PARALLEL) == NULL);
    CHECK(env_value(env, TOPO_ENV_CUTOFF_TPS) == NULL);
    CHECK_STR_EQ(str_at(dep, "spec.template.spec.containers[0].imagePullPolicy"), "IfNotPresent");
    CHECK_INT_EQ(at(find_obj(objects, "Service", "b"), "spec.ports[0].port")->valuedouble, 80);
    CHECK_STR_CONTAINS(
        member(at(find_obj(objects, "ConfigMap", "d-collector"), "data"), "config.yaml")
            ->valuestring,
        "exporters:\n  awsxray: {}\n");
    const cJSON *load_env =
        at(find_obj(objects, "Deployment", "d-load"), "spec.template.spec.containers[0].env");
    CHECK_STR_EQ(env_value(load_env, TOPO_ENV_LOAD_RATE), "5");
    cJSON_Delete(objects);
    topo_apply_defaults(ti); /* idempotent */
    char *again = render_yaml(ti);
    re = render_yaml(te);
    CHECK_STR_EQ(again, re);
    free(again);
    free(re);
    topo_free(ti);
    topo_free(te);
}

TEST(deterministic_output)
{
    struct topology *t = load_path(test_data_path("topologies/valid/full.yaml"));
    char *a = render_yaml(t), *b = render_yaml(t);
    CHECK_STR_EQ(a, b);
    free(a);
    free(b);
    topo_free(t);
    /* Reading the file again gives the same bytes too (no addresses, no time, no randomness). */
    struct topology *t1 = load_path(test_data_path("topologies/valid/large-64x16.yaml"));
    struct topology *t2 = load_path(test_data_path("topologies/valid/large-64x16.yaml"));
    a = render_yaml(t1);
    b = render_yaml(t2);
    CHECK_STR_EQ(a, b);
    CHECK(strlen(a) > 100000);
    free(a);
    free(b);
    topo_free(t1);
    topo_free(t2);
}

struct worker {
    pthread_t thread;
    const struct topology *shared; /* read by every thread at once */
    const char *expected;
    const char *text; /* parsed by each thread for itself */
    size_t len;
    int mismatches;
};

static void *render_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 4; i++) {
        cJSON *objects = NULL;
        struct topo_render_opts opts = {.generator_image = GEN_IMAGE, .collector_image = COL_IMAGE};
        if (topo_render(w->shared, &opts, &objects, NULL, 0) != HO11Y_OK) {
            w->mismatches++;
            continue;
        }
        char *got = emit_yaml(objects);
        w->mismatches += strcmp(got, w->expected) != 0;
        free(got);
        cJSON_Delete(objects);

        struct doc_set docs;
        struct field_errors errs;
        struct topology *own = NULL;
        field_errors_init(&errs);
        if (doc_parse(w->text, w->len, NULL, &docs, NULL, 0) != HO11Y_OK ||
            topo_load(docs.docs[0].root, &docs.docs[0], TOPO_PARSE_STRICT, &own, &errs) !=
                HO11Y_OK ||
            topo_render(own, &opts, &objects, NULL, 0) != HO11Y_OK) {
            w->mismatches++;
        } else {
            got = emit_yaml(objects);
            w->mismatches += strcmp(got, w->expected) != 0;
            free(got);
            cJSON_Delete(objects);
        }
        topo_free(own);
        field_errors_cleanup(&errs);
        doc_set_cleanup(&docs);
    }
    return NULL;
}

TEST(deterministic_across_threads)
{
    size_t len = 0;
    char *text = test_read_file(test_data_path("topologies/valid/large-64x16.yaml"), &len);
    struct topology *t = load_text(text, len);
    char *expected = render_yaml(t);
    struct worker workers[4];
    for (size_t i = 0; i < 4; i++) {
        workers[i] = (struct worker){.shared = t, .expected = expected, .text = text, .len = len};
        CHECK_INT_EQ(pthread_create(&workers[i].thread, NULL, render_worker, &workers[i]), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT_EQ(pthread_join(workers[i].thread, NULL), 0);
        CHECK_INT_EQ(workers[i].mismatches, 0);
    }
    free(expected);
    topo_free(t);
    free(text);
}

TEST(external_mode)
{
    struct topology *t = load_path(test_data_path("topologies/valid/external.yaml"));
    cJSON *objects = render(t, GEN_IMAGE, NULL); /* no collector image needed */
    CHECK_INT_EQ(cJSON_GetArraySize(objects), 6);
    CHECK_INT_EQ(count_kind(objects, "ConfigMap"), 0);
    CHECK_INT_EQ(count_kind(objects, "ServiceAccount"), 0);
    CHECK_INT_EQ(count_kind(objects, "Deployment"), 3);
    CHECK_INT_EQ(count_kind(objects, "Service"), 3);
    for (const cJSON *o = objects->child; o; o = o->next) {
        CHECK(strstr(str_at(o, "metadata.name"), "collector") == NULL);
        if (strcmp(str_at(o, "kind"), "Deployment") != 0)
            continue;
        const cJSON *env = at(o, "spec.template.spec.containers[0].env");
        CHECK_STR_EQ(env_value(env, TOPO_ENV_OTLP_ENDPOINT), "10.0.12.7:14317");
        CHECK_STR_EQ(env_value(env, TOPO_ENV_OTLP_TRACES), "http://10.0.12.7:14318/v1/traces");
    }
    /* Calls to a service on port 9000 carry the port; port 80 does not. */
    const cJSON *env =
        at(find_obj(objects, "Deployment", "a"), "spec.template.spec.containers[0].env");
    CHECK_STR_EQ(env_value(env, "DOWNSTREAM0"), "http://b:9000");
    CHECK_STR_EQ(env_value(env, "DOWNSTREAM1"), "http://c");
    CHECK_INT_EQ(at(find_obj(objects, "Service", "b"), "spec.ports[0].port")->valuedouble, 9000);
    cJSON_Delete(objects);
    char *grpc = NULL, *traces = NULL;
    topo_collector_endpoints(t, &grpc, &traces);
    CHECK_STR_EQ(grpc, "10.0.12.7:14317");
    CHECK_STR_EQ(traces, "http://10.0.12.7:14318/v1/traces");
    free(grpc);
    free(traces);
    topo_free(t);
}

TEST(load_deployment)
{
    struct topology *t = load_path(source_path("examples/deep-graph.yaml"));
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    /* The load driver is the last object, after the services it targets. */
    const cJSON *last = cJSON_GetArrayItem(objects, cJSON_GetArraySize(objects) - 1);
    const cJSON *d = find_obj(objects, "Deployment", "shop-load");
    CHECK(d != NULL && d == last);
    CHECK_INT_EQ(at(d, "spec.replicas")->valuedouble, 1);
    CHECK_STR_EQ(str_at(d, "metadata.namespace"), "shop");
    CHECK_STR_EQ(member(at(d, "metadata.labels"), TOPO_LABEL_COMPONENT)->valuestring, "load");
    CHECK_STR_EQ(str_at(d, "spec.selector.matchLabels.app"), "shop-load");
    const cJSON *c = at(d, "spec.template.spec.containers[0]");
    CHECK_STR_EQ(str_at(c, "image"), GEN_IMAGE);
    CHECK_STR_EQ(str_at(c, "command[0]"), "ho11y");
    const cJSON *env = member(c, "env");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_LOAD_TARGET), "http://gateway/");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_LOAD_RATE), "10");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_SERVICE_NAME), "shop-load");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_OTLP_TRACES), "http://shop-collector:4318/v1/traces");
    /* No Service for the load driver: nothing calls it. */
    CHECK(find_obj(objects, "Service", "shop-load") == NULL);
    cJSON_Delete(objects);
    topo_free(t);

    /* A target on another port; no load: no load Deployment. */
    static const char text[] = "apiVersion: ho11y.dev/v1alpha1\nkind: Topology\n"
                               "metadata: {name: l}\n"
                               "spec:\n  services: [{name: api, port: 8080}]\n"
                               "  load: {target: api, rate: 250}\n";
    t = load_text(text, strlen(text));
    objects = render(t, GEN_IMAGE, COL_IMAGE);
    env = at(find_obj(objects, "Deployment", "l-load"), "spec.template.spec.containers[0].env");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_LOAD_TARGET), "http://api:8080/");
    CHECK_STR_EQ(env_value(env, TOPO_ENV_LOAD_RATE), "250");
    cJSON_Delete(objects);
    topo_free(t);
    t = load_path(source_path("examples/xray-sample.yaml"));
    objects = render(t, GEN_IMAGE, COL_IMAGE);
    CHECK(find_obj(objects, "Deployment", "xray-sample-load") == NULL);
    cJSON_Delete(objects);
    topo_free(t);
}

/* SHA-256 computed here with OpenSSL directly, not through the code under test. */
static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void config_and_hash(const struct topology *t, const char *name, char **config,
                            char hash[65])
{
    char cm_name[128];
    snprintf(cm_name, sizeof(cm_name), "%s-collector", name);
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    const char *cfg =
        member(at(find_obj(objects, "ConfigMap", cm_name), "data"), "config.yaml")->valuestring;
    const char *h =
        member(at(find_obj(objects, "Deployment", cm_name), "spec.template.metadata.annotations"),
               TOPO_ANNOTATION_CONFIG_HASH)
            ->valuestring;
    CHECK(cfg != NULL);
    char want[65];
    sha256_hex(cfg, want);
    CHECK_STR_EQ(h, want);
    *config = xstrdup(cfg);
    snprintf(hash, 65, "%s", h);
    cJSON_Delete(objects);
}

TEST(config_hash_is_sha256_of_config)
{
    struct topology *t = load_path(source_path("examples/xray-sample.yaml"));
    char *config = NULL, hash[65];
    config_and_hash(t, "xray-sample", &config, hash);
    char *direct = topo_collector_config(t);
    CHECK_STR_EQ(config, direct);
    free(direct);
    /* A config change (another exporter) changes the hash, so the pods roll. */
    t->collector.debug_enabled = (struct topo_opt_bool){1, 1};
    char *config2 = NULL, hash2[65];
    config_and_hash(t, "xray-sample", &config2, hash2);
    CHECK_STR_CONTAINS(config2, "  debug: {}\n");
    CHECK(strcmp(hash, hash2) != 0);
    free(config);
    free(config2);
    topo_free(t);

    t = load_path(test_data_path("topologies/valid/full.yaml"));
    config_and_hash(t, "full", &config, hash);
    CHECK_STR_CONTAINS(config, "  awsxray:\n    region: us-gov-west-1\n");
    CHECK_STR_CONTAINS(config, "  otlp:\n    endpoint: https://tempo.example:4318/otlp\n");
    CHECK_STR_CONTAINS(config, "exporters:\n      - awsxray\n      - otlp\n      - debug\n");
    free(config);
    topo_free(t);
}

TEST(images_from_parameters)
{
    struct topology *t = load_path(source_path("examples/deep-graph.yaml"));
    cJSON *objects = render(t, "gen:one", "col:two");
    for (const cJSON *o = objects->child; o; o = o->next) {
        if (strcmp(str_at(o, "kind"), "Deployment") != 0)
            continue;
        const char *name = str_at(o, "metadata.name");
        const char *image = str_at(o, "spec.template.spec.containers[0].image");
        CHECK_STR_EQ(image, strcmp(name, "shop-collector") == 0 ? "col:two" : "gen:one");
    }
    cJSON_Delete(objects);
    objects = render(t, "gen:three", "col:four");
    CHECK_STR_EQ(str_at(find_obj(objects, "Deployment", "gateway"),
                        "spec.template.spec.containers[0].image"),
                 "gen:three");
    CHECK_STR_EQ(str_at(find_obj(objects, "Deployment", "shop-collector"),
                        "spec.template.spec.containers[0].image"),
                 "col:four");
    cJSON_Delete(objects);

    /* Missing defaults are an error, not an empty image. */
    struct topo_render_opts none = {0};
    char err[256] = "";
    objects = NULL;
    CHECK_INT_EQ(topo_render(t, &none, &objects, err, sizeof(err)), HO11Y_INVAL);
    CHECK(objects == NULL);
    CHECK_STR_CONTAINS(err, "no generator image");
    struct topo_render_opts gen_only = {.generator_image = "g"};
    CHECK_INT_EQ(topo_render(t, &gen_only, &objects, err, sizeof(err)), HO11Y_INVAL);
    CHECK_STR_CONTAINS(err, "no collector image");
    topo_free(t);

    /* Images in the Topology win over the parameters, except for the load driver, which is
     * always the operator's generator; a foreign image runs its own entry point. */
    t = load_path(test_data_path("topologies/valid/full.yaml"));
    objects = render(t, "gen:param", "col:param");
    const cJSON *edge =
        at(find_obj(objects, "Deployment", "edge"), "spec.template.spec.containers[0]");
    CHECK_STR_EQ(str_at(edge, "image"), "registry.example/ho11y:1.2.3");
    CHECK(member(edge, "command") == NULL);
    CHECK_STR_EQ(str_at(edge, "imagePullPolicy"), "Always");
    CHECK_STR_EQ(str_at(find_obj(objects, "Deployment", "full-collector"),
                        "spec.template.spec.containers[0].image"),
                 "otel/opentelemetry-collector-contrib:0.100.0");
    CHECK_STR_EQ(str_at(find_obj(objects, "Deployment", "full-load"),
                        "spec.template.spec.containers[0].image"),
                 "gen:param");
    cJSON_Delete(objects);
    topo_free(t);
}

TEST(owner_references_with_uid)
{
    struct topology *t = load_path(source_path("examples/xray-sample.yaml"));
    cJSON *objects = render(t, GEN_IMAGE, COL_IMAGE);
    for (const cJSON *o = objects->child; o; o = o->next)
        CHECK(at(o, "metadata.ownerReferences") == NULL);
    cJSON_Delete(objects);
    t->uid = xstrdup("0b9c6f5e-2a1d-4c6b-9a57-3f1e2d4c5b6a");
    objects = render(t, GEN_IMAGE, COL_IMAGE);
    for (const cJSON *o = objects->child; o; o = o->next) {
        const cJSON *ref = at(o, "metadata.ownerReferences[0]");
        CHECK_INT_EQ(cJSON_GetArraySize(at(o, "metadata.ownerReferences")), 1);
        CHECK_STR_EQ(str_at(ref, "apiVersion"), "ho11y.dev/v1alpha1");
        CHECK_STR_EQ(str_at(ref, "kind"), "Topology");
        CHECK_STR_EQ(str_at(ref, "name"), "xray-sample");
        CHECK_STR_EQ(str_at(ref, "uid"), "0b9c6f5e-2a1d-4c6b-9a57-3f1e2d4c5b6a");
        CHECK(cJSON_IsTrue(member(ref, "controller")));
        CHECK(cJSON_IsTrue(member(ref, "blockOwnerDeletion")));
    }
    cJSON_Delete(objects);
    topo_free(t);
}

TEST(invalid_topology_is_not_rendered)
{
    /* A topology that was changed after loading into something invalid renders nothing. */
    struct topology *t = load_path(source_path("examples/xray-sample.yaml"));
    free(t->services[0].calls[0].service);
    t->services[0].calls[0].service = xstrdup("downstream9");
    cJSON *objects = NULL;
    char err[512] = "";
    struct topo_render_opts opts = {.generator_image = GEN_IMAGE, .collector_image = COL_IMAGE};
    CHECK_INT_EQ(topo_render(t, &opts, &objects, err, sizeof(err)), HO11Y_VALIDATION);
    CHECK(objects == NULL);
    CHECK_STR_CONTAINS(err, "spec.services[0].calls[0].service: Not found: \"downstream9\"");
    topo_free(t);
}
