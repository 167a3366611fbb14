/*
 * ho11yctl render FILE: the objects the operator would create for each Topology of FILE, as
 * multi-document YAML (or a JSON List) for `kubectl apply -f -`. Nothing is printed unless
 * every Topology is valid and rendered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/topology.h"
#include "cli/cli.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/yamlout.h"

#define OUTPUT_MAX ((size_t)256 << 20)

static const char usage[] =
    "Usage: ho11yctl render FILE [options]\n"
    "\n"
    "Prints every object the operator would create for the Topologies in FILE (YAML or JSON;\n"
    "\"-\" reads standard input): per service a Deployment and a Service, the collector's\n"
    "ServiceAccount, ConfigMap, Service and Deployment in Managed mode, and the load driver's\n"
    "Deployment. The output is ready for `kubectl apply -f -`; ownerReferences are left out\n"
    "because the Topology has no uid until it is created. Documents of other kinds in FILE are\n"
    "skipped with a note.\n"
    "\n"
    "Options:\n"
    "  --generator-image IMG    generator image when spec.image is empty, and the load\n"
    "                           driver's image (default " TOPO_DEFAULT_GENERATOR_IMAGE ")\n"
    "  --collector-image IMG    collector image when spec.collector.image is empty\n"
    "                           (default " TOPO_DEFAULT_COLLECTOR_IMAGE ")\n"
    "  --image-pull-policy P    when spec.imagePullPolicy is empty: Always, IfNotPresent or\n"
    "                           Never (default " TOPO_DEFAULT_PULL_POLICY ")\n"
    "  -o, --output FORMAT      yaml (default) or json (a v1 List)\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit status: 0 on success, 1 when FILE has an error (nothing is printed then), 2 on usage\n"
    "errors.\n";

struct render_args {
    const char *file;
    struct topo_render_opts opts;
    int json;
};

static int parse_args(int argc, char **argv, struct render_args *a)
{
    memset(a, 0, sizeof(*a));
    a->opts.generator_image = TOPO_DEFAULT_GENERATOR_IMAGE;
    a->opts.collector_image = TOPO_DEFAULT_COLLECTOR_IMAGE;
    a->opts.image_pull_policy = TOPO_DEFAULT_PULL_POLICY;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if ((r = cli_option_value(argc, argv, &i, "--generator-image", &v)) != 0) {
            if (r < 0 || !*v)
                goto bad;
            a->opts.generator_image = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--collector-image", &v)) != 0) {
            if (r < 0 || !*v)
                goto bad;
            a->opts.collector_image = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--image-pull-policy", &v)) != 0) {
            if (r < 0 || (strcmp(v, "Always") != 0 && strcmp(v, "IfNotPresent") != 0 &&
                          strcmp(v, "Never") != 0))
                goto bad;
            a->opts.image_pull_policy = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--output", &v)) != 0 ||
                   (r = cli_option_value(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0 || (strcmp(v, "yaml") != 0 && strcmp(v, "json") != 0))
                goto bad;
            a->json = strcmp(v, "json") == 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ho11yctl render: unknown option %s\n\n%s", argv[i], usage);
            return CLI_EXIT_USAGE;
        } else if (a->file) {
            fprintf(stderr, "ho11yctl render: only one FILE may be given\n\n%s", usage);
            return CLI_EXIT_USAGE;
        } else {
            a->file = argv[i];
        }
        continue;
    bad:
        fprintf(stderr, "ho11yctl render: bad value for %s\n\n%s", argv[i], usage);
        return CLI_EXIT_USAGE;
    }
    if (!a->file) {
        fprintf(stderr, "ho11yctl render: no FILE given\n\n%s", usage);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Renders every topology of f into out (YAML documents or a JSON List). */
static int render_all(const struct cli_file *f, const struct render_args *a, struct hbuf *out)
{
    cJSON *list = cJSON_CreateObject();
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    cJSON_AddStringToObject(list, "kind", "List");
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < f->count && status == CLI_EXIT_OK; i++) {
        cJSON *objects = NULL;
        char err[1024];
        if (topo_render(f->items[i].t, &a->opts, &objects, err, sizeof(err)) != HO11Y_OK) {
            fprintf(stderr, "%s:%d: %s\n", f->path, f->items[i].line, err);
            status = CLI_EXIT_FAIL;
            break;
        }
        while (objects->child)
            cJSON_AddItemToArray(items, cJSON_DetachItemViaPointer(objects, objects->child));
        cJSON_Delete(objects);
    }
    if (status == CLI_EXIT_OK && a->json) {
        char *text = cJSON_Print(list);
        if (hbuf_adds(out, text) || hbuf_addc(out, '\n'))
            status = CLI_EXIT_FAIL;
        free(text);
    } else if (status == CLI_EXIT_OK) {
        for (const cJSON *o = items->child; o && status == CLI_EXIT_OK; o = o->next)
            if (hbuf_adds(out, "---\n") || yaml_emit(o, out))
                status = CLI_EXIT_FAIL;
    }
    if (status != CLI_EXIT_OK && out->len >= out->max)
        fprintf(stderr, "ho11yctl render: output larger than %zu bytes\n", out->max);
    cJSON_Delete(list);
    return status;
}

int cli_render(int argc, char **argv)
{
    struct render_args a;
    int status = parse_args(argc, argv, &a);
    if (status)
        return status < 0 ? CLI_EXIT_OK : status;
    struct cli_file f;
    struct hbuf out;
    hbuf_init(&out, OUTPUT_MAX);
    if (cli_file_load(a.file, &f, stderr) == 0)
        status = render_all(&f, &a, &out);
    else
        status = CLI_EXIT_FAIL;
    if (status == CLI_EXIT_OK) {
        if (fwrite(hbuf_str(&out), 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
            fprintf(stderr, "ho11yctl render: cannot write the output\n");
            status = CLI_EXIT_FAIL;
        }
    }
    hbuf_cleanup(&out);
    cli_file_cleanup(&f);
    return status;
}
