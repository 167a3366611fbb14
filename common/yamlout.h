/*
 * Writing cJSON trees as YAML, in the block style kubectl prints: two-space indentation,
 * sequence items at their key's indentation, keys in tree order. The output is deterministic
 * and reads back (with doc_parse) as the same tree: strings that YAML 1.1 would type as
 * something else ("on", "80", "1e3", "") are double-quoted, multi-line strings become literal
 * blocks, and everything else that is not plainly safe is double-quoted with escapes. Bytes
 * that are not valid UTF-8 become U+FFFD, as Go's encoders do.
 */
#ifndef HO11Y_COMMON_YAMLOUT_H
#define HO11Y_COMMON_YAMLOUT_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "error.h"

/**
 * Appends node as the body of one YAML document (no "---" line) to out. Containers nested
 * deeper than 128 levels are refused with HO11Y_LIMIT, as is output past out->max; on error out
 * keeps what it held before the call. node and out are borrowed. Thread-safe.
 */
enum ho11y_err yaml_emit(const cJSON *node, struct hbuf *out);

#endif
