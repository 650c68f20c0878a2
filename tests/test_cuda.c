/* The CUDA backend against the CPU backend (ggml's test-backend-ops): the
 * same network, parameters and inputs on both, outputs compared within a
 * stated tolerance. Per layer kind: inference and training forward,
 * loss, every gradient and the batch-norm statistics; then device training
 * with each optimiser, evaluation of a bound data set, reproducibility,
 * Fashion-MNIST, forward_again and an nvml measurement.
 *
 * Public API only, so this file builds with and without CUDA=1. Without a
 * usable GPU every GPU test skips and says why. ENEVO_TEST_DEVICE names the
 * device to test instead of "cuda" (e.g. cuda:1; "cpu" runs the whole
 * harness CPU against CPU, a check of the tests themselves). */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "enevo/train.h"

#define CLASSES 10

/* Tolerance, per tensor (all logits, the whole gradient block, the whole
 * parameter block, the statistics block), as ggml's test-backend-ops does:
 *     NMSE = sum (gpu - cpu)^2 / sum cpu^2 <= 1e-7,
 * plus a bound on every element, loose enough for cancellation:
 *     |gpu - cpu| <= 1e-3 max|cpu| + 2e-2 |cpu|.
 * Why not a tight per-element bound: gradients that flow back through a
 * batch norm are differences of nearly equal terms (dy - mean dy - xhat
 * mean(dy xhat)); the two backends round them differently, and a conv
 * weight gradient sums ~50,000 of them: on an H100, 16 of the 1,600 weight
 * gradients of bench/medium's first conv differed by ~1% (2x a 1e-3
 * bound) while the whole gradient block agreed to NMSE 1.2e-9 (small:
 * 3.3e-13; the NMSE of every large gradient block is printed). The element bound still catches a wrong
 * index, a missed term or a wrong layer. Losses (scalars): 1.1e-3 relative.
 * Strict fp32 on the GPU (tf32 off). */
#define NMSE_MAX 1e-7
#define RTOL 2e-2
#define ATOL_REL 1e-3
#define LOSS_RTOL 1.1e-3
static const char *gpu_device(void)
{
    const char *d = getenv("ENEVO_TEST_DEVICE");
    return d && d[0] ? d : "cuda";
}

/* True when the GPU is usable; otherwise says why (the caller skips). */
static bool need_gpu(void)
{
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_device_resolve(gpu_device(), NULL, 0, NULL, 0, err, sizeof err) == 0)
        return true;
    print_message("      (skipped: %s)\n", err);
    return false;
}

/* ---- comparison ---- */

static void where_in_params(struct enevo_net *net, size_t i, char *buf, size_t len)
{
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
    snprintf(buf, len, "%s", "");
    for (int s = 0; s < nseg; s++)
        if (i >= segs[s].offset && i < segs[s].offset + segs[s].count)
            snprintf(buf, len, " (segment %d, %s, element %zu of %zu)", s,
                     segs[s].is_1d ? "1-D" : "weights", i - segs[s].offset, segs[s].count);
}

/* Fails with the worst element (index, both values) when any element is
 * outside the tolerance. `segs_of` (may be NULL) names the parameter
 * segment of the worst index, for parameter-shaped tensors. */
static void expect_close(const char *what, const float *cpu, const float *gpu, size_t n,
                         struct enevo_net *segs_of)
{
    double amax = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(cpu[i]))
            fail_msg("%s: the CPU value [%zu] is %g", what, i, (double)cpu[i]);
        amax = fmax(amax, fabs((double)cpu[i]));
    }
    double atol = ATOL_REL * amax, worst_r = -1, se = 0, s2 = 0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)gpu[i] - (double)cpu[i]), tol = atol + RTOL * fabs((double)cpu[i]);
        double r = isnan(d) ? INFINITY : d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
        se += d * d;
        s2 += (double)cpu[i] * cpu[i];
        if (!(d <= tol))
            bad++;
        if (r > worst_r) {
            worst_r = r;
            worst = i;
        }
    }
    double nmse = s2 > 0 ? se / s2 : se;
    if (segs_of && n >= 100000)
        print_message("      %s: NMSE %.3g over %zu elements\n", what, nmse, n);
    if (bad || !(nmse <= NMSE_MAX)) {
        char where[128] = "";
        if (segs_of)
            where_in_params(segs_of, worst, where, sizeof where);
        print_message(
            "      %s: NMSE %.3g (max %.0e); %zu of %zu elements outside |d| <= %.3g + %.0e |cpu|; "
            "worst [%zu]%s: cpu %.9g gpu %.9g (|d| %.3g, %.2fx the element bound)\n",
            what, nmse, NMSE_MAX, bad, n, atol, RTOL, worst, where, (double)cpu[worst],
            (double)gpu[worst], fabs((double)gpu[worst] - cpu[worst]), worst_r);
        fail_msg("%s differs between cpu and %s", what, gpu_device());
    }
}

static void expect_close1(const char *what, double cpu, double gpu)
{
    double tol = LOSS_RTOL * fabs(cpu);
    if (!isfinite(cpu) || !(fabs(gpu - cpu) <= tol)) {
        print_message("      %s: cpu %.9g gpu %.9g (|d| %.3g, tolerance %.3g)\n", what, cpu, gpu,
                      fabs(gpu - cpu), tol);
        fail_msg("%s differs between cpu and %s", what, gpu_device());
    }
}

/* ---- a CPU net and a GPU net with the same parameters and inputs ---- */

static struct enevo_net *make_net(const struct enevo_phenotype *p, struct enevo_shape in, int batch,
                                  bool training, const char *device)
{
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_net_opts o = {
        .batch = batch, .training = training, .device = device, .tf32 = false};
    struct enevo_net *net = NULL;
    if (enevo_net_create(p, in, CLASSES, &o, &net, err, sizeof err))
        fail_msg("create on %s: %s", device ? device : "cpu", err);
    return net;
}

struct pair {
    struct enevo_net *cpu, *gpu;
    int batch;
    float *x;   /* [batch, c, h, w] */
    uint8_t *y; /* [batch] */
};

/* Seeded He/Glorot parameters, then noise on every 1-D segment (biases,
 * batch-norm scale and shift) and statistics in [0.5, 1.5) (running means
 * and variances), so that no path runs on its trivial initial values;
 * copied to the GPU net. */
static void pair_init(struct pair *pr, const struct enevo_phenotype *p, struct enevo_shape in,
                      int batch, bool training, uint64_t seed)
{
    pr->batch = batch;
    pr->cpu = make_net(p, in, batch, training, "cpu");
    pr->gpu = make_net(p, in, batch, training, gpu_device());
    assert_int_equal(enevo_net_param_count(pr->cpu), enevo_net_param_count(pr->gpu));
    assert_int_equal(enevo_net_stats_count(pr->cpu), enevo_net_stats_count(pr->gpu));
    assert_int_equal(enevo_net_heads(pr->cpu), enevo_net_heads(pr->gpu));
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(pr->cpu, &r);
    float *pc = enevo_net_params(pr->cpu), *sc = enevo_net_stats(pr->cpu);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(pr->cpu, &nseg);
    for (int s = 0; s < nseg; s++)
        if (segs[s].is_1d)
            for (size_t i = 0; i < segs[s].count; i++)
                pc[segs[s].offset + i] += 0.1f * enevo_rng_normal(&r);
    size_t ns = enevo_net_stats_count(pr->cpu);
    for (size_t i = 0; i < ns; i++)
        sc[i] = 0.5f + enevo_rng_uniform(&r);
    memcpy(enevo_net_params(pr->gpu), pc, sizeof(float) * enevo_net_param_count(pr->cpu));
    memcpy(enevo_net_stats(pr->gpu), sc, sizeof(float) * ns);
    size_t nx = (size_t)batch * in.c * in.h * in.w;
    pr->x = malloc(sizeof(float) * nx);
    pr->y = malloc((size_t)batch);
    assert_non_null(pr->x);
    assert_non_null(pr->y);
    for (size_t i = 0; i < nx; i++)
        pr->x[i] = enevo_rng_normal(&r);
    for (int i = 0; i < batch; i++)
        pr->y[i] = (uint8_t)enevo_rng_below(&r, CLASSES);
}

static void pair_free(struct pair *pr)
{
    enevo_net_free(pr->cpu);
    enevo_net_free(pr->gpu);
    free(pr->x);
    free(pr->y);
}

/* Forward on both (the same dropout key) and compare both heads' logits. */
static void compare_forward(struct pair *pr, const char *name, bool train, bool compare)
{
    const uint64_t key = 0x5eed;
    assert_int_equal(enevo_net_forward(pr->cpu, pr->x, train, key), 0);
    assert_int_equal(enevo_net_forward(pr->gpu, pr->x, train, key), 0);
    if (!compare)
        return;
    char what[160];
    size_t nl = (size_t)pr->batch * CLASSES;
    snprintf(what, sizeof what, "%s: logits (%s)", name, train ? "train" : "eval");
    expect_close(what, enevo_net_logits(pr->cpu), enevo_net_logits(pr->gpu), nl, NULL);
    if (enevo_net_heads(pr->cpu) == 2) {
        snprintf(what, sizeof what, "%s: logits of head 2 (%s)", name, train ? "train" : "eval");
        expect_close(what, enevo_net_logits2(pr->cpu), enevo_net_logits2(pr->gpu), nl, NULL);
    }
}

/* Train forward, statistics, loss and every gradient. */
static void compare_training_pass(struct pair *pr, const char *name)
{
    char what[160];
    compare_forward(pr, name, true, true);
    snprintf(what, sizeof what, "%s: batch-norm running statistics", name);
    expect_close(what, enevo_net_stats(pr->cpu), enevo_net_stats(pr->gpu),
                 enevo_net_stats_count(pr->cpu), NULL);
    double lc = enevo_net_loss(pr->cpu, pr->y, pr->batch, NULL);
    double lg = enevo_net_loss(pr->gpu, pr->y, pr->batch, NULL);
    snprintf(what, sizeof what, "%s: loss", name);
    expect_close1(what, lc, lg);
    assert_int_equal(enevo_net_backward(pr->cpu), 0);
    assert_int_equal(enevo_net_backward(pr->gpu), 0);
    snprintf(what, sizeof what, "%s: gradients", name);
    expect_close(what, enevo_net_grads(pr->cpu), enevo_net_grads(pr->gpu),
                 enevo_net_param_count(pr->cpu), pr->cpu);
}

static void parse(const char *text, const char *name, struct enevo_phenotype *p)
{
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_phenotype_parse(text, name, p, err, sizeof err))
        fail_msg("parse: %s", err);
}

/* The whole check of one network. Dropout masks are laid out differently
 * by the two backends, so a net with dropout is compared in eval mode as it
 * is, and in train mode (forward, loss, gradients) with its rates set to 0. */
static void check_net(const char *name, const char *text, struct enevo_shape in, int batch)
{
    struct enevo_phenotype p;
    parse(text, name, &p);
    bool dropout = false;
    for (int i = 0; i < p.n_layers; i++)
        dropout |= p.layers[i].kind == ENEVO_LAYER_DROPOUT && p.layers[i].rate > 0;
    struct pair a;
    pair_init(&a, &p, in, batch, true, 17);
    compare_forward(&a, name, false, true);
    if (!dropout) {
        compare_training_pass(&a, name);
    } else {
        for (int i = 0; i < p.n_layers; i++)
            if (p.layers[i].kind == ENEVO_LAYER_DROPOUT)
                p.layers[i].rate = 0;
        struct pair b;
        pair_init(&b, &p, in, batch, true, 17);
        compare_training_pass(&b, name);
        pair_free(&b);
    }
    pair_free(&a);
    enevo_phenotype_free(&p);
}

static void check_file(const char *path, struct enevo_shape in, int batch)
{
    char *text = enevo_test_slurp(path);
    if (!text)
        fail_msg("cannot read %s (tests run from the repository root)", path);
    check_net(path, text, in, batch);
    free(text);
}

static const struct enevo_shape GRAY = {1, 12, 12}, RGB = {3, 8, 8}, FMNIST = {1, 28, 28};

#define FC10(in) "layer:fc act:softmax out_features:10 bias:True input:" #in "\n"

/* ---- 9. without a device ---- */

static void cuda_device_names(void **state)
{
    (void)state;
    char res[32] = "", err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_device_resolve("auto", res, sizeof res, NULL, 0, err, sizeof err), 0);
    assert_true(!strcmp(res, "cpu") || !strncmp(res, "cuda:", 5));
    const char *bad[] = {"gpu", "cuda:", "cuda:x", "cuda:99999", "cudax"};
    for (size_t i = 0; i < ENEVO_COUNT(bad); i++) {
        err[0] = 0;
        assert_int_not_equal(
            enevo_device_resolve(bad[i], res, sizeof res, NULL, 0, err, sizeof err), 0);
        if (!strstr(err, "unknown device"))
            fail_msg("device '%s': %s", bad[i], err);
    }
    struct enevo_phenotype p;
    parse("layer:conv out_channels:2 kernel_size:3 stride:1 padding:same act:relu bias:True "
          "input:-1\n" FC10(0),
          "t", &p);
    struct enevo_net_opts o = {.batch = 2, .training = true, .device = "gpu"};
    struct enevo_net *net = (struct enevo_net *)&o; /* must come back NULL */
    assert_int_not_equal(enevo_net_create(&p, GRAY, CLASSES, &o, &net, err, sizeof err), 0);
    assert_null(net);
    assert_non_null(strstr(err, "unknown device"));
    /* A device that cannot be used (no CUDA in this build, no GPU, or no
     * GPU 1023): creating a net on it fails with the resolver's message,
     * without a crash. */
    const char *cuda[] = {"cuda", "cuda:1023"};
    for (size_t i = 0; i < ENEVO_COUNT(cuda); i++) {
        char why[ENEVO_ERR_LEN] = "";
        int rc = enevo_device_resolve(cuda[i], NULL, 0, NULL, 0, why, sizeof why);
        if (i == 1)
            assert_int_not_equal(rc, 0);
        if (!rc)
            continue;
        o.device = cuda[i];
        net = (struct enevo_net *)&o;
        err[0] = 0;
        assert_int_equal(enevo_net_create(&p, GRAY, CLASSES, &o, &net, err, sizeof err), rc);
        assert_null(net);
        assert_string_equal(err, why);
        print_message("      (%s: %s)\n", cuda[i], why);
    }
    enevo_phenotype_free(&p);
}

/* ---- 2. one network per layer kind / feature ---- */

static void cuda_conv_relu_same(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("conv relu same 3x3",
              "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              FC10(0),
              RGB, 4);
}

static void cuda_conv_sigmoid_valid_stride2(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("conv sigmoid valid 3x3 stride 2",
              "layer:conv out_channels:6 kernel_size:3 stride:2 padding:valid act:sigmoid bias:True input:-1\n"
              FC10(0),
              GRAY, 8);
}

static void cuda_conv_linear_no_bias(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("conv linear no bias",
              "layer:conv out_channels:5 kernel_size:3 stride:1 padding:valid act:linear bias:False input:-1\n"
              "layer:conv out_channels:4 kernel_size:1 stride:1 padding:valid act:linear bias:False input:0\n"
              FC10(1),
              RGB, 4);
}

/* Even kernels with padding same: PyTorch pads k-1 in total, the extra one
 * on the right and bottom (2x2: 0/1, 4x4: 1/2). */
static void cuda_conv_even_kernel_same(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("conv even kernels, same",
              "layer:conv out_channels:4 kernel_size:2 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:conv out_channels:5 kernel_size:4 stride:1 padding:same act:sigmoid bias:True input:0\n"
              FC10(1),
              GRAY, 4);
}

static void cuda_pool_max_valid(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("pool_max valid 2x2 s2",
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
              FC10(1),
              GRAY, 8);
}

/* TensorFlow "same" pooling with an odd total padding (extra on the right):
 * 3x3 s2 on 12x12 (pad 0/1) and 2x2 s2 on 5x5 (pad 0/1). */
static void cuda_pool_max_same_asymmetric(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("pool_max same, asymmetric padding",
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:linear bias:True input:-1\n"
              "layer:pool_max kernel_size:3 stride:2 padding:same input:0\n"
              "layer:conv out_channels:4 kernel_size:2 stride:1 padding:valid act:linear bias:True input:1\n"
              "layer:pool_max kernel_size:2 stride:2 padding:same input:2\n"
              FC10(3),
              GRAY, 8);
}

/* The padding is left out of the mean (count_include_pad false). */
static void cuda_pool_avg_same(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("pool_avg same",
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:pool_avg kernel_size:3 stride:2 padding:same input:0\n"
              "layer:conv out_channels:4 kernel_size:2 stride:1 padding:valid act:linear bias:True input:1\n"
              "layer:pool_avg kernel_size:2 stride:2 padding:same input:2\n"
              "layer:pool_avg kernel_size:3 stride:1 padding:same input:3\n"
              FC10(4),
              GRAY, 8);
}

static void cuda_batch_norm_after_conv(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("batch_norm after conv",
              "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:linear bias:True input:-1\n"
              "layer:batch_norm input:0\n"
              "layer:conv out_channels:4 kernel_size:3 stride:2 padding:valid act:relu bias:True input:1\n"
              FC10(2),
              RGB, 8);
}

static void cuda_batch_norm_after_fc(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("batch_norm after fc",
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:valid act:relu bias:True input:-1\n"
              "layer:fc act:sigmoid out_features:16 bias:True input:0\n"
              "layer:batch_norm input:1\n"
              FC10(2),
              GRAY, 8);
}

static void cuda_dropout_eval(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("dropout",
              "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:dropout rate:0.3 input:0\n"
              "layer:fc act:relu out_features:16 bias:True input:1\n"
              "layer:dropout rate:0.5 input:2\n"
              FC10(3),
              RGB, 8);
}

/* The GPU's dropout alone: at batch 1, with dropout on the image right
 * before the output fc, d loss / d W[o][j] = d loss / d b[o] * x[j] * m[j]
 * with m[j] in {0, 1 / (1 - rate)}: the gradients show the mask. */
static void cuda_dropout_train(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    const struct enevo_shape in = {3, 16, 16};
    const int nin = 3 * 16 * 16;
    struct enevo_phenotype p;
    parse("layer:dropout rate:0.5 input:-1\n" FC10(0), "dropout", &p);
    struct enevo_net *net = make_net(&p, in, 1, true, gpu_device());
    enevo_rng r;
    enevo_rng_seed(&r, 3, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &r);
    float *x = malloc(sizeof(float) * nin), eval[CLASSES], a[CLASSES], b[CLASSES];
    assert_non_null(x);
    for (int i = 0; i < nin; i++)
        x[i] = 1.0f + enevo_rng_uniform(&r); /* no zero inputs: a zero gradient means dropped */
    uint8_t y = 3;
    assert_int_equal(enevo_net_forward(net, x, false, 0), 0);
    memcpy(eval, enevo_net_logits(net), sizeof eval);
    assert_int_equal(enevo_net_forward(net, x, true, 41), 0);
    memcpy(a, enevo_net_logits(net), sizeof a);
    for (int k = 0; k < CLASSES; k++)
        assert_true(isfinite(a[k]));
    assert_true(memcmp(a, eval, sizeof a) != 0);
    assert_int_equal(enevo_net_forward(net, x, true, 42), 0);
    memcpy(b, enevo_net_logits(net), sizeof b);
    assert_true(memcmp(a, b, sizeof a) != 0);
    assert_int_equal(enevo_net_forward(net, x, true, 41), 0);
    assert_memory_equal(a, enevo_net_logits(net), sizeof a);
    enevo_net_loss(net, &y, 1, NULL);
    assert_int_equal(enevo_net_backward(net), 0);
    const float *g = enevo_net_grads(net), *gb = g + (size_t)CLASSES * nin;
    int kept = 0, bad = 0;
    for (int j = 0; j < nin; j++)
        kept += g[(size_t)y * nin + j] != 0;
    for (int o = 0; o < CLASSES; o++)
        for (int j = 0; j < nin; j++) {
            double got = g[(size_t)o * nin + j], want = 2.0 * gb[o] * x[j];
            bool was_kept = g[(size_t)y * nin + j] != 0; /* the mask is per input element */
            if (was_kept ? !(fabs(got - want) <= 1e-4 * fabs(want) + 1e-12) : got != 0)
                bad++;
        }
    print_message("      dropout 0.5 kept %d of %d inputs\n", kept, nin);
    assert_true(kept > nin * 4 / 10 && kept < nin * 6 / 10);
    assert_int_equal(bad, 0);
    free(x);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

static void cuda_fc_after_fc(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("fc after fc",
              "layer:fc act:relu out_features:32 bias:True input:-1\n"
              "layer:fc act:sigmoid out_features:16 bias:True input:0\n"
              "layer:fc act:linear out_features:12 bias:False input:1\n"
              FC10(2),
              RGB, 8);
}

/* Flatten order: NCHW. */
static void cuda_fc_on_conv(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("fc on a conv output",
              "layer:conv out_channels:5 kernel_size:3 stride:1 padding:valid act:relu bias:True input:-1\n"
              "layer:fc act:linear out_features:10 bias:True input:0\n",
              GRAY, 4);
}

static void cuda_merge_sum(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("sum-merge, same shapes",
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:0\n"
              "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:0,1\n"
              FC10(2),
              GRAY, 4);
}

/* The merge target is the input with the lowest id; the others get a 1x1
 * linear shape-fix conv (or fc on flat tensors): layer 2 fixes 4 -> 5
 * channels, layer 4 pads a 6x6 map up to 12x12, layer 6 strides a 12x12
 * map down to 6x6, layer 9 maps 12 features to 16. */
static void cuda_merge_shape_fix(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("sum-merge with shape-fix layers",
              "layer:conv out_channels:5 kernel_size:3 stride:1 padding:same act:sigmoid bias:True input:-1\n"
              "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu bias:True input:0\n"
              "layer:conv out_channels:4 kernel_size:1 stride:1 padding:valid act:sigmoid bias:True input:1,0\n"
              "layer:pool_max kernel_size:2 stride:2 padding:valid input:2\n"
              "layer:conv out_channels:3 kernel_size:3 stride:1 padding:same act:relu bias:True input:2,3\n"
              "layer:pool_avg kernel_size:3 stride:2 padding:same input:4\n"
              "layer:conv out_channels:3 kernel_size:1 stride:1 padding:valid act:sigmoid bias:True input:5,4\n"
              "layer:fc act:relu out_features:16 bias:True input:6\n"
              "layer:fc act:sigmoid out_features:12 bias:True input:7\n"
              "layer:fc act:softmax out_features:10 bias:True input:8,7\n",
              GRAY, 4);
}

static const char *TWO_HEADS =
    "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:batch_norm input:0\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:1\n"
    "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:2\n"
    "layer:fc act:relu out_features:16 bias:True input:3\n"
    FC10(4)
    "model_partition:True partition_point:2 weight:0.7\n";

static void cuda_partition_two_heads(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_net("model partition", TWO_HEADS, GRAY, 8);
}

static void cuda_bench_small(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_file("bench/small.phen", FMNIST, 4);
}

static void cuda_bench_medium(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_file("bench/medium.phen", FMNIST, 4);
}

static void cuda_bench_medium_partition(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_file("bench/medium_partition.phen", FMNIST, 4);
}

/* ---- 3. device training against the host loop ---- */

static const char *TRAIN_NET =
    "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:batch_norm input:0\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:1\n"
    FC10(2);

static void check_training(const char *learning)
{
    enum { STEPS = 5, N = 64 };
    size_t len = strlen(TRAIN_NET) + strlen(learning) + 2;
    char *text = malloc(len);
    assert_non_null(text);
    snprintf(text, len, "%s%s\n", TRAIN_NET, learning);
    struct enevo_phenotype p;
    parse(text, learning, &p);
    int batch = p.learning.batch_size;
    struct pair pr;
    pair_init(&pr, &p, GRAY, batch, true, 23);
    struct enevo_dataset d;
    assert_int_equal(enevo_dataset_synthetic(N, GRAY.c, GRAY.h, GRAY.w, CLASSES, 5, &d), 0);
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_net *nets[2] = {pr.cpu, pr.gpu};
    struct enevo_optim o[2];
    double loss[2] = {0, 0};
    enevo_rng r;
    enevo_rng_seed(&r, 29, ENEVO_STREAM_SHUFFLE);
    int order[N];
    uint64_t keys[STEPS];
    for (int i = 0; i < N; i++)
        order[i] = i;
    enevo_rng_shuffle(&r, order, N);
    for (int s = 0; s < STEPS; s++)
        keys[s] = enevo_rng_u64(&r);
    assert_true(STEPS * batch <= N);
    for (int k = 0; k < 2; k++) {
        int nseg;
        const struct enevo_param_seg *segs = enevo_net_segments(nets[k], &nseg);
        if (enevo_optim_init(&o[k], &p.learning, enevo_net_param_count(nets[k]), segs, nseg, err,
                             sizeof err) ||
            enevo_net_bind_data(nets[k], 0, &d, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(enevo_net_train_steps(nets[k], &o[k], order, keys, STEPS, &loss[k]), 0);
        assert_int_equal(enevo_net_pull_optim(nets[k], &o[k]), 0);
    }
    char what[200];
    snprintf(what, sizeof what, "%s: summed loss of %d steps", learning, STEPS);
    expect_close1(what, loss[0], loss[1]);
    size_t n = enevo_net_param_count(pr.cpu);
    snprintf(what, sizeof what, "%s: parameters after %d steps", learning, STEPS);
    expect_close(what, enevo_net_params(pr.cpu), enevo_net_params(pr.gpu), n, pr.cpu);
    snprintf(what, sizeof what, "%s: statistics after %d steps", learning, STEPS);
    expect_close(what, enevo_net_stats(pr.cpu), enevo_net_stats(pr.gpu),
                 enevo_net_stats_count(pr.cpu), NULL);
    assert_int_equal(o[0].t, STEPS);
    assert_int_equal(o[1].t, o[0].t);
    int per = enevo_optim_state_floats(&p.learning);
    for (int k = 0; k < per; k++) {
        snprintf(what, sizeof what, "%s: optimiser state %d of %d", learning, k + 1, per);
        expect_close(what, o[0].state + (size_t)k * n, o[1].state + (size_t)k * n, n, NULL);
    }
    for (int k = 0; k < 2; k++)
        enevo_optim_free(&o[k]);
    enevo_dataset_free(&d);
    pair_free(&pr);
    enevo_phenotype_free(&p);
    free(text);
}

static void cuda_train_sgd_momentum(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_training("learning:gradient_descent lr:0.05 momentum:0.9 weight_decay:0.0005 "
                   "nesterov:False batch_size:8");
}

static void cuda_train_sgd_nesterov(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_training("learning:gradient_descent lr:0.05 momentum:0.8 weight_decay:0.0001 "
                   "nesterov:True batch_size:8");
}

static void cuda_train_adam(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_training("learning:adam lr:0.001 beta1:0.9 beta2:0.999 weight_decay:0.0001 batch_size:8");
}

static void cuda_train_rmsprop(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_training("learning:rmsprop lr:0.0005 alpha:0.99 weight_decay:0.0001 batch_size:8");
}

static void cuda_train_lars(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    check_training("learning:lars lr_weights:0.2 lr_biases:0.005 momentum:0.9 "
                   "weight_decay:0.00001 batch_size:8");
}

/* ---- 4. evaluation of a bound set (37 images: a partial last batch) ---- */

static void cuda_evaluate_bound(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    struct enevo_dataset d;
    assert_int_equal(enevo_dataset_synthetic(37, GRAY.c, GRAY.h, GRAY.w, CLASSES, 9, &d), 0);
    /* An inference net with one head, a training net with two. */
    const char *texts[2] = {"layer:conv out_channels:6 kernel_size:3 stride:1 padding:same "
                            "act:relu bias:True input:-1\nlayer:batch_norm input:0\n"
                            "layer:pool_avg kernel_size:2 stride:2 padding:valid input:1\n" FC10(2),
                            TWO_HEADS};
    for (int t = 0; t < 2; t++) {
        struct enevo_phenotype p;
        parse(texts[t], "evaluate", &p);
        struct pair pr;
        pair_init(&pr, &p, GRAY, 8, t == 1, 31);
        double acc[2][2], loss[2][2], w[2];
        struct enevo_net *nets[2] = {pr.cpu, pr.gpu};
        char err[ENEVO_ERR_LEN] = "";
        for (int k = 0; k < 2; k++) {
            if (enevo_net_bind_data(nets[k], 2, &d, err, sizeof err))
                fail_msg("%s", err);
            assert_int_equal(enevo_net_evaluate_bound(nets[k], 2, acc[k], loss[k], &w[k]), 0);
        }
        int heads = enevo_net_heads(pr.cpu);
        for (int h = 0; h < heads; h++) {
            print_message("      head %d: accuracy cpu %.4f gpu %.4f, loss cpu %.6f gpu %.6f\n",
                          h, acc[0][h], acc[1][h], loss[0][h], loss[1][h]);
            assert_true(acc[0][h] == acc[1][h]);
            expect_close1("evaluate_bound: mean loss", loss[0][h], loss[1][h]);
        }
        if (heads == 1)
            assert_true(isnan(acc[1][1]) && isnan(loss[1][1]));
        expect_close1("evaluate_bound: weighted loss", w[0], w[1]);
        pair_free(&pr);
        enevo_phenotype_free(&p);
    }
    enevo_dataset_free(&d);
}

/* ---- 5. the GPU trains reproducibly ---- */

static const char *REPRO =
    "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
    "layer:batch_norm input:1\n"
    "layer:dropout rate:0.2 input:2\n"
    "layer:fc act:relu out_features:32 bias:True input:3\n"
    FC10(4)
    "learning:gradient_descent lr:0.05 momentum:0.9 weight_decay:0.0001 nesterov:True "
    "early_stop:3 batch_size:32 epochs:1\n";

struct trained {
    struct enevo_net *net;
    struct enevo_optim opt;
    struct enevo_train_result res;
};

/* Parameters initialised from `seed` (host code, the same on every
 * backend), then enevo_train for the phenotype's epochs with `seed`. */
static void train_on(struct trained *t, const struct enevo_phenotype *p, const char *device,
                     const struct enevo_dataset *tr, const struct enevo_dataset *val,
                     uint64_t seed)
{
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_shape in = {tr->c, tr->h, tr->w};
    t->net = make_net(p, in, p->learning.batch_size, true, device);
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(t->net, &r);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(t->net, &nseg);
    if (enevo_optim_init(&t->opt, &p->learning, enevo_net_param_count(t->net), segs, nseg, err,
                         sizeof err))
        fail_msg("%s", err);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = p->learning.epochs;
    to.patience = 0;
    to.seed = seed;
    if (enevo_train(t->net, &t->opt, tr, val, &to, &t->res, err, sizeof err))
        fail_msg("train on %s: %s", device, err);
}

static void trained_free(struct trained *t)
{
    enevo_optim_free(&t->opt);
    enevo_net_free(t->net);
}

static void cuda_train_reproducible(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(512, 1, 12, 12, CLASSES, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(96, 1, 12, 12, CLASSES, 2, &val), 0);
    struct enevo_phenotype p;
    parse(REPRO, "repro", &p);
    struct trained a, b;
    train_on(&a, &p, gpu_device(), &tr, &val, 77);
    train_on(&b, &p, gpu_device(), &tr, &val, 77);
    assert_true(a.res.last_train_loss == b.res.last_train_loss);
    assert_true(a.res.best_val_loss == b.res.best_val_loss);
    assert_memory_equal(enevo_net_params(a.net), enevo_net_params(b.net),
                        sizeof(float) * enevo_net_param_count(a.net));
    assert_memory_equal(enevo_net_stats(a.net), enevo_net_stats(b.net),
                        sizeof(float) * enevo_net_stats_count(a.net));
    trained_free(&a);
    trained_free(&b);
    enevo_phenotype_free(&p);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
}

/* ---- 6. Fashion-MNIST: bench/small.phen for one epoch on each ---- */

static bool have_file(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, R_OK) == 0)
        return true;
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    return access(path, R_OK) == 0;
}

static void cuda_fashion_mnist(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    const char *dir = ENEVO_DEFAULT_DATASET;
    if (!have_file(dir, "t10k-images-idx3-ubyte") || !have_file(dir, "t10k-labels-idx1-ubyte")) {
        print_message("      (skipped: no Fashion-MNIST test set in %s)\n", dir);
        skip();
    }
    char err[ENEVO_ERR_LEN] = "", ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte", dir);
    struct enevo_dataset all;
    if (enevo_idx_load(ip, lp, &all, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(all.n, 10000);
    /* As enevo_data_load does, with the training pixels' mean and std
     * (Fashion-MNIST's published 0.2860 and 0.3530; test_data checks them). */
    size_t img = (size_t)all.c * all.h * all.w;
    for (size_t i = 0; i < (size_t)all.n * img; i++)
        all.x[i] = (all.x[i] - 0.2860f) / 0.3530f;
    /* Views (not owners) of the first 8,000 and the last 2,000 images. */
    struct enevo_dataset tr = all, ev = all;
    tr.n = 8000;
    ev.n = 2000;
    ev.x = all.x + 8000 * img;
    ev.y = all.y + 8000;
    tr.n_classes = ev.n_classes = CLASSES;
    char *text = enevo_test_slurp("bench/small.phen");
    assert_non_null(text);
    struct enevo_phenotype p;
    parse(text, "bench/small.phen", &p);
    free(text);
    p.learning.epochs = 1;
    p.learning.batch_size = 64;
    struct trained c, g;
    train_on(&c, &p, "cpu", &tr, NULL, 5);
    train_on(&g, &p, gpu_device(), &tr, NULL, 5);
    double acc[2];
    assert_int_equal(enevo_evaluate(c.net, &ev, &acc[0], NULL, NULL), 0);
    assert_int_equal(enevo_evaluate(g.net, &ev, &acc[1], NULL, NULL), 0);
    print_message("      1 epoch on 8,000 images: accuracy cpu %.4f gpu %.4f; training cpu %.0f "
                  "img/s, %s %.0f img/s\n",
                  acc[0], acc[1], c.res.images_per_s, gpu_device(), g.res.images_per_s);
    assert_true(acc[0] > 0.6 && acc[1] > 0.6);
    assert_true(fabs(acc[0] - acc[1]) <= 0.03);
    trained_free(&c);
    trained_free(&g);
    enevo_phenotype_free(&p);
    enevo_dataset_free(&all);
}

/* ---- 7. forward_again and sync ---- */

static void cuda_forward_again(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    char *text = enevo_test_slurp("bench/small.phen");
    assert_non_null(text);
    struct enevo_phenotype p;
    parse(text, "bench/small.phen", &p);
    free(text);
    const int batch = 8;
    struct enevo_net *net = make_net(&p, FMNIST, batch, false, gpu_device());
    enevo_rng r;
    enevo_rng_seed(&r, 8, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &r);
    size_t nx = (size_t)batch * 28 * 28;
    float *x = malloc(sizeof(float) * nx), first[8 * CLASSES];
    assert_non_null(x);
    for (size_t i = 0; i < nx; i++)
        x[i] = enevo_rng_normal(&r);
    assert_int_equal(enevo_net_forward(net, x, false, 0), 0);
    memcpy(first, enevo_net_logits(net), sizeof first);
    for (int i = 0; i < 10; i++)
        assert_int_equal(enevo_net_forward_again(net), 0);
    assert_int_equal(enevo_net_sync(net), 0);
    assert_int_equal(enevo_net_forward(net, x, false, 0), 0);
    assert_memory_equal(first, enevo_net_logits(net), sizeof first);
    free(x);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

/* ---- 8. a measurement with the nvml meter ---- */

static void cuda_measure_nvml(void **state)
{
    (void)state;
    if (!need_gpu())
        skip();
    char res[32] = "", err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_device_resolve(gpu_device(), res, sizeof res, NULL, 0, err, sizeof err),
                     0);
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    mc.on_gpu = true;
    if (sscanf(res, "cuda:%d", &mc.nvml_device) != 1)
        mc.nvml_device = 0;
    struct enevo_meter *m = NULL;
    if (enevo_meter_open("nvml", &mc, &m, NULL, 0, err, sizeof err)) {
        print_message("      (skipped: nvml: %s)\n", err);
        skip();
    }
    char *text = enevo_test_slurp("bench/small.phen");
    assert_non_null(text);
    struct enevo_phenotype p;
    parse(text, "bench/small.phen", &p);
    free(text);
    const int batch = 64;
    struct enevo_net *net = make_net(&p, FMNIST, batch, false, gpu_device());
    enevo_rng r;
    enevo_rng_seed(&r, 12, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &r);
    size_t nx = (size_t)batch * 28 * 28;
    float *x = malloc(sizeof(float) * nx);
    assert_non_null(x);
    for (size_t i = 0; i < nx; i++)
        x[i] = enevo_rng_normal(&r);
    struct enevo_measure_opts mo = enevo_measure_defaults(m);
    mo.repetitions = 3;
    mo.window_s = 0.3;
    mo.idle_s = 0.2;
    struct enevo_measurement out;
    if (enevo_measure(net, x, m, &mo, &out, err, sizeof err))
        fail_msg("measure: %s", err);
    print_message("      %s: %.4g J/inference (idle %.1f W, in windows %.1f W), %.0f img/s\n",
                  out.label, out.j_per_inference, out.idle_w, out.power_w, out.images_per_s);
    assert_non_null(strstr(out.label, "nvml"));
    assert_false(out.estimate);
    assert_true(out.j_per_inference > 0 && isfinite(out.j_per_inference));
    free(x);
    enevo_net_free(net);
    enevo_meter_close(m);
    enevo_phenotype_free(&p);
}

const struct CMUnitTest enevo_tests_cuda[] = {
    cmocka_unit_test(cuda_device_names),
    cmocka_unit_test(cuda_conv_relu_same),
    cmocka_unit_test(cuda_conv_sigmoid_valid_stride2),
    cmocka_unit_test(cuda_conv_linear_no_bias),
    cmocka_unit_test(cuda_conv_even_kernel_same),
    cmocka_unit_test(cuda_pool_max_valid),
    cmocka_unit_test(cuda_pool_max_same_asymmetric),
    cmocka_unit_test(cuda_pool_avg_same),
    cmocka_unit_test(cuda_batch_norm_after_conv),
    cmocka_unit_test(cuda_batch_norm_after_fc),
    cmocka_unit_test(cuda_dropout_eval),
    cmocka_unit_test(cuda_dropout_train),
    cmocka_unit_test(cuda_fc_after_fc),
    cmocka_unit_test(cuda_fc_on_conv),
    cmocka_unit_test(cuda_merge_sum),
    cmocka_unit_test(cuda_merge_shape_fix),
    cmocka_unit_test(cuda_partition_two_heads),
    cmocka_unit_test(cuda_bench_small),
    cmocka_unit_test(cuda_bench_medium),
    cmocka_unit_test(cuda_bench_medium_partition),
    cmocka_unit_test(cuda_train_sgd_momentum),
    cmocka_unit_test(cuda_train_sgd_nesterov),
    cmocka_unit_test(cuda_train_adam),
    cmocka_unit_test(cuda_train_rmsprop),
    cmocka_unit_test(cuda_train_lars),
    cmocka_unit_test(cuda_evaluate_bound),
    cmocka_unit_test(cuda_train_reproducible),
    cmocka_unit_test(cuda_fashion_mnist),
    cmocka_unit_test(cuda_forward_again),
    cmocka_unit_test(cuda_measure_nvml),
};
const size_t enevo_tests_cuda_count = ENEVO_COUNT(enevo_tests_cuda);
