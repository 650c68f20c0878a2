/* Augmentation (ENERGIZE's transforms in C): reproducibility, statistics
 * and exact effects; its config keys and their errors; colour networks on
 * the CPU (and a GPU when there is one), with and without augmentation;
 * and `enevo evolve` end to end on a generated CIFAR-format set of
 * coloured shapes and on an image folder. */
#include "tests.h"

/* Paths in fixed buffers: a cut path fails the test on its own. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <math.h>
#include <omp.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "enevo/train.h"

/* An identity normalisation, so raw and normalised values coincide. */
static struct enevo_augment pipeline(int c)
{
    struct enevo_augment a;
    memset(&a, 0, sizeof a);
    a.seed = 7;
    a.c = c;
    for (int i = 0; i < c; i++)
        a.std[i] = 1;
    return a;
}

static struct enevo_aug_op op(int kind)
{
    struct enevo_aug_op o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    return o;
}

static float *run_aug(const struct enevo_augment *a, uint64_t epoch, uint64_t index, int c, int h,
                      int w, const float *src)
{
    float *dst = malloc(sizeof(float) * (size_t)(c * h * w));
    float *scr = malloc(sizeof(float) * enevo_augment_scratch(a, c, h, w));
    enevo_augment_image(a, epoch, index, c, h, w, src, dst, scr);
    free(scr);
    return dst;
}

static void flip_half_of_ten_thousand(void **state)
{
    (void)state;
    struct enevo_augment a = pipeline(1);
    a.op[a.n] = op(ENEVO_AUG_HFLIP);
    a.op[a.n++].p = 0.5;
    float src[2] = {1, 2}, dst[2], scr[64];
    int flips = 0;
    for (int i = 0; i < 10000; i++) {
        enevo_augment_image(&a, 1, (uint64_t)i, 1, 1, 2, src, dst, scr);
        assert_true((dst[0] == 1 && dst[1] == 2) || (dst[0] == 2 && dst[1] == 1));
        flips += dst[0] == 2;
    }
    print_message("p = 0.5: %d of 10000 flipped\n", flips);
    /* Binomial sd 50: 4 sd either side. */
    assert_true(flips > 4800 && flips < 5200);
    /* p = 0.1 flips about a tenth. */
    a.op[0].p = 0.1;
    flips = 0;
    for (int i = 0; i < 10000; i++) {
        enevo_augment_image(&a, 1, (uint64_t)i, 1, 1, 2, src, dst, scr);
        flips += dst[0] == 2;
    }
    assert_true(flips > 880 && flips < 1120);
}

static void draws_are_keyed_by_seed_epoch_and_index(void **state)
{
    (void)state;
    struct enevo_augment a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_RANDOM_CROP);
    a.op[a.n].size = 8;
    a.op[a.n++].padding = 2;
    a.op[a.n] = op(ENEVO_AUG_COLOR_JITTER);
    a.op[a.n].a[0] = 0.4;
    a.op[a.n].a[1] = 0.4;
    a.op[a.n].a[2] = 0.4;
    a.op[a.n++].a[3] = 0.1;
    float src[3 * 8 * 8];
    for (int i = 0; i < 192; i++)
        src[i] = (float)((i * 37) % 100) / 100.0f;
    float *x = run_aug(&a, 3, 17, 3, 8, 8, src);
    float *y = run_aug(&a, 3, 17, 3, 8, 8, src);
    float *e = run_aug(&a, 4, 17, 3, 8, 8, src);
    float *i = run_aug(&a, 3, 18, 3, 8, 8, src);
    assert_memory_equal(x, y, sizeof src); /* same key, same image */
    assert_true(memcmp(x, e, sizeof src) != 0);
    assert_true(memcmp(x, i, sizeof src) != 0);
    a.seed = 8;
    float *s = run_aug(&a, 3, 17, 3, 8, 8, src);
    assert_true(memcmp(x, s, sizeof src) != 0);
    free(x), free(y), free(e), free(i), free(s);
    /* As enevo_train runs it (an OpenMP loop over a batch's images): the
     * same images on one thread or two. */
    enum { B = 64 };
    float *out[2];
    size_t per = enevo_augment_scratch(&a, 3, 8, 8);
    for (int t = 0; t < 2; t++) {
        out[t] = malloc(sizeof src * B);
        float *scr = malloc(sizeof(float) * per * 2);
#pragma omp parallel for num_threads(t + 1) schedule(static)
        for (int k = 0; k < B; k++)
            enevo_augment_image(&a, 5, (uint64_t)k, 3, 8, 8, src,
                                out[t] + (size_t)k * 192, scr + per * (size_t)omp_get_thread_num());
        free(scr);
    }
    assert_memory_equal(out[0], out[1], sizeof src * B);
    free(out[0]);
    free(out[1]);
}

/* random_crop(size 6, padding 2) of a 6x6 image is the image shifted by
 * (dy, dx) in [-2, 2]^2 with the padding's zero (raw) coming in. */
static void random_crop_is_a_shift_with_zero_fill(void **state)
{
    (void)state;
    struct enevo_augment a = pipeline(1);
    a.mean[0] = 0.5f; /* zero raw is -2 normalised: the fill must be that */
    a.std[0] = 0.25f;
    a.op[a.n] = op(ENEVO_AUG_RANDOM_CROP);
    a.op[a.n].size = 6;
    a.op[a.n++].padding = 2;
    float src[36];
    for (int k = 0; k < 36; k++)
        src[k] = (float)k; /* normalised values */
    int seen[5][5] = {{0}};
    for (int t = 0; t < 400; t++) {
        float *d = run_aug(&a, 1, (uint64_t)t, 1, 6, 6, src);
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++) {
                int ok = 1;
                for (int y = 0; y < 6 && ok; y++)
                    for (int x = 0; x < 6 && ok; x++) {
                        int sy = y + dy, sx = x + dx;
                        float want = sy >= 0 && sy < 6 && sx >= 0 && sx < 6 ? src[sy * 6 + sx]
                                                                            : -2.0f;
                        ok = fabsf(d[y * 6 + x] - want) < 1e-4f;
                    }
                if (ok) {
                    found = 1;
                    seen[dy + 2][dx + 2]++;
                }
            }
        assert_true(found);
        free(d);
    }
    /* Every one of the 25 offsets comes up (400 draws: ~16 each). */
    for (int dy = 0; dy < 5; dy++)
        for (int dx = 0; dx < 5; dx++)
            assert_true(seen[dy][dx] > 3);
}

static void colour_ops_do_what_torchvision_does(void **state)
{
    (void)state;
    /* Two pixels of RGB: (0.2, 0.5, 0.9) and (0.7, 0.1, 0.3). */
    float src[6] = {0.2f, 0.7f, 0.5f, 0.1f, 0.9f, 0.3f};
    struct enevo_augment a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_GRAYSCALE);
    a.op[a.n++].p = 1;
    float *g = run_aug(&a, 1, 0, 3, 1, 2, src);
    for (int p = 0; p < 2; p++) {
        float want = 0.299f * src[p] + 0.587f * src[2 + p] + 0.114f * src[4 + p];
        for (int c = 0; c < 3; c++)
            assert_true(fabsf(g[2 * c + p] - want) < 1e-6f);
    }
    free(g);
    a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_SOLARIZE);
    a.op[a.n].a[0] = 0.5;
    a.op[a.n++].p = 1;
    float *s = run_aug(&a, 1, 0, 3, 1, 2, src);
    for (int k = 0; k < 6; k++)
        assert_true(fabsf(s[k] - (src[k] >= 0.5f ? 1 - src[k] : src[k])) < 1e-6f);
    free(s);
    /* Brightness alone scales every value by one factor in [0.5, 1.5]. */
    a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_COLOR_JITTER);
    a.op[a.n++].a[0] = 0.5;
    for (int t = 0; t < 50; t++) {
        float *b = run_aug(&a, 1, (uint64_t)t, 3, 1, 2, src);
        float f = b[0] / src[0];
        assert_true(f >= 0.5f - 1e-5f && f <= 1.5f + 1e-5f);
        for (int k = 0; k < 6; k++)
            assert_true(fabsf(b[k] - fminf(1.0f, f * src[k])) < 1e-5f);
        free(b);
    }
    /* Hue by a whole turn's fraction keeps grey pixels grey and a colour's
     * value (max) and saturation. */
    a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_COLOR_JITTER);
    a.op[a.n++].a[3] = 0.5;
    float *h = run_aug(&a, 1, 5, 3, 1, 2, src);
    for (int p = 0; p < 2; p++) {
        float mx0 = fmaxf(src[p], fmaxf(src[2 + p], src[4 + p]));
        float mx1 = fmaxf(h[p], fmaxf(h[2 + p], h[4 + p]));
        assert_true(fabsf(mx0 - mx1) < 1e-5f);
    }
    free(h);
    /* A blur keeps a constant image constant and the mean of any image
     * close (reflect padding). */
    a = pipeline(1);
    a.op[a.n] = op(ENEVO_AUG_BLUR);
    a.op[a.n].kernel = 5;
    a.op[a.n].a[0] = 0.5;
    a.op[a.n++].a[1] = 2;
    float flat[49];
    for (int k = 0; k < 49; k++)
        flat[k] = 0.3f;
    float *bl = run_aug(&a, 1, 1, 1, 7, 7, flat);
    for (int k = 0; k < 49; k++)
        assert_true(fabsf(bl[k] - 0.3f) < 1e-5f);
    free(bl);
}

static void resized_crop_and_center_crop_keep_the_size(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_augment a = pipeline(1);
    a.op[a.n] = op(ENEVO_AUG_RESIZED_CROP);
    a.op[a.n].size = 8;
    a.op[a.n].a[0] = 0.08;
    a.op[a.n].a[1] = 1;
    a.op[a.n].a[2] = 0.75;
    a.op[a.n++].a[3] = 4.0 / 3;
    assert_int_equal(enevo_augment_check(&a, 1, 8, 8, err, sizeof err), 0);
    float flat[64];
    for (int k = 0; k < 64; k++)
        flat[k] = 0.7f;
    float *d = run_aug(&a, 2, 9, 1, 8, 8, flat);
    for (int k = 0; k < 64; k++)
        assert_true(fabsf(d[k] - 0.7f) < 1e-5f);
    free(d);
    /* A crop to another size than the images is refused, clearly. */
    a.op[0].size = 6;
    assert_int_equal(enevo_augment_check(&a, 1, 8, 8, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "turns 8x8 images into 6x6"));
    /* padding then center_crop back: the identity. */
    a = pipeline(1);
    a.op[a.n] = op(ENEVO_AUG_PADDING);
    a.op[a.n++].padding = 3;
    a.op[a.n] = op(ENEVO_AUG_CENTER_CROP);
    a.op[a.n++].size = 8;
    assert_int_equal(enevo_augment_check(&a, 1, 8, 8, err, sizeof err), 0);
    float ramp[64];
    for (int k = 0; k < 64; k++)
        ramp[k] = (float)k;
    d = run_aug(&a, 1, 1, 1, 8, 8, ramp);
    assert_memory_equal(d, ramp, sizeof ramp);
    free(d);
}

/* ---- config keys ---- */

static int parse(const char *yaml, struct enevo_config *c, char *err, size_t errlen)
{
    enevo_config_defaults(c);
    return enevo_config_parse(yaml, "aug.yaml", c, NULL, err, errlen);
}

static void config_reads_transforms_in_order(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_config *c = malloc(sizeof *c), *r = malloc(sizeof *r);
    const char *yaml =
        "network:\n  learning:\n    augmentation:\n      train:\n"
        "        resize: {size: 32}\n"
        "        random_crop: {size: 32, padding: 4}\n"
        "        random_horizontal_flip: {p: 0.5}\n"
        "        color_jitter: {brightness: 0.2, hue: 0.05}\n"
        "        normalize: {mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]}\n"
        "        gaussian_blur: {kernel_size: 3, sigma: [0.1, 1.5]}\n"
        "        random_solarize: {threshold: 0.6}\n"
        "      test:\n        resize: {size: 32}\n        center_crop: 32\n";
    if (parse(yaml, c, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(c->resize, 32);
    assert_int_equal(c->aug_train.n, 6);
    assert_int_equal(c->aug_train.op[0].kind, ENEVO_AUG_RANDOM_CROP);
    assert_int_equal(c->aug_train.op[0].size, 32);
    assert_int_equal(c->aug_train.op[0].padding, 4);
    assert_int_equal(c->aug_train.op[1].kind, ENEVO_AUG_HFLIP);
    assert_true(c->aug_train.op[1].p == 0.5);
    assert_int_equal(c->aug_train.op[2].kind, ENEVO_AUG_COLOR_JITTER);
    assert_true(c->aug_train.op[2].a[0] == 0.2 && c->aug_train.op[2].a[3] == 0.05);
    assert_int_equal(c->aug_train.op[3].n_norm, 3);
    assert_true(c->aug_train.op[3].std[2] == 0.26f);
    assert_int_equal(c->aug_train.op[4].kernel, 3);
    assert_true(c->aug_train.op[4].a[1] == 1.5);
    assert_true(c->aug_train.op[5].a[0] == 0.6 && c->aug_train.op[5].p == 0.5);
    assert_int_equal(c->aug_test.n, 1);
    assert_int_equal(c->aug_test.op[0].kind, ENEVO_AUG_CENTER_CROP);
    /* The effective config parses back to the same struct. */
    char *text = enevo_config_format(c);
    assert_non_null(text);
    enevo_config_defaults(r);
    if (enevo_config_parse(text, "formatted", r, NULL, err, sizeof err))
        fail_msg("%s\n%s", err, text);
    assert_memory_equal(&r->aug_train, &c->aug_train, sizeof c->aug_train);
    assert_memory_equal(&r->aug_test, &c->aug_test, sizeof c->aug_test);
    free(text);
    free(c);
    free(r);
}

static void expect_config_error(const char *transforms, const char *section, const char *want)
{
    char yaml[1024], err[ENEVO_ERR_LEN];
    snprintf(yaml, sizeof yaml,
             "network:\n  learning:\n    augmentation:\n      %s:\n%s", section, transforms);
    struct enevo_config *c = malloc(sizeof *c);
    int rc = parse(yaml, c, err, sizeof err);
    free(c);
    if (rc != ENEVO_EFORMAT || !strstr(err, want))
        fail_msg("'%s' gave %d '%s', expected '%s'", transforms, rc, err, want);
}

static void config_errors_have_a_place(void **state)
{
    (void)state;
    expect_config_error("        random_flip: {p: 0.5}\n", "train",
                        "aug.yaml:5:9: unknown key 'random_flip' in "
                        "network.learning.augmentation.train");
    expect_config_error("        random_crop: {size: 32, pading: 4}\n", "train",
                        "aug.yaml:5:33: unknown key 'pading' in "
                        "network.learning.augmentation.train.random_crop (expected size, "
                        "padding)");
    expect_config_error("        random_horizontal_flip: {p: 1.5}\n", "train",
                        "aug.yaml:5:37: network.learning.augmentation.train."
                        "random_horizontal_flip.p: expected a finite number in [0, 1], got '1.5'");
    expect_config_error("        random_crop: {padding: 4}\n", "train",
                        "aug.yaml:5:9: network.learning.augmentation.train.random_crop: missing "
                        "key 'size'");
    expect_config_error("        gaussian_blur: {kernel_size: 4}\n", "train",
                        "an odd kernel_size");
    expect_config_error("        normalize: {mean: [0.5, 0.5], std: [0.2]}\n", "train",
                        "2 means but 1 stds");
    expect_config_error("        random_crop: {size: 28, padding: 2}\n", "test",
                        "aug.yaml:5:9: network.learning.augmentation.test.random_crop: a random "
                        "transform");
}

/* ---- colour networks ---- */

static const char *COLOUR =
    "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
    "layer:batch_norm input:1\n"
    "layer:fc act:relu out_features:32 bias:True input:2\n"
    "layer:fc act:softmax out_features:6 bias:True input:3\n"
    "learning:adam lr:0.002 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:4 "
    "batch_size:32 epochs:5\n";

static double train_colour(const char *device, const struct enevo_augment *aug, double *ips)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_dataset tr, val, te;
    assert_int_equal(enevo_dataset_synthetic(768, 3, 16, 16, 6, 11, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(192, 3, 16, 16, 6, 12, &val), 0);
    assert_int_equal(enevo_dataset_synthetic(384, 3, 16, 16, 6, 13, &te), 0);
    tr.augment = aug;
    struct enevo_phenotype p;
    assert_int_equal(enevo_phenotype_parse(COLOUR, "colour", &p, err, sizeof err), 0);
    struct enevo_net_opts o = {.batch = 32, .training = true, .threads = 2, .device = device};
    struct enevo_net *net;
    if (enevo_net_create(&p, (struct enevo_shape){3, 16, 16}, 6, &o, &net, err, sizeof err))
        fail_msg("%s", err);
    enevo_rng r;
    enevo_rng_seed(&r, 5, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &r);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
    struct enevo_optim opt;
    assert_int_equal(enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs, nseg,
                                      err, sizeof err),
                     0);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = 5;
    to.patience = 4;
    to.seed = 3;
    struct enevo_train_result res;
    if (enevo_train(net, &opt, &tr, &val, &to, &res, err, sizeof err))
        fail_msg("train: %s", err);
    double acc, loss;
    assert_int_equal(enevo_evaluate(net, &te, &acc, &loss, NULL), 0);
    if (ips)
        *ips = res.images_per_s;
    enevo_optim_free(&opt);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
    enevo_dataset_free(&te);
    return acc;
}

static struct enevo_augment crop_flip(void)
{
    struct enevo_augment a = pipeline(3);
    a.op[a.n] = op(ENEVO_AUG_RANDOM_CROP);
    a.op[a.n].size = 16;
    a.op[a.n++].padding = 2;
    a.op[a.n] = op(ENEVO_AUG_HFLIP);
    a.op[a.n++].p = 0.5;
    return a;
}

static void colour_net_learns_on_the_cpu(void **state)
{
    (void)state;
    double ips0, ips1;
    double acc = train_colour("cpu", NULL, &ips0);
    struct enevo_augment a = crop_flip();
    double acc_aug = train_colour("cpu", &a, &ips1);
    print_message("3x16x16, 6 classes: test accuracy %.3f, with crop+flip %.3f "
                  "(%.0f vs %.0f img/s)\n",
                  acc, acc_aug, ips0, ips1);
    assert_true(acc > 0.9);
    assert_true(acc_aug > 0.6); /* chance: 0.17 */
}

static void colour_net_learns_on_a_gpu(void **state)
{
    (void)state;
    char name[16], desc[256], err[ENEVO_ERR_LEN];
    if (enevo_device_resolve("cuda", name, sizeof name, desc, sizeof desc, err, sizeof err)) {
        print_message("no GPU (%s): colour on the CUDA backend not checked\n", err);
        skip();
    }
    struct enevo_augment a = crop_flip();
    double acc = train_colour(name, NULL, NULL), acc_aug = train_colour(name, &a, NULL);
    print_message("%s: colour test accuracy %.3f, with crop+flip %.3f\n", name, acc, acc_aug);
    assert_true(acc > 0.9);
    assert_true(acc_aug > 0.6);
}

/* Augmentation's cost on bench/small.phen: the same training with and
 * without random_crop + random_horizontal_flip, alternated three times,
 * best of each. Timing on a shared machine: run on request only
 * (ENEVO_AUG_BENCH=1), and the bound checked is loose; the README states
 * the measured figures. */
static void augment_throughput_on_the_small_net(void **state)
{
    (void)state;
    if (!getenv("ENEVO_AUG_BENCH")) {
        print_message("set ENEVO_AUG_BENCH=1 to time augmentation on bench/small.phen\n");
        skip();
    }
    char *text = enevo_test_slurp("bench/small.phen");
    assert_non_null(text);
    char err[ENEVO_ERR_LEN];
    const int shapes[2][3] = {{1, 28, 28}, {3, 32, 32}};
    for (int k = 0; k < 2; k++) {
        int c = shapes[k][0], h = shapes[k][1];
        struct enevo_dataset tr;
        assert_int_equal(enevo_dataset_synthetic(4096, c, h, h, 10, 1, &tr), 0);
        struct enevo_augment a = pipeline(c);
        a.op[a.n] = op(ENEVO_AUG_RANDOM_CROP);
        a.op[a.n].size = h;
        a.op[a.n++].padding = 4;
        a.op[a.n] = op(ENEVO_AUG_HFLIP);
        a.op[a.n++].p = 0.5;
        double best[2] = {0, 0};
        for (int rep = 0; rep < 6; rep++) {
            int with = rep % 2;
            struct enevo_phenotype p;
            assert_int_equal(enevo_phenotype_parse(text, "small", &p, err, sizeof err), 0);
            struct enevo_net_opts o = {.batch = 64, .training = true, .threads = 2};
            struct enevo_net *net;
            if (enevo_net_create(&p, (struct enevo_shape){c, h, h}, 10, &o, &net, err,
                                 sizeof err))
                fail_msg("%s", err);
            enevo_rng r;
            enevo_rng_seed(&r, 5, ENEVO_STREAM_INIT);
            enevo_net_init_params(net, &r);
            int nseg;
            const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
            struct enevo_optim opt;
            assert_int_equal(enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net),
                                              segs, nseg, err, sizeof err),
                             0);
            struct enevo_train_opts to = enevo_train_defaults();
            to.epochs = 2;
            to.patience = 0;
            tr.augment = with ? &a : NULL;
            struct enevo_train_result res;
            if (enevo_train(net, &opt, &tr, NULL, &to, &res, err, sizeof err))
                fail_msg("%s", err);
            if (res.images_per_s > best[with])
                best[with] = res.images_per_s;
            enevo_optim_free(&opt);
            enevo_net_free(net);
            enevo_phenotype_free(&p);
        }
        print_message("small net, %dx%dx%d, 2 threads: %.0f img/s plain, %.0f img/s with "
                      "random_crop + random_horizontal_flip (%.1f%% slower)\n",
                      c, h, h, best[0], best[1], 100 * (1 - best[1] / best[0]));
        assert_true(best[1] > 0.5 * best[0]);
        tr.augment = NULL;
        enevo_dataset_free(&tr);
    }
    free(text);
}

/* ---- end to end: enevo evolve on coloured shapes ---- */

static const char *bin(void)
{
    const char *b = getenv("ENEVO_BIN");
    return b ? b : "build/enevo";
}

static int run(char *out, size_t outlen, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Image i of class k (0..9): shape k % 5 (square, disc, triangle, bar,
 * column) in colour k / 5 (red-ish or blue-ish), at a jittered place on a
 * noisy dark background, as 3 x 32 x 32 bytes (CHW). */
static void shape_image(int k, enevo_rng *r, unsigned char *px)
{
    int cy = 16 + (int)enevo_rng_below(r, 9) - 4, cx = 16 + (int)enevo_rng_below(r, 9) - 4;
    int s = 6 + (int)enevo_rng_below(r, 4);
    int rgb[2][3] = {{220, 60, 40}, {40, 90, 230}};
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            int dy = y - cy, dx = x - cx, in = 0;
            switch (k % 5) {
            case 0: in = abs(dy) <= s && abs(dx) <= s; break;
            case 1: in = dy * dy + dx * dx <= s * s; break;
            case 2: in = dy >= -s && dy <= s && abs(dx) <= (dy + s) / 2; break;
            case 3: in = abs(dy) <= 2 && abs(dx) <= s + 3; break;
            default: in = abs(dx) <= 2 && abs(dy) <= s + 3; break;
            }
            for (int c = 0; c < 3; c++) {
                int v = in ? rgb[k / 5][c] : 30;
                v += (int)(20 * enevo_rng_normal(r));
                px[c * 1024 + y * 32 + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

static void write_shapes_cifar(const char *path, int n, uint64_t seed)
{
    enevo_rng r;
    enevo_rng_seed(&r, seed, 77);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char rec[3073];
    for (int i = 0; i < n; i++) {
        rec[0] = (unsigned char)(i % 10);
        shape_image(i % 10, &r, rec + 1);
        assert_int_equal(fwrite(rec, 1, sizeof rec, f), sizeof rec);
    }
    fclose(f);
}

static double best_test_accuracy(const char *out)
{
    const char *p = strstr(out, "\nbest: fitness");
    if (p)
        p = strstr(p, "test accuracy ");
    if (!p)
        fail_msg("no test accuracy in:\n%s", out);
    return atof(p + strlen("test accuracy "));
}

static void evolve_cifar_shapes_with_augmentation(void **state)
{
    (void)state;
    char dir[1024], p[1200], cfg[1200], args[3000];
    static char out[1 << 20];
    snprintf(dir, sizeof dir, "%s/shapes-cifar", enevo_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
    write_shapes_cifar(p, 1500, 1);
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    write_shapes_cifar(p, 300, 2);
    /* An ENERGIZE-style config with augmentation.train. */
    snprintf(cfg, sizeof cfg, "%s/shapes.yaml", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "defaults: builtin\n"
            "evolutionary:\n  generations: 1\n  lambda: 2\n  max_mflops: 40\n"
            "network:\n  learning:\n    default_train_epochs: 4\n    dataset: cifar10:%s\n"
            "    augmentation:\n      train:\n"
            "        random_crop: {size: 32, padding: 4}\n"
            "        random_horizontal_flip: {p: 0.5}\n",
            dir);
    fclose(f);
    snprintf(args, sizeof args, "evolve %s --seed 1 --threads 2 --run-dir %s/run", cfg, dir);
    int rc = run(out, sizeof out, args);
    if (rc)
        fail_msg("evolve failed (%d):\n%s", rc, out);
    double acc = best_test_accuracy(out);
    print_message("CIFAR-format shapes (10 classes, chance 0.10): best test accuracy %.3f\n", acc);
    if (!(acc > 0.5))
        fail_msg("accuracy %.3f:\n%s", acc, out);
    /* The best model records 3x32x32 and evaluates on the same data. */
    snprintf(args, sizeof args, "eval %s/run/best/model.enevo --dataset cifar10:%s --json", dir,
             dir);
    rc = run(out, sizeof out, args);
    if (rc)
        fail_msg("eval failed (%d):\n%s", rc, out);
    /* The model file's per-channel statistics are the run's: eval scores
     * the best network as the run did. */
    const char *ta = strstr(out, "\"test_accuracy\":");
    assert_non_null(ta);
    double eval_acc = atof(ta + strlen("\"test_accuracy\":"));
    print_message("enevo eval of best/model.enevo: test accuracy %.3f\n", eval_acc);
    assert_true(fabs(eval_acc - acc) < 0.01);
    /* ... and refuses grey data of another shape, clearly. */
    char grey[1200];
    snprintf(grey, sizeof grey, "%s/grey", dir);
    mkdir(grey, 0755);
    /* An .npz of 1x32x32 images. */
    snprintf(args, sizeof args,
             "/usr/bin/python3 -c \"import numpy as np; x = np.zeros((4, 32, 32), np.uint8); "
             "x[:, 3] = 9; y = np.arange(4); np.savez('%s/g.npz', x_train=x, y_train=y, "
             "x_test=x, y_test=y)\" 2>/dev/null",
             grey);
    if (system(args) == 0) {
        snprintf(args, sizeof args, "eval %s/run/best/model.enevo --dataset %s/g.npz", dir, grey);
        rc = run(out, sizeof out, args);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, "expects 3x32x32 images"));
    }
}

static void write_png(const char *path, const unsigned char *chw)
{
    unsigned char hwc[32 * 32 * 3];
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 1024; k++)
            hwc[k * 3 + c] = chw[c * 1024 + k];
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = 32;
    im.height = 32;
    im.format = PNG_FORMAT_RGB;
    assert_true(png_image_write_to_file(&im, path, 0, hwc, 0, NULL));
}

static void evolve_image_folder(void **state)
{
    (void)state;
    static const char *const names[10] = {"blue_bar",  "blue_column", "blue_disc",
                                          "blue_square", "blue_triangle", "red_bar",
                                          "red_column", "red_disc", "red_square",
                                          "red_triangle"};
    /* names[] sorted; class k of shape_image is that of its name. */
    static const int kind[10] = {8, 9, 6, 5, 7, 3, 4, 1, 0, 2};
    char dir[1024], p[1400], cfg[1200], args[3000];
    static char out[1 << 20];
    snprintf(dir, sizeof dir, "%s/shapes-folder", enevo_test_tmpdir());
    enevo_rng r;
    enevo_rng_seed(&r, 3, 77);
    unsigned char px[3072];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 10; k++) {
            snprintf(p, sizeof p, "mkdir -p %s/%s/%s", dir, s ? "test" : "train", names[k]);
            assert_int_equal(system(p), 0);
            for (int i = 0; i < (s ? 20 : 80); i++) {
                shape_image(kind[k], &r, px);
                snprintf(p, sizeof p, "%s/%s/%s/%03d.png", dir, s ? "test" : "train", names[k],
                         i);
                write_png(p, px);
            }
        }
    snprintf(cfg, sizeof cfg, "%s/folder.yaml", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "defaults: builtin\n"
            "evolutionary:\n  generations: 1\n  lambda: 1\n  max_mflops: 40\n"
            "network:\n  learning:\n    default_train_epochs: 5\n    dataset: folder:%s\n",
            dir);
    fclose(f);
    snprintf(args, sizeof args, "evolve %s --seed 2 --threads 2 --run-dir %s/run", cfg, dir);
    int rc = run(out, sizeof out, args);
    if (rc)
        fail_msg("evolve failed (%d):\n%s", rc, out);
    double acc = best_test_accuracy(out);
    print_message("image folder of shapes (10 classes): best test accuracy %.3f\n", acc);
    if (!(acc > 0.5))
        fail_msg("accuracy %.3f:\n%s", acc, out);
    /* The class names, in label order, are in the run directory. */
    snprintf(p, sizeof p, "%s/run/classes.txt", dir);
    char *text = enevo_test_slurp(p);
    assert_non_null(text);
    assert_true(!strncmp(text, "blue_bar\nblue_column\n", 21));
    free(text);
}

const struct CMUnitTest enevo_tests_augment[] = {
    cmocka_unit_test(flip_half_of_ten_thousand),
    cmocka_unit_test(draws_are_keyed_by_seed_epoch_and_index),
    cmocka_unit_test(random_crop_is_a_shift_with_zero_fill),
    cmocka_unit_test(colour_ops_do_what_torchvision_does),
    cmocka_unit_test(resized_crop_and_center_crop_keep_the_size),
    cmocka_unit_test(config_reads_transforms_in_order),
    cmocka_unit_test(config_errors_have_a_place),
    cmocka_unit_test(colour_net_learns_on_the_cpu),
    cmocka_unit_test(colour_net_learns_on_a_gpu),
    cmocka_unit_test(augment_throughput_on_the_small_net),
    cmocka_unit_test(evolve_cifar_shapes_with_augmentation),
    cmocka_unit_test(evolve_image_folder),
};
const size_t enevo_tests_augment_count = ENEVO_COUNT(enevo_tests_augment);
