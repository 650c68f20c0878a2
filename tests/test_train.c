/* Training: learning on generated data, bit-for-bit determinism, restoring
 * the best epoch, and phenotype files that train (the project's, and
 * ENERGIZE's fixture when present). */
#include "tests.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/data.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/train.h"

static const char *SMALL =
    "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
    "layer:batch_norm input:1\n"
    "layer:dropout rate:0.2 input:2\n"
    "layer:fc act:relu out_features:32 bias:True input:3\n"
    "layer:fc act:softmax out_features:4 bias:True input:4\n"
    "learning:gradient_descent lr:0.05 momentum:0.9 weight_decay:0.0001 nesterov:True "
    "early_stop:3 batch_size:32 epochs:4\n";

struct run {
    struct enevo_phenotype p;
    struct enevo_net *net;
    struct enevo_optim opt;
    struct enevo_train_result res;
    int rc;
};

static void train_once(struct run *r, const char *text, const struct enevo_dataset *tr,
                       const struct enevo_dataset *val, uint64_t seed, int threads)
{
    char err[ENEVO_ERR_LEN];
    memset(r, 0, sizeof *r);
    assert_int_equal(enevo_phenotype_parse(text, "t", &r->p, err, sizeof err), 0);
    struct enevo_net_opts o = {.batch = r->p.learning.batch_size, .training = true,
                               .threads = threads};
    int rc = enevo_net_create(&r->p, (struct enevo_shape){tr->c, tr->h, tr->w}, tr->n_classes, &o,
                              &r->net, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    enevo_rng init;
    enevo_rng_seed(&init, seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(r->net, &init);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(r->net, &nseg);
    assert_int_equal(enevo_optim_init(&r->opt, &r->p.learning, enevo_net_param_count(r->net), segs,
                                      nseg, err, sizeof err),
                     0);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = r->p.learning.epochs;
    to.patience = r->p.learning.early_stop;
    to.seed = seed;
    r->rc = enevo_train(r->net, &r->opt, tr, val, &to, &r->res, err, sizeof err);
    if (r->rc)
        print_message("train: %s\n", err);
}

static void run_free(struct run *r)
{
    enevo_optim_free(&r->opt);
    enevo_net_free(r->net);
    enevo_phenotype_free(&r->p);
}

static void small_net_learns_generated_data(void **state)
{
    (void)state;
    struct enevo_dataset tr, val, test;
    assert_int_equal(enevo_dataset_synthetic(1024, 1, 12, 12, 4, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(256, 1, 12, 12, 4, 2, &val), 0);
    assert_int_equal(enevo_dataset_synthetic(512, 1, 12, 12, 4, 3, &test), 0);
    struct run r;
    train_once(&r, SMALL, &tr, &val, 7, 2);
    assert_int_equal(r.rc, 0);
    double acc, loss;
    assert_int_equal(enevo_evaluate(r.net, &test, &acc, &loss, NULL), 0);
    print_message("generated data: test accuracy %.3f, loss %.3f after %d epochs\n", acc, loss,
                  r.res.epochs);
    assert_true(acc > 0.9);
    assert_true(r.res.images_per_s > 0);
    run_free(&r);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
    enevo_dataset_free(&test);
}

static void training_is_bit_for_bit_deterministic(void **state)
{
    (void)state;
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(512, 1, 12, 12, 4, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(128, 1, 12, 12, 4, 2, &val), 0);
    struct run a, b, c;
    train_once(&a, SMALL, &tr, &val, 99, 2);
    train_once(&b, SMALL, &tr, &val, 99, 2);
    train_once(&c, SMALL, &tr, &val, 100, 2);
    assert_int_equal(a.rc, 0);
    size_t n = enevo_net_param_count(a.net);
    assert_memory_equal(enevo_net_params(a.net), enevo_net_params(b.net), n * sizeof(float));
    assert_memory_equal(enevo_net_stats(a.net), enevo_net_stats(b.net),
                        enevo_net_stats_count(a.net) * sizeof(float));
    assert_true(memcmp(enevo_net_params(a.net), enevo_net_params(c.net), n * sizeof(float)) != 0);
    run_free(&a);
    run_free(&b);
    run_free(&c);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
}

static void best_epoch_weights_are_restored(void **state)
{
    (void)state;
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(512, 1, 12, 12, 4, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(128, 1, 12, 12, 4, 2, &val), 0);
    /* A learning rate high enough that later epochs get worse. */
    const char *text =
        "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
        "layer:fc act:softmax out_features:4 bias:True input:0\n"
        "learning:adam lr:0.05 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:2 batch_size:32 "
        "epochs:8\n";
    struct run r;
    train_once(&r, text, &tr, &val, 3, 2);
    assert_int_equal(r.rc, 0);
    assert_true(r.res.best_epoch >= 1 && r.res.best_epoch <= r.res.epochs);
    double acc, loss;
    assert_int_equal(enevo_evaluate(r.net, &val, &acc, &loss, NULL), 0);
    /* The kept weights are exactly those that scored the best validation loss. */
    assert_true(loss == r.res.best_val_loss);
    assert_true(acc == r.res.best_val_accuracy);
    if (r.res.stopped_early)
        assert_int_equal(r.res.epochs, r.res.best_epoch + 2);
    run_free(&r);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
}

static void divergence_is_reported_not_hidden(void **state)
{
    (void)state;
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(256, 1, 12, 12, 4, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(64, 1, 12, 12, 4, 2, &val), 0);
    /* relu everywhere: NaN weights would give finite (constant) logits. */
    const char *text =
        "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
        "layer:fc act:relu out_features:16 bias:True input:0\n"
        "layer:fc act:softmax out_features:4 bias:True input:1\n"
        "learning:gradient_descent lr:1e6 momentum:0.9 weight_decay:0 nesterov:False "
        "early_stop:3 batch_size:32 epochs:3\n";
    struct run r;
    train_once(&r, text, &tr, &val, 1, 2);
    assert_int_equal(r.rc, ENEVO_ENUMERIC);
    run_free(&r);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
}

/* A phenotype file trains one epoch with its own learning settings on 28x28
 * data: the project's bench/small.phen always (gradient descent, batch 64),
 * and ENERGIZE's phenotype2 when ../shared is there (adam, batch 512). */
static void phenotype_file_trains_one_epoch(const char *path)
{
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN];
    if (enevo_phenotype_load(path, &p, err, sizeof err))
        fail_msg("%s", err);
    char *text = enevo_phenotype_format(&p);
    enevo_phenotype_free(&p);
    assert_non_null(text);
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(1024, 1, 28, 28, 10, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(256, 1, 28, 28, 10, 2, &val), 0);
    struct run r;
    char *one_epoch = malloc(strlen(text) + 64);
    assert_non_null(one_epoch);
    strcpy(one_epoch, text);
    /* the learning entity ends the text (neither file has a model_partition) */
    char *e = strstr(one_epoch, "epochs:");
    assert_non_null(e);
    strcpy(e, "epochs:1\n");
    train_once(&r, one_epoch, &tr, &val, 1, 2);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.epochs, 1);
    assert_true(isfinite(r.res.last_train_loss));
    run_free(&r);
    free(one_epoch);
    free(text);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
}

static void energize_phenotype2_trains(void **state)
{
    (void)state;
    phenotype_file_trains_one_epoch("bench/small.phen");
    const char *path = enevo_test_fixture_or_say("phenotype2.txt", "trained bench/small.phen only");
    if (path)
        phenotype_file_trains_one_epoch(path);
}

const struct CMUnitTest enevo_tests_train[] = {
    cmocka_unit_test(small_net_learns_generated_data),
    cmocka_unit_test(training_is_bit_for_bit_deterministic),
    cmocka_unit_test(best_epoch_weights_are_restored),
    cmocka_unit_test(divergence_is_reported_not_hidden),
    cmocka_unit_test(energize_phenotype2_trains),
};
const size_t enevo_tests_train_count = ENEVO_COUNT(enevo_tests_train);
