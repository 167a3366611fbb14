/*
 * common/log: the line formats (text as logfmt, JSON one object per line), nanosecond RFC 3339
 * times, and the per-thread context that adds fields to every line a thread writes.
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "test.h"

#define TIME_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z"

/* Sends the log to a fresh unlinked file; capture_end returns what was written. */
static int capture_begin(enum log_level level, enum log_format format)
{
    char path[] = "/tmp/ho11y-test-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    log_configure(level, format, fd);
    return fd;
}

static char *capture_end(int fd)
{
    log_configure(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, STDERR_FILENO);
    off_t size = lseek(fd, 0, SEEK_END);
    CHECK(size >= 0);
    char *out = malloc((size_t)size + 1);
    CHECK(out != NULL);
    CHECK(pread(fd, out, (size_t)size, 0) == size);
    out[size] = '\0';
    close(fd);
    return out;
}

static int matches(const char *s, const char *pattern)
{
    regex_t re;
    CHECK(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0);
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* The text after "<time> ": the time checked for its shape. */
static const char *after_time(const char *line)
{
    CHECK(matches(line, "^" TIME_RE " "));
    return strchr(line, ' ') + 1;
}

TEST(text_values_quoted_as_logfmt)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
    const struct log_field f[] = {
        LOG_STR("plain", "ns/a-b_c.d"), LOG_STR("space", "a b"), LOG_STR("quote", "say \"hi\""),
        LOG_STR("nl", "one\ntwo"),      LOG_STR("eq", "k=v"),    LOG_STR("empty", ""),
        LOG_STR("cr", "x\ry"),          LOG_INT("n", -3),        LOG_BOOL("ok", 1),
        LOG_STR("back", "a\\b")};
    log_kv(LOG_LEVEL_WARN, "Created Deployment ns/a", f, sizeof(f) / sizeof(f[0]));
    char *out = capture_end(fd);
    CHECK_INT_EQ(count_char(out, '\n'), 1);
    CHECK_STR_EQ(after_time(out),
                 "WARN  Created Deployment ns/a plain=ns/a-b_c.d space=\"a b\" "
                 "quote=\"say \\\"hi\\\"\" nl=\"one\\ntwo\" eq=\"k=v\" empty=\"\" cr=\"x\\ry\" "
                 "n=-3 ok=true back=a\\b\n");
    free(out);
}

TEST(text_message_stays_on_one_line)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
    LOG_ERROR("List of %s failed: %s", "deployments", "bad\r\nanswer");
    char *out = capture_end(fd);
    CHECK_INT_EQ(count_char(out, '\n'), 1);
    CHECK_STR_EQ(after_time(out), "ERROR List of deployments failed: bad\\r\\nanswer\n");
    free(out);
}

TEST(json_one_object_with_sorted_keys)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
    const struct log_field f[] = {LOG_STR("zeta", "a b \"c\"\nd\\e\x01"), LOG_INT("alpha", 7),
                                  LOG_STR("name", "x")};
    log_kv(LOG_LEVEL_INFO, "Line \"one\"\ntwo", f, 3);
    char *out = capture_end(fd);
    CHECK_INT_EQ(count_char(out, '\n'), 1);
    CHECK(matches(out,
                  "^\\{\"alpha\":7,\"level\":\"info\",\"msg\":\"Line \\\\\"one\\\\\"\\\\ntwo\","
                  "\"name\":\"x\",\"time\":\"" TIME_RE "\",\"zeta\":\"[^\n]*\"\\}\n$"));
    cJSON *o = cJSON_Parse(out);
    CHECK(o != NULL);
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "zeta")), "a b \"c\"\nd\\e\x01");
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "Line \"one\"\ntwo");
    CHECK_INT_EQ(cJSON_GetObjectItem(o, "alpha")->valueint, 7);
    cJSON_Delete(o);
    free(out);
}

TEST(time_has_nanoseconds)
{
    /* Nine digits always: lines a few nanoseconds apart still differ, and the text sorts. */
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
    for (int i = 0; i < 20; i++)
        LOG_DEBUG("Line %d", i);
    char *out = capture_end(fd);
    CHECK_INT_EQ(count_char(out, '\n'), 20);
    char *save = NULL, *prev = NULL;
    int distinct = 0;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        CHECK(matches(l, "\"time\":\"" TIME_RE "\""));
        char *t = strstr(l, "\"time\":\"") + 8;
        if (prev)
            distinct += strncmp(prev, t, 30) != 0;
        prev = t;
    }
    CHECK(distinct > 0);
    free(out);
}

static const struct log_field topo_ctx[] = {
    LOG_STR("controller", "topology"), LOG_STR("namespace", "shop ns"), LOG_STR("name", "web"),
    LOG_STR("reconcileID", "4f1c2a9e-0d3b-4c5e-9a7f-1b2c3d4e5f60")};

TEST(context_fields_follow_the_line_fields)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
    log_ctx_set(topo_ctx, 4);
    LOG_INFO("Created Deployment %s/%s", "shop", "web");
    const struct log_field own[] = {LOG_STR("name", "mine"), LOG_INT("took_ms", 3)};
    log_kv(LOG_LEVEL_INFO, "Updated", own, 2);
    log_ctx_clear();
    LOG_INFO("Shut down cleanly");
    log_ctx_clear(); /* twice is fine */
    char *out = capture_end(fd);
    char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    l2[-1] = l3[-1] = '\0';
    CHECK_STR_EQ(after_time(out), "INFO  Created Deployment shop/web controller=topology "
                                  "namespace=\"shop ns\" name=web "
                                  "reconcileID=4f1c2a9e-0d3b-4c5e-9a7f-1b2c3d4e5f60");
    /* The line's own "name" wins; the context's is not repeated. */
    CHECK_STR_EQ(after_time(l2), "INFO  Updated name=mine took_ms=3 controller=topology "
                                 "namespace=\"shop ns\" "
                                 "reconcileID=4f1c2a9e-0d3b-4c5e-9a7f-1b2c3d4e5f60");
    CHECK_STR_EQ(after_time(l3), "INFO  Shut down cleanly\n");
    free(out);
}

TEST(context_fields_are_json_keys)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
    log_ctx_set(topo_ctx, 4);
    LOG_WARN("Status of topology %s not written: %s", "shop/web", "conflict");
    log_ctx_clear();
    LOG_WARN("Watch of %s failed", "pods");
    char *out = capture_end(fd);
    char *l2 = strchr(out, '\n') + 1;
    l2[-1] = '\0';
    CHECK(matches(out, "^\\{\"controller\":\"topology\",\"level\":\"warning\",\"msg\":\"Status "
                       "of topology shop/web not written: conflict\",\"name\":\"web\","
                       "\"namespace\":\"shop ns\",\"reconcileID\":\"4f1c2a9e-0d3b-4c5e-9a7f-"
                       "1b2c3d4e5f60\",\"time\":\"" TIME_RE "\"\\}$"));
    cJSON *o = cJSON_Parse(l2);
    CHECK(o != NULL);
    CHECK_INT_EQ(cJSON_GetArraySize(o), 3); /* level, msg, time */
    cJSON_Delete(o);
    free(out);
}

static void *log_from_thread(void *arg)
{
    (void)arg;
    LOG_INFO("From another thread");
    const struct log_field mine[] = {LOG_STR("name", "other")};
    log_ctx_set(mine, 1);
    LOG_INFO("From another thread with its context");
    return NULL;
}

TEST(context_is_per_thread)
{
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
    log_ctx_set(topo_ctx, 4);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, log_from_thread, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    LOG_INFO("From the main thread");
    log_ctx_clear();
    char *out = capture_end(fd);
    char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    l2[-1] = l3[-1] = '\0';
    CHECK_STR_EQ(after_time(out), "INFO  From another thread");
    CHECK_STR_EQ(after_time(l2), "INFO  From another thread with its context name=other");
    CHECK_STR_CONTAINS(l3, "From the main thread controller=topology namespace=\"shop ns\" "
                           "name=web reconcileID=");
    free(out);
}

TEST(context_is_bounded)
{
    /* Values are copied (the caller's buffers may go) and cut to fit; extra fields are dropped. */
    char big[2 * LOG_CTX_MAX_BYTES], small[8] = "kept";
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    static const char *const keys[] = {"small", "big", "count", "a3", "a4", "a5", "a6", "a7"};
    struct log_field f[LOG_CTX_MAX_FIELDS + 2];
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        f[i] = LOG_STR(keys[i], "y");
    f[0].str = small;
    f[1].str = big;
    f[2] = LOG_INT("count", 5);
    int fd = capture_begin(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
    log_ctx_set(f, sizeof(f) / sizeof(f[0]));
    memset(small, 'z', sizeof(small) - 1);
    memset(big, 'z', sizeof(big) - 1);
    LOG_INFO("Bounded");
    log_ctx_clear();
    char *out = capture_end(fd);
    cJSON *o = cJSON_Parse(out);
    CHECK(o != NULL);
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "small")), "kept");
    const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(o, "big"));
    CHECK(b != NULL);
    CHECK_INT_EQ(strlen(b), LOG_CTX_MAX_BYTES - 1 - 5);
    CHECK_INT_EQ(strspn(b, "x"), strlen(b));
    CHECK_INT_EQ(cJSON_GetObjectItem(o, "count")->valueint, 5);
    /* Context values past the store are empty; the fields past the limit are not printed. */
    CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "a5")), "");
    CHECK(cJSON_GetObjectItem(o, "a6") == NULL);
    CHECK_INT_EQ(cJSON_GetArraySize(o), 3 + LOG_CTX_MAX_FIELDS);
    cJSON_Delete(o);
    free(out);
}

static int evaluated;

static int side_effect(void)
{
    return ++evaluated;
}

TEST(filtered_lines_cost_nothing)
{
    int fd = capture_begin(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    log_ctx_set(topo_ctx, 4);
    LOG_INFO("Not written %d", side_effect());
    LOG_DEBUG("Not written %d", side_effect());
    log_kv(LOG_LEVEL_INFO, "Not written", NULL, 0);
    log_ctx_clear();
    char *out = capture_end(fd);
    CHECK_INT_EQ(evaluated, 0);
    CHECK_STR_EQ(out, "");
    free(out);
}
