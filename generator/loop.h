/*
 * An event loop thread for HTTP client work: one libcurl multi handle (so connections and DNS
 * answers are reused across requests), a timer heap, and a queue of tasks posted from other
 * threads. Downstream calls, DUMMY sleeps and the load driver all run as callbacks on a loop,
 * so waiting costs no thread.
 *
 * Only gen_loop_post is thread-safe; every other function must be called on the loop's own
 * thread (that is, from a callback it runs).
 */
#ifndef HO11Y_GENERATOR_LOOP_H
#define HO11Y_GENERATOR_LOOP_H

#include <curl/curl.h>
#include <stdint.h>

struct gen_loop;

typedef void (*gen_loop_fn)(void *arg);
typedef void (*gen_transfer_fn)(void *arg, CURLcode code);

/** Starts a loop thread. Returns NULL if the thread or the multi handle cannot be created. */
struct gen_loop *gen_loop_new(const char *name);

/**
 * Stops the thread: tasks already posted run, pending timers fire at once, and transfers still
 * running end with CURLE_ABORTED_BY_CALLBACK (repeatedly, until callbacks start no more work),
 * so every owner hears about its work. Then frees the loop. Callers stop feeding the loop first.
 * NULL is a no-op. Not to be called on the loop thread.
 */
void gen_loop_free(struct gen_loop *loop);

/** Runs fn(arg) on the loop thread soon. Thread-safe; arg is passed through, not owned. */
void gen_loop_post(struct gen_loop *loop, gen_loop_fn fn, void *arg);

/** Runs fn(arg) on the loop thread after delay_ns (millisecond resolution). Loop thread only. */
void gen_loop_timer(struct gen_loop *loop, int64_t delay_ns, gen_loop_fn fn, void *arg);

/** A reset easy handle from the loop's pool (never NULL; aborts on OOM). Loop thread only. */
CURL *gen_loop_easy(struct gen_loop *loop);

/** Returns an easy handle to the pool (it is reset; its connection stays cached). */
void gen_loop_easy_release(struct gen_loop *loop, CURL *easy);

/**
 * Starts a transfer on a configured easy handle; done(arg, code) runs on the loop thread when
 * it ends, after the handle has left the multi handle (the caller then releases it). The loop
 * uses CURLOPT_PRIVATE. Loop thread only.
 */
void gen_loop_transfer(struct gen_loop *loop, CURL *easy, gen_transfer_fn done, void *arg);

/**
 * A short, stable name for the kind of a failed transfer, used as a metric label and as the
 * span's error.type: "dns", "connect", "timeout", "tls", "aborted" or "network". Pure.
 */
const char *gen_curl_error_kind(CURLcode code);

#endif
