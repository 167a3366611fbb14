/*
 * ho11yctl validate FILE...: every Topology in every file checked, every error reported with
 * file and line; one summary line per valid Topology.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/topology.h"
#include "cli/cli.h"
#include "common/buf.h"

static const char usage[] =
    "Usage: ho11yctl validate FILE...\n"
    "\n"
    "Checks every Topology in each FILE (YAML or JSON; several documents per file are fine;\n"
    "\"-\" reads standard input) against every rule of the ho11y.dev/v1alpha1 API, the same\n"
    "rules the operator and the CRD apply. Documents of other kinds (for example the Namespace\n"
    "the Topology lives in) are skipped with a note.\n"
    "\n"
    "Prints one summary line per valid Topology on standard output. Errors go to standard\n"
    "error as FILE:LINE: FIELD: REASON, all of them, not only the first.\n"
    "\n"
    "Exit status: 0 when every Topology is valid, 1 when any file has an error, 2 on usage\n"
    "errors.\n";

static void summary(const char *path, const struct cli_topology *ct)
{
    const struct topology *t = ct->t;
    struct hbuf b;
    hbuf_init(&b, 4096);
    hbuf_addf(&b, "%s: Topology ", path);
    if (t->namespace && *t->namespace)
        hbuf_addf(&b, "%s/", t->namespace);
    size_t calls = topo_call_count(t);
    hbuf_addf(&b, "%s is valid: %zu service%s, %zu call%s, ", t->name, t->nservices,
              t->nservices == 1 ? "" : "s", calls, calls == 1 ? "" : "s");
    if (topo_collector_mode(t) == TOPO_COLLECTOR_EXTERNAL) {
        char *grpc = NULL;
        topo_collector_endpoints(t, &grpc, NULL);
        hbuf_addf(&b, "External collector at %s", grpc);
        free(grpc);
    } else {
        const struct topo_collector *c = &t->collector;
        const char *sep = "";
        hbuf_adds(&b, "Managed collector exporting to ");
        if (c->awsxray_enabled.value)
            hbuf_addf(&b, "%sawsxray", sep), sep = ", ";
        if (c->otlp_endpoint && *c->otlp_endpoint)
            hbuf_addf(&b, "%sotlp", sep), sep = ", ";
        if (c->debug_enabled.value)
            hbuf_addf(&b, "%sdebug", sep);
    }
    if (t->load.set)
        hbuf_addf(&b, ", load %lld/s to %s", t->load.rate.value, t->load.target);
    else
        hbuf_adds(&b, ", no load");
    printf("%s\n", hbuf_str(&b));
    hbuf_cleanup(&b);
}

int cli_validate(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ho11yctl validate: unknown option %s\n\n%s", argv[i], usage);
            return CLI_EXIT_USAGE;
        }
        files++;
    }
    if (!files) {
        fprintf(stderr, "ho11yctl validate: no FILE given\n\n%s", usage);
        return CLI_EXIT_USAGE;
    }
    size_t problems = 0;
    for (int i = 1; i < argc; i++) {
        struct cli_file f;
        problems += cli_file_load(argv[i], &f, stderr);
        for (size_t k = 0; k < f.count; k++)
            summary(argv[i], &f.items[k]);
        cli_file_cleanup(&f);
    }
    fflush(stdout);
    if (problems) {
        fprintf(stderr, "ho11yctl validate: %zu error%s\n", problems, problems == 1 ? "" : "s");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
