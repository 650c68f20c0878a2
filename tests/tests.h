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
    X(install)               \
    X(fault)                 \
    X(fuzz_regress)          \
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

/* ---- tests/support.c ---- */

/* The CLI under test: $ENEVO_BIN, else build/enevo. */
const char *enevo_test_bin(void);
/* Runs `enevo ARGS 2>&1` (ARGS printf-style); its output (truncated to
 * outlen) into out; the exit status, or -1 if it did not exit. */
int enevo_test_cli(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Lines of a file, or -1 if it cannot be opened. */
int enevo_test_count_lines(const char *path);
/* DIR/PREFIX-images-idx3-ubyte.gz and -labels-idx1-ubyte.gz: n synthetic
 * 1x12x12 images of `classes` classes. */
void enevo_test_write_idx(const char *dir, const char *prefix, int n, int classes, uint64_t seed);

#include "enevo/data.h"
#include "enevo/evo.h"
/* Small synthetic splits for in-process evolution runs: n_train / n_eval
 * (validation and fitness each) / n_test images of 1 x side x side, 10
 * classes. */
struct enevo_test_evo_data {
    struct enevo_dataset tr, val, fit, test;
    struct enevo_evo_data d;
};
void enevo_test_evo_data_init(struct enevo_test_evo_data *x, int side, int n_train, int n_eval,
                              int n_test);
void enevo_test_evo_data_free(struct enevo_test_evo_data *x);

#endif
