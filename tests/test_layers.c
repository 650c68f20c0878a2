/* Layer tests: finite-difference gradient checks of every layer kind, the
 * sum-merge (with shape-fix convs) and the loss, through whole small
 * networks; and forward passes against a naive reference implementation. */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/net.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"

#define B 3 /* batch */

struct fixture {
    struct enevo_phenotype p;
    struct enevo_net *net;
    float *x;
    uint8_t y[B];
    struct enevo_shape in;
};

static void setup_net(struct fixture *f, const char *text, struct enevo_shape in, int classes,
                      bool training)
{
    char err[ENEVO_ERR_LEN];
    int rc = enevo_phenotype_parse(text, "test", &f->p, err, sizeof err);
    if (rc)
        fail_msg("parse: %s", err);
    struct enevo_net_opts o = {.batch = B, .training = training, .threads = 1};
    rc = enevo_net_create(&f->p, in, classes, &o, &f->net, err, sizeof err);
    if (rc)
        fail_msg("create: %s", err);
    enevo_rng r;
    enevo_rng_seed(&r, 11, ENEVO_STREAM_INIT);
    enevo_net_init_params(f->net, &r);
    /* Non-zero biases so the bias paths are exercised too. */
    float *pp = enevo_net_params(f->net);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(f->net, &nseg);
    for (int s = 0; s < nseg; s++)
        if (segs[s].is_1d)
            for (size_t i = 0; i < segs[s].count; i++)
                pp[segs[s].offset + i] += 0.1f * enevo_rng_normal(&r);
    size_t nx = (size_t)B * in.c * in.h * in.w;
    f->x = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++)
        f->x[i] = enevo_rng_normal(&r);
    for (int i = 0; i < B; i++)
        f->y[i] = (uint8_t)(i % classes);
    f->in = in;
}

static void teardown_net(struct fixture *f)
{
    enevo_net_free(f->net);
    enevo_phenotype_free(&f->p);
    free(f->x);
}

static double loss_at(struct fixture *f)
{
    assert_int_equal(enevo_net_forward(f->net, f->x, true, 1234), 0);
    return enevo_net_loss(f->net, f->y, B, NULL);
}

/* Central differences on a sample of parameters of every tensor. */
static void gradcheck(const char *text, struct enevo_shape in, int classes)
{
    struct fixture f;
    setup_net(&f, text, in, classes, true);
    loss_at(&f);
    assert_int_equal(enevo_net_backward(f.net), 0);
    size_t n = enevo_net_param_count(f.net);
    float *g = malloc(sizeof(float) * n);
    memcpy(g, enevo_net_grads(f.net), sizeof(float) * n);
    float *p = enevo_net_params(f.net);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(f.net, &nseg);
    enevo_rng r;
    enevo_rng_seed(&r, 5, 0);
    int checked = 0, bad = 0;
    for (int s = 0; s < nseg; s++) {
        for (int t = 0; t < 6; t++) {
            size_t i = segs[s].offset + enevo_rng_below(&r, (uint32_t)segs[s].count);
            float keep = p[i];
            const float h = 1e-3f;
            p[i] = keep + h;
            double lp = loss_at(&f);
            p[i] = keep - h;
            double lm = loss_at(&f);
            p[i] = keep;
            double num = (lp - lm) / (2.0 * h);
            double ana = g[i];
            double tol = 2e-3 + 3e-2 * fmax(fabs(num), fabs(ana));
            checked++;
            if (fabs(num - ana) > tol) {
                bad++;
                print_message("segment %d index %zu: analytic %.6g numeric %.6g\n", s, i, ana, num);
            }
        }
    }
    assert_true(checked >= 6);
    assert_int_equal(bad, 0);
    free(g);
    teardown_net(&f);
}

static const struct enevo_shape IMG = {2, 7, 7};

static void gradcheck_conv(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:5 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:conv out_channels:4 kernel_size:2 stride:2 padding:valid act:linear bias:True input:0\n"
              "layer:conv out_channels:3 kernel_size:2 stride:1 padding:same act:sigmoid bias:False input:1\n"
              "layer:fc act:softmax out_features:3 bias:True input:2\n",
              IMG, 3);
}

/* The shapes that had only reference kernels on AVX2 (issue 11): a strided
 * valid conv on a 1-channel image (backward weights) and one into a
 * 3-channel input (backward data). Their passes now run other formats with
 * reorders between, or oneDNN's GEMM convolution; the ISA-cap rerun in
 * test_kernels.c checks this under SSE41, AVX2 and AVX512_CORE. */
static void gradcheck_strided_convs_on_few_channels(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:3 kernel_size:5 stride:2 padding:valid act:sigmoid bias:True input:-1\n"
              "layer:conv out_channels:5 kernel_size:4 stride:2 padding:valid act:linear bias:True input:0\n"
              "layer:conv out_channels:8 kernel_size:2 stride:1 padding:same act:sigmoid bias:False input:1\n"
              "layer:fc act:softmax out_features:3 bias:True input:2\n",
              (struct enevo_shape){1, 17, 17}, 3);
}

/* Logits and every gradient of one training step. */
static void step_outputs(const char *text, struct enevo_shape in, float **logits, float **grads,
                         size_t *ng)
{
    struct fixture f;
    setup_net(&f, text, in, 3, true);
    loss_at(&f);
    assert_int_equal(enevo_net_backward(f.net), 0);
    *ng = enevo_net_param_count(f.net);
    *logits = malloc(sizeof(float) * B * 3);
    *grads = malloc(sizeof(float) * *ng);
    memcpy(*logits, enevo_net_logits(f.net), sizeof(float) * B * 3);
    memcpy(*grads, enevo_net_grads(f.net), sizeof(float) * *ng);
    teardown_net(&f);
}

/* enevo's own pooling loops (pool_own.c) against oneDNN's pooling
 * primitive (ENEVO_POOL=onednn) on the same net, input and parameters:
 * max and average, kernels 1-5, strides 1-3, same and valid padding, on
 * the plain 1-channel image and on blocked maps of 5 (padded block) and
 * 32 channels. */
static void pool_own_matches_onednn(void **state)
{
    (void)state;
    const char *kinds[] = {"pool_max", "pool_avg"};
    int compared = 0;
    for (int kind = 0; kind < 2; kind++)
        for (int k = 1; k <= 5; k++)
            for (int st = 1; st <= 3; st++)
                for (int pad = 0; pad < 2; pad++)
                    for (int ch = 0; ch < 3; ch++) {
                        char text[800];
                        const char *pd = pad ? "valid" : "same";
                        if (ch == 0)
                            snprintf(text, sizeof text,
                                     "layer:%s kernel_size:%d stride:%d padding:%s input:-1\n"
                                     "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu bias:True input:0\n"
                                     "layer:fc act:softmax out_features:3 bias:True input:1\n",
                                     kinds[kind], k, st, pd);
                        else
                            snprintf(text, sizeof text,
                                     "layer:conv out_channels:%d kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
                                     "layer:%s kernel_size:%d stride:%d padding:%s input:0\n"
                                     "layer:fc act:softmax out_features:3 bias:True input:1\n",
                                     ch == 1 ? 5 : 32, kinds[kind], k, st, pd);
                        struct enevo_shape in = {1, 11, 11};
                        float *l1, *g1, *l2, *g2;
                        size_t n1, n2;
                        unsetenv("ENEVO_POOL");
                        step_outputs(text, in, &l1, &g1, &n1);
                        setenv("ENEVO_POOL", "onednn", 1);
                        step_outputs(text, in, &l2, &g2, &n2);
                        unsetenv("ENEVO_POOL");
                        assert_int_equal(n1, n2);
                        for (int i = 0; i < B * 3; i++)
                            if (fabsf(l1[i] - l2[i]) > 1e-5f + 1e-5f * fabsf(l2[i]))
                                fail_msg("%s k%d s%d %s ch%d: logit %d %g vs oneDNN %g", kinds[kind], k,
                                         st, pd, ch, i, l1[i], l2[i]);
                        for (size_t i = 0; i < n1; i++)
                            if (fabsf(g1[i] - g2[i]) > 1e-5f + 1e-4f * fabsf(g2[i]))
                                fail_msg("%s k%d s%d %s ch%d: gradient %zu %g vs oneDNN %g",
                                         kinds[kind], k, st, pd, ch, i, g1[i], g2[i]);
                        free(l1), free(g1), free(l2), free(g2);
                        compared++;
                    }
    assert_int_equal(compared, 2 * 5 * 3 * 2 * 3);
}

static void gradcheck_pool_max(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
              "layer:fc act:softmax out_features:3 bias:True input:1\n",
              IMG, 3);
}

static void gradcheck_pool_avg_same(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:4 kernel_size:3 stride:1 padding:valid act:sigmoid bias:True input:-1\n"
              "layer:pool_avg kernel_size:3 stride:2 padding:same input:0\n"
              "layer:fc act:softmax out_features:3 bias:True input:1\n",
              IMG, 3);
}

static void gradcheck_batch_norm(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:linear bias:True input:-1\n"
              "layer:batch_norm input:0\n"
              "layer:conv out_channels:3 kernel_size:3 stride:2 padding:valid act:sigmoid bias:True input:1\n"
              "layer:fc act:softmax out_features:3 bias:True input:2\n",
              IMG, 3);
}

static void gradcheck_dropout_and_fc(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:dropout rate:0.3 input:0\n"
              "layer:fc act:sigmoid out_features:6 bias:True input:1\n"
              "layer:dropout rate:0.5 input:2\n"
              "layer:fc act:linear out_features:5 bias:False input:3\n"
              "layer:fc act:softmax out_features:3 bias:True input:4\n",
              IMG, 3);
}

static void gradcheck_sum_merge_with_fix(void **state)
{
    (void)state;
    /* Layer 2 sums layer 1 (4x7x7) and layer 0 (5x7x7 -> fixed to 4 channels);
     * layer 4 sums a 3x3 map with a 7x7 one (strided fix). */
    gradcheck("layer:conv out_channels:5 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:0\n"
              "layer:conv out_channels:4 kernel_size:1 stride:1 padding:valid act:sigmoid bias:True input:1,0\n"
              "layer:pool_avg kernel_size:3 stride:2 padding:valid input:2\n"
              "layer:conv out_channels:4 kernel_size:1 stride:1 padding:valid act:sigmoid bias:True input:3,2\n"
              "layer:fc act:softmax out_features:3 bias:True input:4\n",
              IMG, 3);
}

/* A 1-channel input that needs a gradient (batch norm and dropout on the
 * image): oneDNN has no JIT backward-data kernel for plain 1-channel
 * d(src), so the conv takes the blocked-format path plus a reorder. The
 * batch-norm scale and shift gradients flow through it. */
static void gradcheck_conv_on_one_channel_input(void **state)
{
    (void)state;
    gradcheck("layer:batch_norm input:-1\n"
              "layer:dropout rate:0.2 input:0\n"
              "layer:conv out_channels:5 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:1\n"
              "layer:fc act:softmax out_features:3 bias:True input:2\n",
              (struct enevo_shape){1, 7, 7}, 3);
}

/* Two heads, one backward: the loss L0 + 0.7 L1 through a partition at
 * layer 1 (its output feeds both the trunk and the extra head). */
static void gradcheck_two_heads(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:5 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:pool_avg kernel_size:2 stride:2 padding:valid input:0\n"
              "layer:conv out_channels:4 kernel_size:2 stride:1 padding:valid act:sigmoid bias:True input:1\n"
              "layer:fc act:softmax out_features:3 bias:True input:2\n"
              "model_partition:True partition_point:1 weight:0.7\n",
              IMG, 3);
}

static void gradcheck_relu_conv(void **state)
{
    (void)state;
    gradcheck("layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:fc act:relu out_features:8 bias:True input:0\n"
              "layer:fc act:softmax out_features:3 bias:True input:1\n",
              IMG, 3);
}

/* ---- forward against a naive reference (NCHW, oihw weights) ---- */

static void ref_conv(const float *x, int c, int h, int w, const float *wt, const float *b, int oc,
                     int k, int stride, int pl, int oh, int ow, int act, float *y)
{
    for (int n = 0; n < B; n++)
        for (int o = 0; o < oc; o++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double s = b ? b[o] : 0;
                    for (int ci = 0; ci < c; ci++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int yy = i * stride + u - pl, xx = j * stride + v - pl;
                                if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                                    continue;
                                s += (double)x[((n * c + ci) * h + yy) * w + xx] *
                                     wt[((o * c + ci) * k + u) * k + v];
                            }
                    if (act == ENEVO_ACT_RELU && s < 0)
                        s = 0;
                    y[((n * oc + o) * oh + i) * ow + j] = (float)s;
                }
}

static void ref_maxpool(const float *x, int c, int h, int w, int k, int s, float *y, int oh, int ow)
{
    for (int n = 0; n < B * c; n++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                float m = -INFINITY;
                for (int u = 0; u < k; u++)
                    for (int v = 0; v < k; v++) {
                        int yy = i * s + u, xx = j * s + v;
                        if (yy < h && xx < w && x[(n * h + yy) * w + xx] > m)
                            m = x[(n * h + yy) * w + xx];
                    }
                y[(n * oh + i) * ow + j] = m;
            }
}

static void forward_matches_reference(void **state)
{
    (void)state;
    struct fixture f;
    /* 20 output channels: not a multiple of the 16-channel block. */
    setup_net(&f,
              "layer:conv out_channels:20 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
              "layer:conv out_channels:17 kernel_size:2 stride:2 padding:valid act:linear bias:True input:1\n"
              "layer:fc act:softmax out_features:4 bias:True input:2\n",
              (struct enevo_shape){2, 9, 9}, 4, false);
    const float *p = enevo_net_params(f.net);
    /* conv0: 20x2x3x3 + 20; conv2: 17x20x2x2 + 17; fc: 4 x (17*2*2) + 4 */
    const float *w0 = p, *b0 = w0 + 20 * 2 * 9, *w2 = b0 + 20, *b2 = w2 + 17 * 20 * 4,
                *wf = b2 + 17, *bf = wf + 4 * 17 * 4;
    assert_int_equal(enevo_net_param_count(f.net), (size_t)(bf + 4 - p));
    float *a0 = malloc(sizeof(float) * B * 20 * 81), *a1 = malloc(sizeof(float) * B * 20 * 16),
          *a2 = malloc(sizeof(float) * B * 17 * 4);
    ref_conv(f.x, 2, 9, 9, w0, b0, 20, 3, 1, 1, 9, 9, ENEVO_ACT_RELU, a0);
    ref_maxpool(a0, 20, 9, 9, 2, 2, a1, 4, 4);
    ref_conv(a1, 20, 4, 4, w2, b2, 17, 2, 2, 0, 2, 2, ENEVO_ACT_LINEAR, a2);
    assert_int_equal(enevo_net_forward(f.net, f.x, false, 0), 0);
    const float *z = enevo_net_logits(f.net);
    for (int n = 0; n < B; n++)
        for (int o = 0; o < 4; o++) {
            double s = bf[o];
            for (int i = 0; i < 17 * 4; i++)
                s += (double)wf[o * 68 + i] * a2[n * 68 + i];
            double got = z[n * 4 + o];
            if (fabs(got - s) > 1e-4 * fmax(1.0, fabs(s)))
                fail_msg("logit [%d,%d]: enevo %.7g, reference %.7g", n, o, got, s);
        }
    free(a0);
    free(a1);
    free(a2);
    teardown_net(&f);
}

static void inference_net_sees_new_weights(void **state)
{
    (void)state;
    struct fixture f;
    setup_net(&f,
              "layer:conv out_channels:20 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:fc act:softmax out_features:4 bias:True input:0\n",
              (struct enevo_shape){2, 5, 5}, 4, false);
    assert_int_equal(enevo_net_forward(f.net, f.x, false, 0), 0);
    float before[B * 4], again[B * 4];
    memcpy(before, enevo_net_logits(f.net), sizeof before);
    /* Same weights: the cached kernel-format weights give the same logits. */
    assert_int_equal(enevo_net_forward(f.net, f.x, false, 0), 0);
    assert_memory_equal(before, enevo_net_logits(f.net), sizeof before);
    /* New weights through a fresh enevo_net_params(): the next forward uses them. */
    float *p = enevo_net_params(f.net);
    for (size_t i = 0; i < enevo_net_param_count(f.net); i++)
        p[i] *= 0.5f;
    assert_int_equal(enevo_net_forward(f.net, f.x, false, 0), 0);
    memcpy(again, enevo_net_logits(f.net), sizeof again);
    assert_true(memcmp(before, again, sizeof before) != 0);
    teardown_net(&f);
}

static void loss_is_stable_for_huge_logits(void **state)
{
    (void)state;
    struct fixture f;
    setup_net(&f, "layer:fc act:softmax out_features:3 bias:True input:-1\n",
              (struct enevo_shape){1, 1, 2}, 3, true);
    float *p = enevo_net_params(f.net);
    /* logits = 1e4 * x: exp would overflow without the max shift. */
    for (int i = 0; i < 6; i++)
        p[i] = (i % 2 ? -1e4f : 1e4f) * (float)(i + 1);
    assert_int_equal(enevo_net_forward(f.net, f.x, true, 0), 0);
    double l = enevo_net_loss(f.net, f.y, B, NULL);
    assert_true(isfinite(l));
    assert_true(l >= 0);
    teardown_net(&f);
}

static void invalid_phenotype_is_rejected_before_allocation(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_phenotype_parse(
                         "layer:pool_max kernel_size:3 stride:1 padding:valid input:-1\n"
                         "layer:pool_max kernel_size:3 stride:1 padding:valid input:0\n"
                         "layer:fc act:softmax out_features:3 bias:True input:1\n",
                         "t", &p, err, sizeof err),
                     0);
    struct enevo_net *net = NULL;
    struct enevo_net_opts o = {.batch = 2, .training = true};
    int rc = enevo_net_create(&p, (struct enevo_shape){1, 4, 4}, 3, &o, &net, err, sizeof err);
    assert_int_equal(rc, ENEVO_ESHAPE);
    assert_null(net);
    assert_non_null(strstr(err, "layer 1"));
    enevo_phenotype_free(&p);
}

const struct CMUnitTest enevo_tests_layers[] = {
    cmocka_unit_test(gradcheck_conv),
    cmocka_unit_test(gradcheck_strided_convs_on_few_channels),
    cmocka_unit_test(pool_own_matches_onednn),
    cmocka_unit_test(gradcheck_pool_max),
    cmocka_unit_test(gradcheck_pool_avg_same),
    cmocka_unit_test(gradcheck_batch_norm),
    cmocka_unit_test(gradcheck_dropout_and_fc),
    cmocka_unit_test(gradcheck_sum_merge_with_fix),
    cmocka_unit_test(gradcheck_relu_conv),
    cmocka_unit_test(gradcheck_two_heads),
    cmocka_unit_test(gradcheck_conv_on_one_channel_input),
    cmocka_unit_test(forward_matches_reference),
    cmocka_unit_test(inference_net_sees_new_weights),
    cmocka_unit_test(loss_is_stable_for_huge_logits),
    cmocka_unit_test(invalid_phenotype_is_rejected_before_allocation),
};
const size_t enevo_tests_layers_count = ENEVO_COUNT(enevo_tests_layers);
