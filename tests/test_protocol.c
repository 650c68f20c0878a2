/* The measurement protocol with the fake meter: idle subtraction, windows,
 * medians and the CI; the model estimate through the protocol; a meter
 * that reads zero is an error, never a silent zero. */
#include "tests.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/energy.h"
#include "enevo/net.h"
#include "enevo/phenotype.h"

static void median_and_ci_from_order_statistics(void **state)
{
    (void)state;
    double v[10] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 10};
    double med, lo, hi;
    enevo_median_ci(v, 10, &med, &lo, &hi);
    assert_true(med == 5.5);
    /* n = 10: ranks 2 and 9 (coverage 97.9%); ranks 3 and 8 would be 89%. */
    assert_true(lo == 2 && hi == 9);
    double w[5] = {3, 1, 2, 5, 4};
    enevo_median_ci(w, 5, &med, &lo, &hi);
    assert_true(med == 3);
    /* n = 5 cannot reach 95% with inner ranks: the full range. */
    assert_true(lo == 1 && hi == 5);
    double one[1] = {7};
    enevo_median_ci(one, 1, &med, &lo, &hi);
    assert_true(med == 7 && lo == 7 && hi == 7);
}

static struct enevo_net *tiny_net(int batch, struct enevo_phenotype *p)
{
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_phenotype_parse(
                         "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu "
                         "bias:True input:-1\n"
                         "layer:fc act:softmax out_features:10 bias:True input:0\n",
                         "t", p, err, sizeof err),
                     0);
    struct enevo_net *net;
    struct enevo_net_opts o = {.batch = batch, .threads = 1};
    assert_int_equal(enevo_net_create(p, (struct enevo_shape){1, 8, 8}, 10, &o, &net, err,
                                      sizeof err),
                     0);
    enevo_rng r;
    enevo_rng_seed(&r, 1, 0);
    enevo_net_init_params(net, &r);
    return net;
}

static void protocol_subtracts_idle_power(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    struct enevo_net *net = tiny_net(16, &p);
    float x[16 * 64] = {0};
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    mc.fake_idle_w = 50;
    mc.fake_j_per_flop = 1e-9;
    struct enevo_meter *m;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_meter_open("fake", &mc, &m, NULL, 0, err, sizeof err), 0);
    struct enevo_measure_opts o = {.repetitions = 5, .window_s = 0.05, .idle_s = 0.05,
                                   .warmup_min = 3};
    struct enevo_measurement r;
    assert_int_equal(enevo_measure(net, x, m, &o, &r, err, sizeof err), 0);
    double dyn = enevo_net_flops(net) * 1e-9; /* J per image the fake meter adds */
    assert_true(fabs(r.idle_w - 50) < 1e-6);
    /* Net of idle: exactly the accounted work. Gross: plus 50 W x time. */
    assert_true(fabs(r.j_per_inference_net - dyn) < 1e-9 * dyn + 1e-15);
    assert_true(r.j_per_inference > dyn);
    assert_true(r.ci_low <= r.j_per_inference && r.j_per_inference <= r.ci_high);
    assert_true(r.power_w > 50);
    assert_int_equal(r.repetitions, 5);
    assert_true(r.latency_batch_s > 0 && r.images_per_s > 0);
    assert_true(fabs(r.latency_image_s * 16 - r.latency_batch_s) < 1e-12);
    assert_string_equal(r.label, "fake");
    assert_false(r.estimate);
    enevo_meter_close(m);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

static void model_meter_through_protocol_equals_estimate(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    struct enevo_net *net = tiny_net(8, &p);
    float x[8 * 64] = {0};
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    struct enevo_meter *m;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_meter_open("model", &mc, &m, NULL, 0, err, sizeof err), 0);
    struct enevo_measure_opts o = enevo_measure_defaults(m);
    o.window_s = 0.02;
    struct enevo_measurement r;
    assert_int_equal(enevo_measure(net, x, m, &o, &r, err, sizeof err), 0);
    struct enevo_estimate e;
    enevo_energy_estimate(&mc, enevo_net_flops(net), enevo_net_bytes_per_batch(net) / 8, &e);
    assert_true(fabs(r.j_per_inference - e.j_per_inference) < 1e-9 * e.j_per_inference);
    assert_true(r.estimate);
    assert_string_equal(r.label, "model-estimate");
    enevo_meter_close(m);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

static void zero_reading_meter_is_an_error(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    struct enevo_net *net = tiny_net(4, &p);
    float x[4 * 64] = {0};
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    mc.fake_zero = true;
    struct enevo_meter *m;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_meter_open("fake", &mc, &m, NULL, 0, err, sizeof err), 0);
    struct enevo_measure_opts o = {.repetitions = 3, .window_s = 0.02, .idle_s = 0,
                                   .warmup_min = 3};
    struct enevo_measurement r;
    int rc = enevo_measure(net, x, m, &o, &r, err, sizeof err);
    assert_int_equal(rc, ENEVO_EIO);
    assert_non_null(strstr(err, "not updating"));
    enevo_meter_close(m);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

const struct CMUnitTest enevo_tests_protocol[] = {
    cmocka_unit_test(median_and_ci_from_order_statistics),
    cmocka_unit_test(protocol_subtracts_idle_power),
    cmocka_unit_test(model_meter_through_protocol_equals_estimate),
    cmocka_unit_test(zero_reading_meter_is_an_error),
};
const size_t enevo_tests_protocol_count = ENEVO_COUNT(enevo_tests_protocol);
