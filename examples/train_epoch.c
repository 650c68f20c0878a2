/* examples/train_epoch.c — train a network for one epoch and save it,
 * through the library's public API only.
 *
 *     train_epoch PHENOTYPE_FILE DATASET MODEL_OUT
 *
 * PHENOTYPE_FILE: a network in ENERGIZE's phenotype text (bench/small.phen).
 * DATASET: anything `enevo train --dataset` takes (an IDX directory such as
 * /usr/share/datasets/fashion-mnist, cifar10:DIR, an .npz, ...). Trains on
 * 80% of the training images for one epoch, validates on the other 20%,
 * tests on the test images and writes MODEL_OUT, a model file that
 * `enevo eval` and examples/classify read.
 *
 * Build against an installed enevo:
 *     cc train_epoch.c $(pkg-config --cflags --libs enevo) -o train_epoch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enevo/enevo.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PHENOTYPE_FILE DATASET MODEL_OUT\n", argv[0]);
        return 2;
    }
    char err[ENEVO_ERR_LEN];
    const uint64_t seed = 42;
    struct enevo_phenotype p;
    struct enevo_data d = {0};
    struct enevo_split split = {0};
    struct enevo_net *net = NULL;
    struct enevo_optim opt = {0};
    char *text = NULL;
    int rc, status = 1;

    if ((rc = enevo_phenotype_load(argv[1], &p, err, sizeof err))) {
        fprintf(stderr, "train_epoch: %s (%s)\n", err, enevo_strerror(rc));
        return 1;
    }
    /* The images come normalised per channel with the training set's
     * statistics (d.ch_mean, d.ch_std), which the model file records. */
    if ((rc = enevo_data_open(argv[2], NULL, &d, err, sizeof err)))
        goto out;
    int n_val = d.train.n / 5;
    if ((rc = enevo_data_split(&d.train, d.train.n - n_val, n_val, 0, seed, &split, err,
                               sizeof err)))
        goto out;

    struct enevo_shape in = {d.train.c, d.train.h, d.train.w};
    int n_classes = d.train.n_classes;
    struct enevo_net_opts o = {.batch = p.learning.batch_size, .training = true, .device = "cpu"};
    if ((rc = enevo_net_create(&p, in, n_classes, &o, &net, err, sizeof err)))
        goto out;
    enevo_rng init; /* no global RNG: every draw comes from a seeded stream */
    enevo_rng_seed(&init, seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &init);
    int n_segs;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &n_segs);
    if ((rc = enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs, n_segs, err,
                               sizeof err)))
        goto out;
    printf("%s: %zu parameters, %.2f MFLOP/image, %d training images of %dx%dx%d\n", argv[1],
           enevo_net_param_count(net), enevo_net_flops(net) / 1e6, split.train.n, in.c, in.h, in.w);

    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = 1;
    to.seed = seed;
    to.log = stdout; /* one line per epoch */
    struct enevo_train_result res;
    if ((rc = enevo_train(net, &opt, &split.train, &split.validation, &to, &res, err, sizeof err)))
        goto out;
    double acc, loss;
    if ((rc = enevo_evaluate(net, &d.test, &acc, &loss, NULL))) {
        enevo_errf(err, sizeof err, rc, "evaluation on the test images failed");
        goto out;
    }
    printf("test accuracy %.4f, loss %.4f (%d images)\n", acc, loss, d.test.n);

    /* The model file: phenotype text, weights, batch-norm statistics and the
     * input normalisation. */
    text = enevo_phenotype_format(&p);
    struct enevo_model_file m = {
        .in_c = in.c,
        .in_h = in.h,
        .in_w = in.w,
        .n_classes = n_classes,
        .mean = d.mean,
        .std = d.std,
        .norm_c = in.c,
        .phenotype = text,
        .params = enevo_net_params(net),
        .n_params = enevo_net_param_count(net),
        .stats = enevo_net_stats(net),
        .n_stats = enevo_net_stats_count(net),
    };
    memcpy(m.ch_mean, d.ch_mean, sizeof m.ch_mean);
    memcpy(m.ch_std, d.ch_std, sizeof m.ch_std);
    if (!text)
        rc = enevo_errf(err, sizeof err, ENEVO_ENOMEM, "formatting the phenotype");
    else
        rc = enevo_model_save(argv[3], &m, err, sizeof err);
    if (rc)
        goto out;
    printf("model saved to %s\n", argv[3]);
    status = 0;
out:
    if (status)
        fprintf(stderr, "train_epoch: %s (%s)\n", err, enevo_strerror(rc));
    free(text);
    enevo_optim_free(&opt);
    enevo_net_free(net);
    enevo_split_free(&split);
    enevo_data_free(&d);
    enevo_phenotype_free(&p);
    return status;
}
