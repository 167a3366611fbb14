/*
 * Decoding what the API server streams: watch responses (newline-delimited JSON events) and
 * list responses, whose items are handed over one at a time so that a list of any length never
 * sits in memory as one parsed tree. All of this is pure code over untrusted bytes: bounded,
 * fuzzed (tests/fuzz/fuzz_watch_stream.c), never trusting lengths or nesting.
 */
#ifndef HO11Y_KUBE_STREAM_H
#define HO11Y_KUBE_STREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Receives one line (without its newline; not NUL-terminated). Non-zero stops the feed. */
typedef enum ho11y_err (*kube_line_fn)(void *ud, const char *line, size_t len);

struct kube_lines {
    struct hbuf buf; /* the unfinished last line */
};

/** Prepares a splitter whose lines are at most max_line bytes. Caller owns the storage. */
void kube_lines_init(struct kube_lines *s, size_t max_line);
/** Frees the buffer; NULL is a no-op. */
void kube_lines_cleanup(struct kube_lines *s);
/**
 * Feeds bytes; calls fn for every complete non-blank line ("\r\n" accepted). HO11Y_LIMIT when a
 * line exceeds the bound; fn's error is returned as is.
 */
enum ho11y_err kube_lines_feed(struct kube_lines *s, const char *data, size_t len, kube_line_fn fn,
                               void *ud);
/** At the end of the stream: passes a non-blank unterminated last line to fn. */
enum ho11y_err kube_lines_finish(struct kube_lines *s, kube_line_fn fn, void *ud);

enum kube_event_type {
    KUBE_EVENT_ADDED,
    KUBE_EVENT_MODIFIED,
    KUBE_EVENT_DELETED,
    KUBE_EVENT_BOOKMARK,
    KUBE_EVENT_ERROR
};

struct kube_event {
    enum kube_event_type type;
    cJSON *root;         /* owned: the whole event */
    const cJSON *object; /* borrowed from root: the object (a Status for ERROR) */
    const char *rv;      /* borrowed: object's metadata.resourceVersion, NULL when absent */
    long code;           /* ERROR: the Status code (410 = expired) */
    const char *reason;  /* ERROR: the Status reason or "" */
    const char *message; /* ERROR: the Status message or "" */
};

/**
 * Decodes one watch line. HO11Y_PARSE (message in err) when it is not an event with a known
 * type and an object. The caller frees with kube_event_cleanup. Thread-safe.
 */
enum ho11y_err kube_event_decode(const char *line, size_t len, struct kube_event *ev, char *err,
                                 size_t errlen);
/** Frees the event's tree; NULL is a no-op. */
void kube_event_cleanup(struct kube_event *ev);
/** "ADDED", "MODIFIED", ... */
const char *kube_event_type_name(enum kube_event_type t);

/* Receives the JSON text of one list item (not NUL-terminated). Non-zero stops the scan. */
typedef enum ho11y_err (*kube_item_fn)(void *ud, const char *json, size_t len);

/*
 * A streaming scanner over a List response ({"kind":..,"metadata":{..},"items":[{..},..]}):
 * each element of the top-level "items" array is passed to the callback as soon as its closing
 * brace arrives; the top-level "metadata" object is kept for resourceVersion and continue.
 */
struct kube_list_scan {
    int depth;
    int in_str, esc, expect_key, key_active, key_long, done;
    int mode;      /* of the current top-level value */
    int capturing; /* an item or the metadata is being copied */
    char key[16];
    size_t keylen;
    struct hbuf item;
    struct hbuf meta;
    size_t nitems;
};

/** Prepares a scanner; items are at most max_item bytes. Caller owns the storage. */
void kube_list_scan_init(struct kube_list_scan *s, size_t max_item);
/** Frees the buffers; NULL is a no-op. */
void kube_list_scan_cleanup(struct kube_list_scan *s);
/** Feeds bytes. HO11Y_PARSE on a malformed structure, HO11Y_LIMIT past a bound. */
enum ho11y_err kube_list_scan_feed(struct kube_list_scan *s, const char *data, size_t len,
                                   kube_item_fn fn, void *ud);
/**
 * Ends the scan: HO11Y_PARSE when the document was incomplete. On success *rv and *cont are
 * fresh copies of metadata.resourceVersion and metadata.continue (NULL when absent or empty).
 */
enum ho11y_err kube_list_scan_finish(struct kube_list_scan *s, char **rv, char **cont);

#endif
