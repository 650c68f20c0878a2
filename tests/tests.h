/* tests/tests.h — one cmocka binary; each tests/test_<group>.c defines
 *
 *     const struct CMUnitTest enevo_tests_<group>[] = { cmocka_unit_test(...), ... };
 *     const size_t enevo_tests_<group>_count = ENEVO_COUNT(enevo_tests_<group>);
 *
 * and the group is listed once in ENEVO_TEST_GROUPS below. The symbols are
 * weak in main.c, so a partial build (one group's files) still links.
 */
#ifndef ENEVO_TESTS_H
#define ENEVO_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* skip() also counts, so the runner's last line says how many tests were
 * skipped instead of counting them as passed. */
extern int enevo__tests_skipped;
#undef skip
#define skip() (enevo__tests_skipped++, _skip(__FILE__, __LINE__))

#define ENEVO_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define ENEVO_TEST_GROUPS(X) \
    X(core)                  \
    X(data)                  \
    X(data2)                 \
    X(augment)               \
    X(phenotype)             \
    X(optim)                 \
    X(model)                 \
    X(layers)                \
    X(train)                 \
    X(config)                \
    X(evo)                   \
    X(cli)                   \
    X(grammar)               \
    X(energy)                \
    X(protocol)              \
    X(partition)             \
    X(report)                \
    X(pareto)                \
    X(nsga2)                 \
    X(dropin)                \
    X(export)                \
    X(kernels)               \
    X(cuda)

#define ENEVO__TEST_DECL(g)                               \
    extern const struct CMUnitTest enevo_tests_##g[];     \
    extern const size_t enevo_tests_##g##_count;
ENEVO_TEST_GROUPS(ENEVO__TEST_DECL)
#undef ENEVO__TEST_DECL

/* A scratch directory unique to this test process (created on first use). */
const char *enevo_test_tmpdir(void);
/* A whole file (binary safe, NUL-terminated), or NULL. Caller frees. */
char *enevo_test_slurp(const char *path);
/* Path to ../shared/fixtures/energize/<name> relative to the repo root, or
 * NULL when shared/ is not beside the checkout. Static buffer. */
const char *enevo_test_fixture(const char *name);
/* The same, but when the fixture is missing prints one line saying so and
 * `why` (NULL: "this check is about ENERGIZE's own files") before
 * returning NULL; the caller then skips, or goes on with the project's own
 * files only. */
const char *enevo_test_fixture_or_say(const char *name, const char *why);

#endif
