/* tests/main.c — the one test binary.
 *
 *   tests/run            run every test
 *   tests/run NAME...    run the tests whose names match a glob (fnmatch)
 *
 * Closes with "N passed, N failed, N skipped".
 */
#define _POSIX_C_SOURCE 200809L
#include "tests.h"

#include "enevo/io.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENEVO__TEST_WEAK(g)                                                     \
    extern const struct CMUnitTest enevo_tests_##g[] __attribute__((weak));     \
    extern const size_t enevo_tests_##g##_count __attribute__((weak));
ENEVO_TEST_GROUPS(ENEVO__TEST_WEAK)
#undef ENEVO__TEST_WEAK

int enevo__tests_skipped;

static char g_tmpdir[256];

static void rm_rf(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

const char *enevo_test_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/enevo-test-%ld", base ? base : "/tmp",
                 (long)getpid());
        mkdir(g_tmpdir, 0700);
    }
    return g_tmpdir;
}

char *enevo_test_slurp(const char *path)
{
    char *buf;
    return enevo_read_file(path, 0, &buf, NULL, NULL, 0) ? NULL : buf;
}

const char *enevo_test_fixture(const char *name)
{
    static char path[512];
    const char *roots[] = {"../shared/fixtures/energize", "shared/fixtures/energize"};
    for (size_t i = 0; i < ENEVO_COUNT(roots); i++) {
        snprintf(path, sizeof path, "%s/%s", roots[i], name);
        if (access(path, R_OK) == 0)
            return path;
    }
    return NULL;
}

const char *enevo_test_fixture_or_say(const char *name, const char *why)
{
    const char *path = enevo_test_fixture(name);
    if (!path)
        print_message("ENERGIZE fixtures not found at ../shared/fixtures/energize (%s): %s\n", name,
                      why ? why : "this check is about ENERGIZE's own files");
    return path;
}

static int matches(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (fnmatch(argv[i], name, 0) == 0 || strstr(name, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct {
        const struct CMUnitTest *tests;
        size_t count;
    } groups[] = {
#define ENEVO__TEST_ROW(g) {enevo_tests_##g, &enevo_tests_##g##_count ? enevo_tests_##g##_count : 0},
        ENEVO_TEST_GROUPS(ENEVO__TEST_ROW)
#undef ENEVO__TEST_ROW
    };
    size_t total = 0;
    for (size_t g = 0; g < ENEVO_COUNT(groups); g++)
        if (groups[g].tests)
            total += groups[g].count;
    struct CMUnitTest *all = calloc(total ? total : 1, sizeof *all);
    size_t n = 0;
    for (size_t g = 0; g < ENEVO_COUNT(groups); g++)
        for (size_t i = 0; groups[g].tests && i < groups[g].count; i++)
            if (matches(groups[g].tests[i].name, argc, argv))
                all[n++] = groups[g].tests[i];
    int failed = n ? _cmocka_run_group_tests("enevo", all, n, NULL, NULL) : 0;
    free(all);
    if (g_tmpdir[0])
        rm_rf(g_tmpdir);
    size_t skipped = (size_t)enevo__tests_skipped;
    printf("%zu passed, %d failed, %zu skipped\n", n - (size_t)failed - skipped, failed, skipped);
    return failed ? 1 : (n ? 0 : 1);
}
