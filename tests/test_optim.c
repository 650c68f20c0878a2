/* Optimisers against hand-written double-precision references of the
 * PyTorch update rules (torch.optim.SGD/Adam/RMSprop, Barlow Twins' LARS). */
#include "tests.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/optim.h"

#define N3 3
#define STEPS 3

/* Three steps of gradients for a 3-element parameter vector. */
static const double P0[N3] = {0.5, -1.25, 2.0};
static const double G[STEPS][N3] = {
    {0.1, -0.2, 0.3},
    {-0.05, 0.4, 0.25},
    {0.2, 0.1, -0.6},
};

static struct enevo_learning_spec spec_of(enum enevo_optimizer kind)
{
    struct enevo_learning_spec s;
    memset(&s, 0, sizeof s);
    s.optimizer = kind;
    s.lr = 0.01;
    s.beta1 = 0.9;
    s.beta2 = 0.999;
    s.alpha = 0.99;
    s.batch_size = 64;
    s.early_stop = 5;
    s.epochs = 10;
    return s;
}

static void assert_close(double got, double want)
{
    double tol = 1e-6 + 2e-6 * fabs(want);
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.9g, want %.9g (tolerance %.3g)", got, want, tol);
}

/* Runs STEPS steps of `s` on P0/G over one segment covering everything;
 * writes the parameters after each step into out[step][i]. */
static void run3(const struct enevo_learning_spec *s, float out[STEPS][N3])
{
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN];
    struct enevo_param_seg seg = {0, N3, false};
    int rc = enevo_optim_init(&o, s, N3, &seg, 1, err, sizeof err);
    if (rc)
        fail_msg("init: %s", err);
    float p[N3], g[N3];
    for (int i = 0; i < N3; i++)
        p[i] = (float)P0[i];
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < N3; i++)
            g[i] = (float)G[t][i];
        enevo_optim_step(&o, p, g);
        memcpy(out[t], p, sizeof p);
    }
    assert_int_equal(o.t, STEPS);
    enevo_optim_free(&o);
}

/* --- SGD --------------------------------------------------------------- */

static void ref_sgd(double lr, double mom, double wd, bool nesterov, double out[STEPS][N3])
{
    double p[N3], buf[N3] = {0};
    memcpy(p, P0, sizeof p);
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < N3; i++) {
            double d = G[t][i] + wd * p[i];
            if (mom != 0) {
                buf[i] = t == 0 ? d : mom * buf[i] + d;
                d = nesterov ? d + mom * buf[i] : buf[i];
            }
            p[i] -= lr * d;
            out[t][i] = p[i];
        }
    }
}

static void sgd_plain_matches_reference(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_SGD);
    s.lr = 0.1;
    float got[STEPS][N3];
    run3(&s, got);
    /* By hand: p1 = p0 - 0.1*g0. */
    assert_close(got[0][0], 0.5 - 0.01);
    assert_close(got[0][1], -1.25 + 0.02);
    assert_close(got[0][2], 2.0 - 0.03);
    /* p3 = p0 - 0.1*(g0+g1+g2). */
    assert_close(got[2][0], 0.5 - 0.1 * (0.1 - 0.05 + 0.2));
    assert_close(got[2][1], -1.25 - 0.1 * (-0.2 + 0.4 + 0.1));
    assert_close(got[2][2], 2.0 - 0.1 * (0.3 + 0.25 - 0.6));
}

static void sgd_momentum_and_nesterov_differ(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_SGD);
    s.lr = 0.1;
    s.momentum = 0.9;
    float plain[STEPS][N3], nest[STEPS][N3];
    double want[STEPS][N3];
    run3(&s, plain);
    ref_sgd(0.1, 0.9, 0, false, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(plain[t][i], want[t][i]);
    /* Step 2 by hand, element 0: buf1 = 0.1, buf2 = 0.9*0.1 - 0.05 = 0.04;
     * p = 0.5 - 0.01 - 0.004. */
    assert_close(plain[1][0], 0.486);

    s.nesterov = true;
    run3(&s, nest);
    ref_sgd(0.1, 0.9, 0, true, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(nest[t][i], want[t][i]);
    /* Nesterov's first step already differs: d + 0.9*buf = 1.9*g. */
    assert_close(nest[0][0], 0.5 - 0.1 * 1.9 * 0.1);
    assert_true(fabsf(nest[2][0] - plain[2][0]) > 1e-4f);
}

static void sgd_weight_decay_pulls_towards_zero(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_SGD);
    s.lr = 0.1;
    s.momentum = 0.5;
    s.weight_decay = 0.05;
    float got[STEPS][N3], nodecay[STEPS][N3];
    double want[STEPS][N3];
    run3(&s, got);
    ref_sgd(0.1, 0.5, 0.05, false, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(got[t][i], want[t][i]);
    /* First step by hand: p -= 0.1*(g + 0.05*p). */
    assert_close(got[0][2], 2.0 - 0.1 * (0.3 + 0.05 * 2.0));
    s.weight_decay = 0;
    run3(&s, nodecay);
    for (int i = 0; i < N3; i++)
        assert_true(fabsf(got[STEPS - 1][i]) < fabsf(nodecay[STEPS - 1][i]));
}

/* --- Adam -------------------------------------------------------------- */

static void ref_adam(double lr, double b1, double b2, double wd, double out[STEPS][N3])
{
    double p[N3], m[N3] = {0}, v[N3] = {0};
    memcpy(p, P0, sizeof p);
    for (int t = 0; t < STEPS; t++) {
        double c1 = 1, c2 = 1;
        for (int k = 0; k <= t; k++)
            c1 *= b1, c2 *= b2;
        for (int i = 0; i < N3; i++) {
            double d = G[t][i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * d;
            v[i] = b2 * v[i] + (1 - b2) * d * d;
            double mhat = m[i] / (1 - c1), vhat = v[i] / (1 - c2);
            p[i] -= lr * mhat / (sqrt(vhat) + 1e-8);
            out[t][i] = p[i];
        }
    }
}

static void adam_matches_reference(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_ADAM);
    s.lr = 0.01;
    float got[STEPS][N3];
    double want[STEPS][N3];
    run3(&s, got);
    ref_adam(0.01, 0.9, 0.999, 0, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(got[t][i], want[t][i]);
    /* Bias correction makes the first step lr*sign(g) (up to eps). */
    assert_close(got[0][0], 0.5 - 0.01);
    assert_close(got[0][1], -1.25 + 0.01);

    s.weight_decay = 0.1;
    s.beta1 = 0.8;
    s.beta2 = 0.95;
    run3(&s, got);
    ref_adam(0.01, 0.8, 0.95, 0.1, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(got[t][i], want[t][i]);
}

/* --- RMSprop ----------------------------------------------------------- */

static void ref_rmsprop(double lr, double alpha, double wd, double out[STEPS][N3])
{
    double p[N3], v[N3] = {0};
    memcpy(p, P0, sizeof p);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++) {
            double d = G[t][i] + wd * p[i];
            v[i] = alpha * v[i] + (1 - alpha) * d * d;
            p[i] -= lr * d / (sqrt(v[i]) + 1e-8);
            out[t][i] = p[i];
        }
}

static void rmsprop_matches_reference(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_RMSPROP);
    s.lr = 0.01;
    float got[STEPS][N3];
    double want[STEPS][N3];
    run3(&s, got);
    ref_rmsprop(0.01, 0.99, 0, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(got[t][i], want[t][i]);
    /* No bias correction: the first step is lr*g/sqrt(0.01*g^2) = 10*lr*sign(g). */
    assert_close(got[0][0], 0.5 - 0.1);

    s.weight_decay = 0.2;
    s.alpha = 0.9;
    run3(&s, got);
    ref_rmsprop(0.01, 0.9, 0.2, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N3; i++)
            assert_close(got[t][i], want[t][i]);
}

/* --- LARS -------------------------------------------------------------- */

/* Parameters 0..2 are a weight tensor, 3..4 a bias. */
#define NL 5
static const double LP0[NL] = {0.5, -1.25, 2.0, 0.3, -0.1};
static const double LG[STEPS][NL] = {
    {0.1, -0.2, 0.3, 0.05, -0.02},
    {-0.05, 0.4, 0.25, 0.01, 0.03},
    {0.2, 0.1, -0.6, -0.04, 0.02},
};

static void ref_lars(double lrw, double lrb, double mom, double wd, int batch, double out[STEPS][NL])
{
    double p[NL], mu[NL] = {0};
    memcpy(p, LP0, sizeof p);
    const double scale = batch / 256.0;
    for (int t = 0; t < STEPS; t++) {
        /* weights: decay and trust ratio */
        double d[NL], pn = 0, un = 0;
        for (int i = 0; i < 3; i++) {
            d[i] = LG[t][i] + wd * p[i];
            pn += p[i] * p[i];
            un += d[i] * d[i];
        }
        double q = 0.001 * sqrt(pn) / sqrt(un);
        for (int i = 0; i < 3; i++) {
            mu[i] = mom * mu[i] + q * d[i];
            p[i] -= lrw * scale * mu[i];
        }
        /* bias: plain momentum */
        for (int i = 3; i < NL; i++) {
            mu[i] = mom * mu[i] + LG[t][i];
            p[i] -= lrb * scale * mu[i];
        }
        memcpy(out[t], p, sizeof p);
    }
}

static void run_lars(const struct enevo_learning_spec *s, float out[STEPS][NL])
{
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN];
    /* Given out of order on purpose. */
    struct enevo_param_seg segs[] = {{3, 2, true}, {0, 3, false}};
    int rc = enevo_optim_init(&o, s, NL, segs, 2, err, sizeof err);
    if (rc)
        fail_msg("init: %s", err);
    float p[NL], g[NL];
    for (int i = 0; i < NL; i++)
        p[i] = (float)LP0[i];
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < NL; i++)
            g[i] = (float)LG[t][i];
        enevo_optim_step(&o, p, g);
        memcpy(out[t], p, sizeof p);
    }
    enevo_optim_free(&o);
}

static void lars_trust_ratio_on_weights_plain_on_biases(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_LARS);
    s.lr_weights = 0.2;
    s.lr_biases = 0.0048;
    s.momentum = 0.9;
    s.weight_decay = 1e-4;
    s.batch_size = 128;
    float got[STEPS][NL];
    double want[STEPS][NL];
    run_lars(&s, got);
    ref_lars(0.2, 0.0048, 0.9, 1e-4, 128, want);
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < NL; i++)
            assert_close(got[t][i], want[t][i]);

    /* First step on the bias by hand: p -= 0.0048 * 128/256 * g. */
    assert_close(got[0][3], 0.3 - 0.0024 * 0.05);
    /* First step on the weights moves them by lr*eta*||p||, whatever the
     * gradient's scale (trust ratio). */
    double pn = sqrt(0.25 + 1.5625 + 4.0), moved = 0;
    for (int i = 0; i < 3; i++)
        moved += (got[0][i] - LP0[i]) * (got[0][i] - LP0[i]);
    assert_close(sqrt(moved), 0.2 * 0.5 * 0.001 * pn);

    /* Weight decay touches the weights but not the 1-D segment. */
    float nodecay[STEPS][NL];
    s.weight_decay = 0.5;
    run_lars(&s, got);
    s.weight_decay = 0;
    run_lars(&s, nodecay);
    for (int t = 0; t < STEPS; t++)
        for (int i = 3; i < NL; i++)
            assert_true(got[t][i] == nodecay[t][i]);
    assert_true(got[1][0] != nodecay[1][0]);
}

static void lars_zero_weights_skip_the_trust_ratio(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_LARS);
    s.lr_weights = 0.2;
    s.lr_biases = 0.01;
    s.momentum = 0.9;
    s.batch_size = 256;
    struct enevo_param_seg seg = {0, 3, false};
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_optim_init(&o, &s, 3, &seg, 1, err, sizeof err), 0);
    float p[3] = {0, 0, 0}, g[3] = {1, -2, 3};
    enevo_optim_step(&o, p, g);
    /* ||p|| = 0: q = 1, p = -0.2*g. */
    assert_close(p[0], -0.2);
    assert_close(p[1], 0.4);
    assert_close(p[2], -0.6);
    /* Zero gradient: q = 1 again, momentum alone carries p on. */
    float z[3] = {0, 0, 0};
    enevo_optim_step(&o, p, z);
    assert_close(p[0], -0.2 - 0.2 * 0.9);
    enevo_optim_free(&o);
}

/* --- Large blocks go through the parallel path unchanged ----------------- */

static void large_block_matches_elementwise(void **state)
{
    (void)state;
    const size_t n = 100003;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    assert_non_null(p);
    assert_non_null(g);
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)P0[i % N3];
        g[i] = (float)G[0][i % N3];
    }
    enum enevo_optimizer kinds[] = {ENEVO_OPT_SGD, ENEVO_OPT_ADAM, ENEVO_OPT_RMSPROP};
    for (size_t k = 0; k < ENEVO_COUNT(kinds); k++) {
        struct enevo_learning_spec s = spec_of(kinds[k]);
        s.momentum = kinds[k] == ENEVO_OPT_SGD ? 0.9 : 0;
        float small[STEPS][N3];
        run3(&s, small);
        struct enevo_optim o;
        char err[ENEVO_ERR_LEN];
        assert_int_equal(enevo_optim_init(&o, &s, n, NULL, 0, err, sizeof err), 0);
        for (size_t i = 0; i < n; i++)
            p[i] = (float)P0[i % N3];
        for (int t = 0; t < STEPS; t++) {
            for (size_t i = 0; i < n; i++)
                g[i] = (float)G[t][i % N3];
            enevo_optim_step(&o, p, g);
        }
        int same = 1;
        for (size_t i = 0; i < n; i++)
            same &= p[i] == small[STEPS - 1][i % N3];
        assert_true(same);
        enevo_optim_free(&o);
    }
    free(p);
    free(g);
}

/* --- State and validation --------------------------------------------- */

static void state_floats_per_optimiser(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_SGD);
    assert_int_equal(enevo_optim_state_floats(&s), 0);
    s.momentum = 0.9;
    assert_int_equal(enevo_optim_state_floats(&s), 1);
    s = spec_of(ENEVO_OPT_ADAM);
    assert_int_equal(enevo_optim_state_floats(&s), 2);
    s = spec_of(ENEVO_OPT_RMSPROP);
    assert_int_equal(enevo_optim_state_floats(&s), 1);
    s = spec_of(ENEVO_OPT_LARS);
    assert_int_equal(enevo_optim_state_floats(&s), 1);

    /* The state is allocated and zeroed. */
    s = spec_of(ENEVO_OPT_ADAM);
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_optim_init(&o, &s, 4, NULL, 0, err, sizeof err), 0);
    assert_non_null(o.state);
    for (int i = 0; i < 8; i++)
        assert_true(o.state[i] == 0.0f);
    assert_int_equal(o.t, 0);
    enevo_optim_free(&o);
    s = spec_of(ENEVO_OPT_SGD);
    assert_int_equal(enevo_optim_init(&o, &s, 4, NULL, 0, err, sizeof err), 0);
    assert_null(o.state);
    enevo_optim_free(&o);
}

static void expect_init_error(const struct enevo_learning_spec *s, size_t n,
                              const struct enevo_param_seg *segs, int n_segs, const char *needle)
{
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_optim_init(&o, s, n, segs, n_segs, err, sizeof err);
    if (rc != ENEVO_EINVAL)
        fail_msg("expected EINVAL for '%s', got %d (%s)", needle, rc, err);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    assert_null(o.segs);
    assert_null(o.state);
}

static void init_rejects_bad_segments_and_specs(void **state)
{
    (void)state;
    struct enevo_learning_spec s = spec_of(ENEVO_OPT_ADAM);
    struct enevo_param_seg overlap[] = {{0, 4, false}, {3, 2, true}};
    expect_init_error(&s, 10, overlap, 2, "overlaps");
    struct enevo_param_seg overlap_unsorted[] = {{5, 5, false}, {0, 6, true}};
    expect_init_error(&s, 10, overlap_unsorted, 2, "overlaps");
    struct enevo_param_seg outside[] = {{8, 4, false}};
    expect_init_error(&s, 10, outside, 1, "outside");
    struct enevo_param_seg wrap[] = {{2, SIZE_MAX, false}};
    expect_init_error(&s, 10, wrap, 1, "outside");
    expect_init_error(&s, 0, outside, 1, "no parameters");

    /* LARS must see every parameter. */
    struct enevo_learning_spec l = spec_of(ENEVO_OPT_LARS);
    struct enevo_param_seg gap[] = {{0, 4, false}, {5, 5, true}};
    expect_init_error(&l, 10, gap, 2, "belong to no segment");
    struct enevo_param_seg short_tail[] = {{0, 4, false}};
    expect_init_error(&l, 10, short_tail, 1, "belong to no segment");
    l.batch_size = 0;
    struct enevo_param_seg all[] = {{0, 10, false}};
    expect_init_error(&l, 10, all, 1, "batch_size");

    struct enevo_learning_spec g = spec_of(ENEVO_OPT_SGD);
    g.nesterov = true;
    expect_init_error(&g, 10, NULL, 0, "nesterov");
    g = spec_of(ENEVO_OPT_SGD);
    g.lr = NAN;
    expect_init_error(&g, 10, NULL, 0, "lr");
    s.beta2 = 1.0;
    expect_init_error(&s, 10, NULL, 0, "betas");

    /* Adjacent, unordered segments with a gap are fine outside LARS. */
    s = spec_of(ENEVO_OPT_ADAM);
    struct enevo_param_seg ok[] = {{6, 4, false}, {0, 4, true}};
    struct enevo_optim o;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_optim_init(&o, &s, 10, ok, 2, err, sizeof err), 0);
    assert_int_equal(o.n_segs, 2);
    assert_int_equal(o.segs[0].offset, 6);
    enevo_optim_free(&o);
}

const struct CMUnitTest enevo_tests_optim[] = {
    cmocka_unit_test(sgd_plain_matches_reference),
    cmocka_unit_test(sgd_momentum_and_nesterov_differ),
    cmocka_unit_test(sgd_weight_decay_pulls_towards_zero),
    cmocka_unit_test(adam_matches_reference),
    cmocka_unit_test(rmsprop_matches_reference),
    cmocka_unit_test(lars_trust_ratio_on_weights_plain_on_biases),
    cmocka_unit_test(lars_zero_weights_skip_the_trust_ratio),
    cmocka_unit_test(large_block_matches_elementwise),
    cmocka_unit_test(state_floats_per_optimiser),
    cmocka_unit_test(init_rejects_bad_segments_and_specs),
};
const size_t enevo_tests_optim_count = ENEVO_COUNT(enevo_tests_optim);
