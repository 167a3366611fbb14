/*
 * Allocation wrappers: out of memory aborts (as in redis and h2o), so callers never check for
 * NULL. Anything sized by the network must be bounded by the caller instead (see buf.h).
 */
#ifndef HO11Y_COMMON_ALLOC_H
#define HO11Y_COMMON_ALLOC_H

#include <stddef.h>

/** Like malloc, but never returns NULL (aborts with a message). Caller frees with free(). */
void *xmalloc(size_t size);
/** Like calloc, but never returns NULL; checks nmemb*size for overflow. */
void *xcalloc(size_t nmemb, size_t size);
/** Like realloc, but never returns NULL. */
void *xrealloc(void *ptr, size_t size);
/** Like strdup; xstrdup(NULL) returns NULL. Caller frees. */
char *xstrdup(const char *s);
/** Copies at most n bytes of s and terminates the copy. Caller frees. */
char *xstrndup(const char *s, size_t n);
/** printf into a fresh string. Caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Routes cJSON's allocations through these wrappers. Call once at start-up, before threads;
 * safe to call more than once.
 */
void ho11y_alloc_init(void);

#endif
