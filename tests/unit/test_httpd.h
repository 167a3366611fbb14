/*
 * The plumbing of the small libmicrohttpd servers that unit tests talk to: a daemon on
 * 127.0.0.1 with a port the kernel picks, replies with a body and a content type, a request
 * body gathered across the access handler's calls, and stopping. What a server answers stays in
 * its test file. Not a test of its own: tests/unit/CMakeLists.txt links it into the tests that
 * include it.
 */
#ifndef HO11Y_TEST_HTTPD_H
#define HO11Y_TEST_HTTPD_H

#include <microhttpd.h>

struct test_httpd {
    struct MHD_Daemon *d;
    int port; /* the port bound on 127.0.0.1 */
};

/**
 * Starts a daemon with its own polling thread on 127.0.0.1 and an ephemeral port, calling
 * handler(cls, ...) for each request; flags are added to MHD_USE_INTERNAL_POLLING_THREAD (e.g.
 * MHD_USE_THREAD_PER_CONNECTION for handlers that block). The daemon owns each request's
 * *req_cls for test_httpd_body. Caller owns h; cls is borrowed until test_httpd_stop. Fails the
 * case if the daemon cannot start.
 */
void test_httpd_start(struct test_httpd *h, unsigned flags, MHD_AccessHandlerCallback handler,
                      void *cls);
/** Stops the daemon, waiting for its threads; h may be started again. A stopped h is a no-op. */
void test_httpd_stop(struct test_httpd *h);
/** The server's base URL, "http://127.0.0.1:<port>"; caller frees. */
char *test_httpd_url(const struct test_httpd *h);

/**
 * A response holding a copy of body with the Content-Type content_type, for a caller that adds
 * more headers before test_httpd_queue. Both strings are borrowed.
 */
struct MHD_Response *test_httpd_response(const char *content_type, const char *body);
/** Queues r with status code on c and consumes r. */
enum MHD_Result test_httpd_queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r);
/** Answers c with status code, a copy of body and the Content-Type content_type (borrowed). */
enum MHD_Result test_httpd_reply(struct MHD_Connection *c, unsigned code, const char *content_type,
                                 const char *body);

/**
 * Gathers a request body (up to 1 MiB) from an access handler's upload arguments. Sets *body
 * to the whole body ("" when there is none), valid until the request completes, once it has
 * all arrived; until then *body is NULL and the handler returns what this returns (MHD_YES to
 * be called again, MHD_NO for a body past the bound).
 */
enum MHD_Result test_httpd_body(void **req_cls, const char *upload, size_t *upload_len,
                                const char **body);

#endif
