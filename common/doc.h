/*
 * Reading YAML and JSON documents into cJSON trees, with the limits that untrusted input needs
 * and the line numbers that error messages need.
 *
 * YAML scalars are typed as Kubernetes tooling types them (YAML 1.1, as kubectl does: plain
 * true/false/yes/no/on/off are booleans, ~ and null are null, numbers are numbers; quoted or
 * block scalars are always strings). Aliases are refused (they allow exponential expansion),
 * as are duplicate mapping keys and non-scalar keys. Empty documents are skipped.
 */
#ifndef HO11Y_COMMON_DOC_H
#define HO11Y_COMMON_DOC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "error.h"

struct doc_limits {
    size_t max_bytes;  /* whole input */
    size_t max_depth;  /* nesting of mappings and sequences */
    size_t max_nodes;  /* all nodes of all documents */
    size_t max_scalar; /* bytes of one scalar */
};

/** Limits suited to Kubernetes objects: 3 MiB, depth 64, 200k nodes, 1 MiB scalars. */
extern const struct doc_limits doc_limits_default;

struct doc_pos {
    const cJSON *node;
    int line; /* 1-based; 0 when unknown */
    int col;
};

struct doc {
    cJSON *root;
    int line; /* where the document starts (1-based) */
    struct doc_pos *pos;
    size_t npos;
};

struct doc_set {
    struct doc *docs;
    size_t count;
};

/**
 * Parses text (len bytes; need not be NUL-terminated) as JSON when its first non-blank byte is
 * '{' or '[', else as YAML (multi-document). On success *out holds the documents (caller frees
 * with doc_set_cleanup). On failure returns HO11Y_PARSE or HO11Y_LIMIT, writes "line N: reason"
 * into err (if given) and leaves *out empty. Thread-safe; pass NULL limits for the defaults.
 */
enum ho11y_err doc_parse(const char *text, size_t len, const struct doc_limits *limits,
                         struct doc_set *out, char *err, size_t errlen);

/** Frees every document and position table; the set is left empty. NULL is a no-op. */
void doc_set_cleanup(struct doc_set *set);

/** The line of a node of doc (0 when unknown, e.g. for JSON input). Borrowed arguments. */
int doc_line_of(const struct doc *doc, const cJSON *node);

/**
 * Finds the node at a Kubernetes-style field path ("spec.services[1].calls[0].service") under
 * root; when the full path does not exist, returns the deepest existing ancestor. Borrowed.
 */
const cJSON *doc_find_path(const cJSON *root, const char *path);

/**
 * v's value as a long long (truncated toward zero, saturated at the type's limits) when v is a
 * number, else dflt. Safe for any parsed input, "1e999" included. Borrowed argument.
 */
long long doc_number_ll(const cJSON *v, long long dflt);

#endif
