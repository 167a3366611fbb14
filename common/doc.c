#include "doc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "alloc.h"
#include "hash.h"
#include "units.h"

const struct doc_limits doc_limits_default = {
    .max_bytes = 3u << 20, .max_depth = 64, .max_nodes = 200000, .max_scalar = 1u << 20};

/* Up to this many keys, duplicates are found by comparing with every earlier key. */
#define SMALL_MAP 16

/*
 * Returns the second of two children of obj with the same key, or NULL. Large mappings are
 * checked through a hash table, so that a document with one huge mapping costs linear time.
 */
static const cJSON *find_duplicate_key(const cJSON *obj)
{
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n <= SMALL_MAP) {
        for (const cJSON *c = obj->child; c; c = c->next)
            for (const cJSON *d = obj->child; d != c; d = d->next)
                if (strcmp(d->string, c->string) == 0)
                    return c;
        return NULL;
    }
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    const cJSON **slots = xcalloc(cap, sizeof(*slots));
    const cJSON *dup = NULL;
    for (const cJSON *c = obj->child; c && !dup; c = c->next) {
        size_t h = (size_t)ho11y_fnv1a(c->string) & (cap - 1);
        while (slots[h] && !dup) {
            if (strcmp(slots[h]->string, c->string) == 0)
                dup = c;
            h = (h + 1) & (cap - 1);
        }
        slots[h] = c;
    }
    free(slots);
    return dup;
}

struct builder {
    const struct doc_limits *lim;
    struct doc_set *set;
    struct doc *cur;
    size_t pos_cap;
    cJSON *stack[130]; /* containers being built; depth is limited well below this */
    char *keys[130];   /* pending key per mapping level (NULL when a key is expected) */
    size_t nkeys[130]; /* keys so far per mapping level */
    int check_dups;    /* a mapping grew past SMALL_MAP: check its keys once parsed */
    size_t depth;
    size_t nodes;
    char *err;
    size_t errlen;
};

static void set_err(char *err, size_t errlen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "line N: message" (or just the message when the line is unknown) into err. */
static void set_err(char *err, size_t errlen, int line, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(err, errlen, "line %d: %s", line, msg);
    else
        snprintf(err, errlen, "%s", msg);
}

static void add_pos(struct builder *b, const cJSON *node, int line, int col)
{
    struct doc *d = b->cur;
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): libyaml starts a document first */
    if (d->npos == b->pos_cap) {
        b->pos_cap = b->pos_cap ? b->pos_cap * 2 : 64;
        d->pos = xrealloc(d->pos, b->pos_cap * sizeof(*d->pos));
    }
    d->pos[d->npos++] = (struct doc_pos){.node = node, .line = line, .col = col};
}

static int match_any(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* Types a plain scalar the way YAML 1.1 (go-yaml v2, used by kubectl) resolves it. */
static cJSON *resolve_plain(const char *v, int *bad)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                        "True", "TRUE", "on",  "On",  "ON",  NULL};
    static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                         "False", "FALSE", "off", "Off", "OFF", NULL};
    static const char *const nans[] = {".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf",  ".INF", "+.inf",
                                       "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", NULL};
    *bad = 0;
    if (match_any(v, nulls))
        return cJSON_CreateNull();
    if (match_any(v, trues))
        return cJSON_CreateTrue();
    if (match_any(v, falses))
        return cJSON_CreateFalse();
    if (match_any(v, nans)) {
        *bad = 1;
        return NULL;
    }
    const char *p = v;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return cJSON_CreateString(v);
    char *end = NULL;
    errno = 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        long long n = strtoll(v, &end, 16);
        if (*end == '\0' && !errno)
            return cJSON_CreateNumber((double)n);
        return cJSON_CreateString(v);
    }
    int is_int = 1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            is_int = 0;
    if (is_int) {
        int octal = p[0] == '0' && p[1] != '\0';
        double n = (double)strtoull(p, &end, octal ? 8 : 10);
        if (*end != '\0')
            return cJSON_CreateString(v); /* "08" is not octal: a string in YAML 1.1 */
        if (errno == ERANGE)
            n = strtod(p, NULL);
        return cJSON_CreateNumber(v[0] == '-' ? -n : n);
    }
    /* YAML 1.1 float: [-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)? ; accept the JSON forms. */
    double d = strtod(v, &end);
    if (*end == '\0' && isfinite(d) && !strpbrk(v, "xXnNiI"))
        return cJSON_CreateNumber(d);
    return cJSON_CreateString(v);
}

static enum ho11y_err attach(struct builder *b, cJSON *node, const yaml_mark_t *mark)
{
    if (++b->nodes > b->lim->max_nodes) {
        cJSON_Delete(node);
        set_err(b->err, b->errlen, (int)mark->line + 1, "more than %zu nodes", b->lim->max_nodes);
        return HO11Y_LIMIT;
    }
    add_pos(b, node, (int)mark->line + 1, (int)mark->column + 1);
    if (b->depth == 0) {
        b->cur->root = node;
        return HO11Y_OK;
    }
    cJSON *parent = b->stack[b->depth - 1];
    if (cJSON_IsArray(parent)) {
        cJSON_AddItemToArray(parent, node);
        return HO11Y_OK;
    }
    char *key = b->keys[b->depth - 1];
    if (!key) {
        int line = (int)mark->line + 1;
        cJSON_Delete(node);
        set_err(b->err, b->errlen, line, "mapping keys must be scalars");
        return HO11Y_PARSE;
    }
    cJSON_AddItemToObject(parent, key, node);
    free(key);
    b->keys[b->depth - 1] = NULL;
    return HO11Y_OK;
}

static enum ho11y_err on_scalar(struct builder *b, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int line = (int)ev->start_mark.line + 1;
    if (len > b->lim->max_scalar) {
        set_err(b->err, b->errlen, line, "scalar of %zu bytes exceeds the limit of %zu", len,
                b->lim->max_scalar);
        return HO11Y_LIMIT;
    }
    if (strlen(v) != len) {
        set_err(b->err, b->errlen, line, "NUL byte in a scalar");
        return HO11Y_PARSE;
    }
    /* A scalar in key position of a mapping becomes the pending key. */
    if (b->depth > 0 && cJSON_IsObject(b->stack[b->depth - 1]) && !b->keys[b->depth - 1]) {
        cJSON *parent = b->stack[b->depth - 1];
        if (b->nkeys[b->depth - 1]++ >= SMALL_MAP)
            b->check_dups = 1; /* checked in one pass when the document is complete */
        else if (cJSON_GetObjectItemCaseSensitive(parent, v)) {
            set_err(b->err, b->errlen, line, "duplicate mapping key \"%.200s\"", v);
            return HO11Y_PARSE;
        }
        if (strcmp(v, "<<") == 0 && ev->data.scalar.plain_implicit) {
            set_err(b->err, b->errlen, line, "YAML merge keys (<<) are not supported");
            return HO11Y_PARSE;
        }
        b->keys[b->depth - 1] = xstrndup(v, len);
        return HO11Y_OK;
    }
    cJSON *node = NULL;
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    /* NOLINTNEXTLINE(bugprone-branch-clone): a !!str tag and a quoted scalar are both strings */
    if (tag && strcmp(tag, YAML_STR_TAG) == 0) {
        node = cJSON_CreateString(v);
    } else if (plain || (tag && strcmp(tag, "!") != 0)) {
        int bad = 0;
        node = resolve_plain(v, &bad);
        if (bad) {
            set_err(b->err, b->errlen, line, "value %.100s cannot be represented in JSON", v);
            return HO11Y_PARSE;
        }
    } else {
        node = cJSON_CreateString(v);
    }
    return attach(b, node, &ev->start_mark);
}

static enum ho11y_err on_open(struct builder *b, const yaml_event_t *ev, int is_map)
{
    int line = (int)ev->start_mark.line + 1;
    if (b->depth >= b->lim->max_depth || b->depth >= 128) {
        set_err(b->err, b->errlen, line, "nesting deeper than %zu levels", b->lim->max_depth);
        return HO11Y_LIMIT;
    }
    cJSON *node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
    enum ho11y_err result = attach(b, node, &ev->start_mark);
    if (result)
        return result;
    b->stack[b->depth] = node;
    b->keys[b->depth] = NULL;
    b->nkeys[b->depth] = 0;
    b->depth++;
    return HO11Y_OK;
}

static void new_doc(struct builder *b, int line)
{
    struct doc_set *s = b->set;
    s->docs = xrealloc(s->docs, (s->count + 1) * sizeof(*s->docs));
    b->cur = &s->docs[s->count++];
    memset(b->cur, 0, sizeof(*b->cur));
    b->cur->line = line;
    b->pos_cap = 0;
}

static void end_doc(struct builder *b)
{
    struct doc_set *s = b->set;
    /* An empty document (only "---" or comments) is not an object: drop it. */
    if (b->cur && (!b->cur->root || cJSON_IsNull(b->cur->root))) {
        cJSON_Delete(b->cur->root);
        free(b->cur->pos);
        s->count--;
    }
    b->cur = NULL;
}

/* Finds duplicate keys in the large mappings of a parsed YAML document (small ones were checked
 * while parsing). */
static enum ho11y_err check_large_maps(const struct doc *d, const cJSON *node, struct builder *b)
{
    if (cJSON_IsObject(node)) {
        const cJSON *dup = find_duplicate_key(node);
        if (dup) {
            set_err(b->err, b->errlen, doc_line_of(d, dup), "duplicate mapping key \"%.200s\"",
                    dup->string);
            return HO11Y_PARSE;
        }
    }
    if (cJSON_IsObject(node) || cJSON_IsArray(node))
        for (const cJSON *c = node->child; c; c = c->next)
            if (check_large_maps(d, c, b))
                return HO11Y_PARSE;
    return HO11Y_OK;
}

static enum ho11y_err parse_yaml(const char *text, size_t len, struct builder *b)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    enum ho11y_err result = HO11Y_OK;
    int done = 0;
    if (!yaml_parser_initialize(&parser))
        return HO11Y_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && !result) {
        if (!yaml_parser_parse(&parser, &ev)) {
            set_err(b->err, b->errlen, (int)parser.problem_mark.line + 1, "%s%s%s",
                    parser.problem ? parser.problem : "YAML syntax error",
                    parser.context ? " " : "", parser.context ? parser.context : "");
            result = HO11Y_PARSE;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            new_doc(b, (int)ev.start_mark.line + 1);
            break;
        case YAML_DOCUMENT_END_EVENT:
            end_doc(b);
            break;
        case YAML_ALIAS_EVENT:
            set_err(b->err, b->errlen, (int)ev.start_mark.line + 1,
                    "YAML aliases (*%.100s) are not supported", (const char *)ev.data.alias.anchor);
            result = HO11Y_PARSE;
            break;
        case YAML_SCALAR_EVENT:
            result = on_scalar(b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            result = on_open(b, &ev, 0);
            break;
        case YAML_MAPPING_START_EVENT:
            result = on_open(b, &ev, 1);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b->depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < b->depth; i++) {
        free(b->keys[i]);
        b->keys[i] = NULL;
    }
    for (size_t i = 0; !result && b->check_dups && i < b->set->count; i++)
        result = check_large_maps(&b->set->docs[i], b->set->docs[i].root, b);
    return result;
}

/* Checks a cJSON tree from JSON input against the limits and for duplicate keys. */
static enum ho11y_err check_json(const cJSON *node, size_t depth, size_t *nodes,
                                 const struct doc_limits *lim, char *err, size_t errlen)
{
    if (++*nodes > lim->max_nodes) {
        set_err(err, errlen, 0, "more than %zu nodes", lim->max_nodes);
        return HO11Y_LIMIT;
    }
    if (cJSON_IsString(node) && strlen(node->valuestring) > lim->max_scalar) {
        set_err(err, errlen, 0, "string exceeds the limit of %zu bytes", lim->max_scalar);
        return HO11Y_LIMIT;
    }
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
        return HO11Y_OK;
    if (depth >= lim->max_depth) {
        set_err(err, errlen, 0, "nesting deeper than %zu levels", lim->max_depth);
        return HO11Y_LIMIT;
    }
    const cJSON *dup = cJSON_IsObject(node) ? find_duplicate_key(node) : NULL;
    if (dup) {
        set_err(err, errlen, 0, "duplicate key \"%.200s\"", dup->string);
        return HO11Y_PARSE;
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        enum ho11y_err result = check_json(c, depth + 1, nodes, lim, err, errlen);
        if (result)
            return result;
    }
    return HO11Y_OK;
}

static enum ho11y_err parse_json(const char *text, size_t len, const struct doc_limits *lim,
                                 struct doc_set *out, char *err, size_t errlen)
{
    const char *end = NULL;
    /* cJSON limits nesting itself (CJSON_NESTING_LIMIT); deeper input fails as a parse error. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        if (at && at >= text && at <= text + len)
            for (const char *p = text; p < at; p++)
                line += *p == '\n';
        set_err(err, errlen, line, "malformed JSON");
        return HO11Y_PARSE;
    }
    for (; end && end < text + len; end++) {
        if (!isspace((unsigned char)*end)) {
            cJSON_Delete(root);
            set_err(err, errlen, 0, "trailing data after the JSON document");
            return HO11Y_PARSE;
        }
    }
    size_t nodes = 0;
    enum ho11y_err result = check_json(root, 0, &nodes, lim, err, errlen);
    if (result) {
        cJSON_Delete(root);
        return result;
    }
    out->docs = xcalloc(1, sizeof(*out->docs));
    out->docs[0].root = root;
    out->docs[0].line = 1;
    out->count = 1;
    return HO11Y_OK;
}

enum ho11y_err doc_parse(const char *text, size_t len, const struct doc_limits *limits,
                         struct doc_set *out, char *err, size_t errlen)
{
    const struct doc_limits *lim = limits ? limits : &doc_limits_default;
    enum ho11y_err result;
    out->docs = NULL;
    out->count = 0;
    if (err && errlen)
        err[0] = '\0';
    if (len > lim->max_bytes) {
        set_err(err, errlen, 0, "input of %zu bytes exceeds the limit of %zu", len, lim->max_bytes);
        return HO11Y_LIMIT;
    }
    if (memchr(text, '\0', len)) {
        set_err(err, errlen, 0, "input contains NUL bytes (binary data?)");
        return HO11Y_PARSE;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len && (text[i] == '{' || text[i] == '['))
        return parse_json(text, len, lim, out, err, errlen);
    struct builder b = {.lim = lim, .set = out, .err = err, .errlen = errlen};
    result = parse_yaml(text, len, &b);
    if (result) {
        if (b.cur)
            end_doc(&b);
        doc_set_cleanup(out);
    }
    return result;
}

void doc_set_cleanup(struct doc_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        cJSON_Delete(set->docs[i].root);
        free(set->docs[i].pos);
    }
    free(set->docs);
    set->docs = NULL;
    set->count = 0;
}

int doc_line_of(const struct doc *doc, const cJSON *node)
{
    for (size_t i = 0; doc && i < doc->npos; i++)
        if (doc->pos[i].node == node)
            return doc->pos[i].line;
    return 0;
}

const cJSON *doc_find_path(const cJSON *root, const char *path)
{
    const cJSON *cur = root;
    const char *p = path;
    char key[256];
    while (cur && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        const cJSON *next = NULL;
        if (*p == '[') {
            char *end = NULL;
            long idx = strtol(p + 1, &end, 10);
            if (!end || *end != ']')
                break;
            if (cJSON_IsArray(cur) && idx >= 0)
                next = cJSON_GetArrayItem(cur, (int)idx);
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            if (n >= sizeof(key))
                break;
            memcpy(key, p, n);
            key[n] = '\0';
            if (cJSON_IsObject(cur))
                next = cJSON_GetObjectItemCaseSensitive(cur, key);
            p += n;
        }
        if (!next)
            break;
        cur = next;
    }
    return cur;
}

long long doc_number_ll(const cJSON *v, long long dflt)
{
    return cJSON_IsNumber(v) ? ho11y_dtoll(v->valuedouble) : dflt;
}
