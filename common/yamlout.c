#include "yamlout.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 128

/*
 * Decodes one UTF-8 sequence at s (n bytes available). Returns its length and stores the code
 * point, or returns 0 for an invalid sequence (overlong forms and surrogates included).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        *cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        *cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* YAML's c-printable set, less the BOM (which a reader may drop). */
static int yaml_printable(uint32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return 1;
    if (cp < 0x20 || cp == 0x7f)
        return 0;
    if (cp >= 0x80 && cp < 0xa0)
        return 0; /* C1 controls, and NEL, which YAML reads as a line break */
    if (cp == 0xfeff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return 1;
}

/* Words that a YAML 1.1 reader would turn into null or a boolean. */
static int is_keyword(const char *s)
{
    static const char *const words[] = {"y",    "n", "yes", "no", "true", "false", "on", "off",
                                        "null", "~", "<<",  "=",  ".nan", ".inf",  NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

/*
 * A string may be written plain when a reader gives it back unchanged and as a string. This is
 * deliberately narrower than YAML allows: anything that starts like a number, an indicator or
 * a keyword is quoted.
 */
static int plain_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 1024 || is_keyword(s))
        return 0;
    unsigned char c0 = (unsigned char)s[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_' || c0 == '/'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '/' || c == '-' || c == ':' || c == '@' || c == '+' ||
                 c == '=';
        if (!ok)
            return 0;
    }
    /* "a:" would be read as a mapping key. */
    return s[n - 1] != ':';
}

static enum ho11y_err add_quoted(struct hbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    enum ho11y_err result = hbuf_addc(b, '"');
    while (n && !result) {
        uint32_t cp = 0;
        size_t len = utf8_decode(p, n, &cp);
        if (!len) {
            result = hbuf_adds(b, "\\uFFFD");
            p++;
            n--;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            char esc[2] = {'\\', (char)cp};
            result = hbuf_add(b, esc, 2);
        } else if (cp == '\n') {
            result = hbuf_adds(b, "\\n");
        } else if (cp == '\t') {
            result = hbuf_adds(b, "\\t");
        } else if (cp == '\r') {
            result = hbuf_adds(b, "\\r");
        } else if (!yaml_printable(cp)) {
            char esc[16];
            if (cp <= 0xff) {
                esc[0] = '\\';
                esc[1] = 'x';
                esc[2] = hex[cp >> 4];
                esc[3] = hex[cp & 15];
                result = hbuf_add(b, esc, 4);
            } else {
                /* Non-printable code points above U+00FF are all below U+10000. */
                result = hbuf_addf(b, "\\u%04X", (unsigned)(cp & 0xffff));
            }
        } else {
            result = hbuf_add(b, p, len);
        }
        p += len;
        n -= len;
    }
    if (!result)
        result = hbuf_addc(b, '"');
    return result;
}

/*
 * A multi-line string can be a literal block when every character is printable and the first
 * line does not start with a space (that would need an indentation indicator).
 */
static int literal_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\n' || s[0] == '\t')
        return 0;
    while (n) {
        uint32_t cp = 0;
        size_t len = utf8_decode(p, n, &cp);
        if (!len || cp == '\r' || !yaml_printable(cp))
            return 0;
        p += len;
        n -= len;
    }
    /* A line of only blanks before other content would change the block's indentation. */
    for (const char *line = s; *line;) {
        size_t ll = strcspn(line, "\n");
        if (ll > 0 && strspn(line, " \t") == ll)
            return 0;
        line += ll;
        if (*line)
            line++;
    }
    return 1;
}

static enum ho11y_err add_indent(struct hbuf *b, int indent)
{
    enum ho11y_err result = HO11Y_OK;
    for (int i = 0; i < indent && !result; i++)
        result = hbuf_addc(b, ' ');
    return result;
}

static enum ho11y_err add_literal(struct hbuf *b, const char *s, int indent)
{
    size_t n = strlen(s);
    size_t trailing = 0;
    while (trailing < n && s[n - 1 - trailing] == '\n')
        trailing++;
    const char *chomp = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
    enum ho11y_err result = hbuf_adds(b, chomp);
    const char *line = s;
    const char *end = s + n - (trailing ? 1 : 0);
    while (!result && line <= end && *line) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
        result = hbuf_addc(b, '\n');
        if (!result && ll)
            result = add_indent(b, indent);
        if (!result)
            result = hbuf_add(b, line, ll);
        if (!nl)
            break;
        line = nl + 1;
    }
    /* Trailing newlines beyond the last one are kept by "|+" as empty lines. */
    for (size_t i = 1; !result && i < trailing; i++)
        result = hbuf_addc(b, '\n');
    return result;
}

static enum ho11y_err add_string(struct hbuf *b, const char *s, int indent, int allow_block)
{
    if (plain_safe(s))
        return hbuf_adds(b, s);
    if (allow_block && literal_ok(s))
        return add_literal(b, s, indent);
    return add_quoted(b, s);
}

static enum ho11y_err add_number(struct hbuf *b, double d)
{
    if (!isfinite(d))
        return HO11Y_INVAL;
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return hbuf_addf(b, "%.0f", d);
    return hbuf_addf(b, "%.17g", d);
}

static enum ho11y_err add_scalar(struct hbuf *b, const cJSON *node, int indent, int allow_block)
{
    if (cJSON_IsString(node))
        return add_string(b, node->valuestring ? node->valuestring : "", indent, allow_block);
    if (cJSON_IsNumber(node))
        return add_number(b, node->valuedouble);
    if (cJSON_IsTrue(node))
        return hbuf_adds(b, "true");
    if (cJSON_IsFalse(node))
        return hbuf_adds(b, "false");
    if (cJSON_IsNull(node))
        return hbuf_adds(b, "null");
    if (cJSON_IsRaw(node))
        return HO11Y_INVAL;
    if (cJSON_IsObject(node))
        return hbuf_adds(b, "{}");
    return hbuf_adds(b, "[]");
}

static int is_block(const cJSON *node)
{
    return (cJSON_IsObject(node) || cJSON_IsArray(node)) && node->child;
}

static enum ho11y_err emit_node(struct hbuf *b, const cJSON *node, int indent, int inline_first,
                                int depth);

/* Emits the entries of a non-empty mapping; the first one continues the current line. */
static enum ho11y_err emit_map(struct hbuf *b, const cJSON *node, int indent, int inline_first,
                               int depth)
{
    enum ho11y_err result = HO11Y_OK;
    for (const cJSON *c = node->child; c && !result; c = c->next) {
        if (!(c == node->child && inline_first))
            result = add_indent(b, indent);
        if (!result)
            result = add_string(b, c->string ? c->string : "", indent, 0);
        if (!result)
            result = hbuf_addc(b, ':');
        if (result)
            break;
        if (cJSON_IsArray(c) && c->child) {
            result = hbuf_addc(b, '\n');
            if (!result)
                result = emit_node(b, c, indent, 0, depth + 1);
        } else if (is_block(c)) {
            result = hbuf_addc(b, '\n');
            if (!result)
                result = emit_node(b, c, indent + 2, 0, depth + 1);
        } else {
            result = hbuf_addc(b, ' ');
            if (!result)
                result = add_scalar(b, c, indent + 2, 1);
            if (!result)
                result = hbuf_addc(b, '\n');
        }
    }
    return result;
}

/* Emits the items of a non-empty sequence as "- item" lines at indent. */
static enum ho11y_err emit_seq(struct hbuf *b, const cJSON *node, int indent, int inline_first,
                               int depth)
{
    enum ho11y_err result = HO11Y_OK;
    for (const cJSON *c = node->child; c && !result; c = c->next) {
        if (!(c == node->child && inline_first))
            result = add_indent(b, indent);
        if (!result)
            result = hbuf_adds(b, "- ");
        if (result)
            break;
        if (is_block(c)) {
            result = emit_node(b, c, indent + 2, 1, depth + 1);
        } else {
            result = add_scalar(b, c, indent + 2, 1);
            if (!result)
                result = hbuf_addc(b, '\n');
        }
    }
    return result;
}

static enum ho11y_err emit_node(struct hbuf *b, const cJSON *node, int indent, int inline_first,
                                int depth)
{
    if (depth > MAX_DEPTH)
        return HO11Y_LIMIT;
    if (cJSON_IsObject(node) && node->child)
        return emit_map(b, node, indent, inline_first, depth);
    if (cJSON_IsArray(node) && node->child)
        return emit_seq(b, node, indent, inline_first, depth);
    /* Only a top-level scalar gets here; a literal block needs its lines indented. */
    enum ho11y_err result = add_scalar(b, node, indent + 2, 1);
    if (!result)
        result = hbuf_addc(b, '\n');
    return result;
}

enum ho11y_err yaml_emit(const cJSON *node, struct hbuf *out)
{
    size_t start = out->len;
    enum ho11y_err result = node ? emit_node(out, node, 0, 0, 0) : HO11Y_INVAL;
    if (result) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return result;
}
