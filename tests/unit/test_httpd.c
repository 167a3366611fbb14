/*
 * The test servers' libmicrohttpd plumbing (see test_httpd.h).
 */
#include "test_httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "test.h"

/* The most request body test_httpd_body gathers. */
#define BODY_MAX (1 << 20)

/* Frees the body test_httpd_body gathered for the request, if any. */
static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct hbuf *in = *req_cls;
    if (in) {
        hbuf_cleanup(in);
        free(in);
        *req_cls = NULL;
    }
}

void test_httpd_start(struct test_httpd *h, unsigned flags, MHD_AccessHandlerCallback handler,
                      void *cls)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(h, 0, sizeof(*h));
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | flags, 0, NULL, NULL, handler, cls,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
    CHECK(h->d != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    CHECK(info != NULL);
    h->port = info->port;
}

void test_httpd_stop(struct test_httpd *h)
{
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
}

char *test_httpd_url(const struct test_httpd *h)
{
    return xasprintf("http://127.0.0.1:%d", h->port);
}

struct MHD_Response *test_httpd_response(const char *content_type, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    CHECK(r != NULL);
    MHD_add_response_header(r, "Content-Type", content_type);
    return r;
}

enum MHD_Result test_httpd_queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r)
{
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result test_httpd_reply(struct MHD_Connection *c, unsigned code, const char *content_type,
                                 const char *body)
{
    return test_httpd_queue(c, code, test_httpd_response(content_type, body));
}

enum MHD_Result test_httpd_body(void **req_cls, const char *upload, size_t *upload_len,
                                const char **body)
{
    struct hbuf *in = *req_cls;
    *body = NULL;
    /* The first call only has the headers; the body arrives in the calls after it, and a last
     * call with nothing uploaded says it is complete. */
    if (!in) {
        in = xmalloc(sizeof(*in));
        hbuf_init(in, BODY_MAX);
        *req_cls = in;
        return MHD_YES;
    }
    if (*upload_len) {
        if (hbuf_add(in, upload, *upload_len))
            return MHD_NO;
        *upload_len = 0;
        return MHD_YES;
    }
    *body = hbuf_str(in);
    return MHD_YES;
}
