/*
 * The resident memory a program pays for the generator's two HTTP libraries before any of our
 * code runs: it links libcurl and libmicrohttpd exactly as ho11y does, and prints VmRSS,
 * RssAnon and RssFile (/proc/self/status) at each step: after the dynamic loader has mapped and
 * relocated the libraries, after curl_global_init and one easy handle, after starting a
 * libmicrohttpd daemon (two threads, epoll, as ho11y), after 1,000 HTTP requests from libcurl to
 * that daemon, and after an outside load (bench/rss_floor.sh runs wrk during the wait).
 *
 *     rss_floor PORT [SECONDS]
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"traceId\":\"1-6193a9be-53693f29a0119ee4d661ba0d\"}";

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)state;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof(body) - 1, (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

static void show(const char *step)
{
    char line[256];
    long rss = -1, anon = -1, file = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        /* NOLINTBEGIN(cert-err34-c): the kernel writes these numbers */
        sscanf(line, "VmRSS: %ld", &rss);
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
        /* NOLINTEND(cert-err34-c) */
    }
    fclose(f);
    printf("%-34s VmRSS %6.2f MiB  RssAnon %5.2f MiB  RssFile %5.2f MiB\n", step, rss / 1024.0,
           anon / 1024.0, file / 1024.0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rss_floor PORT [SECONDS]\n");
        return 2;
    }
    unsigned port = (unsigned)strtoul(argv[1], NULL, 10);
    int wait = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 0;
    char url[64];
    int rc = 1;
    show("libraries loaded");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    CURL *easy = curl_easy_init();
    if (!easy)
        goto out;
    show("curl_global_init + easy handle");
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
                         NULL, answer, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
    if (!d)
        goto out;
    show("libmicrohttpd daemon started");
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    for (int i = 0; i < 1000; i++)
        if (curl_easy_perform(easy) != CURLE_OK)
            goto stop;
    show("1,000 requests, libcurl to daemon");
    if (wait > 0) {
        printf("ready\n");
        fflush(stdout);
        sleep((unsigned)wait);
        show("after the outside load");
    }
    rc = 0;
stop:
    MHD_stop_daemon(d);
out:
    curl_easy_cleanup(easy);
    curl_global_cleanup();
    return rc;
}
