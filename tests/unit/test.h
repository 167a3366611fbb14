/*
 * A small test harness. Each TEST(name) is a case; the runner (test_main.c) runs the case named
 * on its command line, or all of them without one. CMake registers every case as its own ctest
 * test. A failed check prints both values with file and line and ends the case with exit 1.
 */
#ifndef HO11Y_TEST_H
#define HO11Y_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test__register(const char *name, test_fn fn);
void test__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/** Path of a file under tests/data (static buffer; copy it before calling again). */
const char *test_data_path(const char *rel);
/** Path of a built program (bin dir from HO11Y_BIN_DIR). Static buffer. */
const char *test_bin_path(const char *name);
/** Reads a whole file into a fresh NUL-terminated string (caller frees); fails the test if absent.
 */
char *test_read_file(const char *path, size_t *len);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_register_##name(void)                            \
    {                                                                                              \
        test__register(#name, test_##name);                                                        \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test__fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                             \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_)                                                                            \
            test__fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_);            \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                                                 \
            test__fail(__FILE__, __LINE__, "%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"",    \
                       #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                        \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                            \
    do {                                                                                           \
        const char *sh_ = (hay), *sn_ = (needle);                                                  \
        if (!sh_ || !strstr(sh_, sn_))                                                             \
            test__fail(__FILE__, __LINE__, "%s contains \"%s\":\n  got: \"%s\"", #hay, sn_,        \
                       sh_ ? sh_ : "(null)");                                                      \
    } while (0)

#endif
