/*
 * ho11yctl: the commands (validate, render, ...) and what they share: reading Topology files.
 *
 * A command is `int cli_<name>(int argc, char **argv)` where argv[0] is the command name; it
 * returns the process exit status (0 success, 1 bad input or failure, 2 usage error), writes
 * results to stdout and messages to stderr, and never prints partial results on failure.
 * New commands are added to the table in cli/main.c.
 */
#ifndef HO11Y_CLI_CLI_H
#define HO11Y_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "api/topology.h"
#include "common/doc.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/** One Topology read from a file, valid and defaulted. */
struct cli_topology {
    struct topology *t; /* owned */
    int line;           /* line of its document in the file (1-based) */
};

struct cli_file {
    char *path; /* as given ("-" for stdin) */
    struct cli_topology *items;
    size_t count;
    size_t skipped; /* documents that are not Topologies */
};

/**
 * Reads path ("-" = standard input; at most 3 MiB), parses every YAML or JSON document and
 * loads every Topology document strictly (unknown fields refused). Other documents (e.g. the
 * Namespace a file creates first) are skipped with a note on err. Every problem is printed to
 * err as "path:line: message" (the line left out when unknown). Returns the number of problems
 * (0 = everything valid, and then out holds at least one topology); on problems out may still
 * hold the valid ones. The caller cleans up out with cli_file_cleanup. err is borrowed.
 */
size_t cli_file_load(const char *path, struct cli_file *out, FILE *err);

/** Frees what cli_file_load put in f. NULL is a no-op. */
void cli_file_cleanup(struct cli_file *f);

/**
 * Parses "--name value" and "--name=value" at argv[*i]. Returns 1 and sets *value (borrowed
 * from argv) when argv[*i] is that option (advancing *i past a separate value), 0 when it is
 * another argument, -1 when the value is missing (a message is printed to stderr).
 */
int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value);

/** `ho11yctl validate FILE...` */
int cli_validate(int argc, char **argv);
/** `ho11yctl render FILE [--generator-image IMG] [--collector-image IMG] ...` */
int cli_render(int argc, char **argv);
/** `ho11yctl run FILE [--rate N] [--requests N] [--duration D] ...` (cli/run.c) */
int cli_run(int argc, char **argv);

#endif
