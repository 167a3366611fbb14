#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define TEST_MAX 1024

static struct {
    const char *name;
    test_fn fn;
} tests[TEST_MAX];
static int ntests;

void test__register(const char *name, test_fn fn)
{
    if (ntests == TEST_MAX) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void test__fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

const char *test_data_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("HO11Y_TEST_DATA");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", rel);
    return path;
}

const char *test_bin_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("HO11Y_BIN_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "bin", name);
    return path;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        test__fail(__FILE__, __LINE__, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
        test__fail(__FILE__, __LINE__, "cannot read %s", path);
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < ntests; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    int ran = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        tests[i].fn();
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    printf("%d passed, 0 failed\n", ran);
    return 0;
}
