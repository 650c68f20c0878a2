#include "tests.h"

#include <string.h>

#include "enevo/error.h"
#include "enevo/rng.h"

static void rng_is_reproducible_and_streams_differ(void **state)
{
    (void)state;
    enevo_rng a, b, c;
    enevo_rng_seed(&a, 7, 1);
    enevo_rng_seed(&b, 7, 1);
    enevo_rng_seed(&c, 7, 2);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = enevo_rng_u64(&a), y = enevo_rng_u64(&b), z = enevo_rng_u64(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    assert_true(same_ab);
    assert_false(same_ac);
}

static void rng_below_is_in_range_and_roughly_uniform(void **state)
{
    (void)state;
    enevo_rng r;
    enevo_rng_seed(&r, 1, 0);
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t k = enevo_rng_below(&r, 7);
        assert_true(k < 7);
        hist[k]++;
    }
    for (int k = 0; k < 7; k++)
        assert_in_range(hist[k], 9500, 10500);
}

static void rng_normal_has_unit_moments(void **state)
{
    (void)state;
    enevo_rng r;
    enevo_rng_seed(&r, 3, 0);
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = enevo_rng_normal(&r);
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    assert_true(mean > -0.01 && mean < 0.01);
    assert_true(var > 0.98 && var < 1.02);
}

static void strerror_covers_every_code(void **state)
{
    (void)state;
    assert_string_equal(enevo_strerror(ENEVO_OK), "success");
    assert_string_equal(enevo_strerror(ENEVO_ESHAPE), "impossible network shape");
    assert_string_equal(enevo_strerror(-999), "unknown error");
    char buf[32];
    assert_int_equal(enevo_errf(buf, sizeof buf, ENEVO_EIO, "x=%d", 5), ENEVO_EIO);
    assert_string_equal(buf, "x=5");
}

const struct CMUnitTest enevo_tests_core[] = {
    cmocka_unit_test(rng_is_reproducible_and_streams_differ),
    cmocka_unit_test(rng_below_is_in_range_and_roughly_uniform),
    cmocka_unit_test(rng_normal_has_unit_moments),
    cmocka_unit_test(strerror_covers_every_code),
};
const size_t enevo_tests_core_count = ENEVO_COUNT(enevo_tests_core);
