/*
 * ho11yctl: validate, render, run for ho11y Topologies. The commands live in the
 * ho11y_cli library (cli/cli.h); this file only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/alloc.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"validate", cli_validate, "check Topology files against every rule of the API"},
    {"render", cli_render, "print the objects the operator would create, for kubectl apply"},
    {"run", cli_run, "run a Topology on this machine and print its traces as trees"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: ho11yctl COMMAND [ARGS]\n\n"
                 "Tools for ho11y Topologies (ho11y.dev/v1alpha1): synthetic microservice graphs\n"
                 "that emit traces.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nOptions:\n"
                 "  -h, --help     this help (ho11yctl COMMAND --help for a command's)\n"
                 "  --version      print the version\n");
}

int main(int argc, char **argv)
{
    ho11y_alloc_init();
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("ho11yctl %s\n", HO11Y_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        cmd = argv[2];
        char help[] = "--help";
        char *help_argv[] = {argv[2], help, NULL};
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(cmd, commands[i].name) == 0)
                return commands[i].run(2, help_argv);
    } else {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(cmd, commands[i].name) == 0)
                return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ho11yctl: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
