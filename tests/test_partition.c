/* Model partition: extraction gives bit-identical outputs, the parameter
 * layouts line up, and training both heads in one step teaches both. */
#include "tests.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/data.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/partition.h"
#include "enevo/phenotype.h"
#include "enevo/train.h"

static const char *TWO_HEADS =
    "layer:conv out_channels:20 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:batch_norm input:0\n"
    "layer:conv out_channels:16 kernel_size:3 stride:1 padding:same act:relu bias:True input:1\n"
    "layer:pool_max kernel_size:2 stride:2 padding:valid input:2\n"
    "layer:conv out_channels:24 kernel_size:3 stride:1 padding:same act:relu bias:True input:3,2\n"
    "layer:fc act:relu out_features:32 bias:True input:4\n"
    "layer:fc act:softmax out_features:4 bias:True input:5\n"
    "learning:adam lr:0.003 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:3 batch_size:32 "
    "epochs:3\n"
    "model_partition:True partition_point:2\n";

static struct enevo_net *make(const struct enevo_phenotype *p, int batch, bool training)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_net *net;
    struct enevo_net_opts o = {.batch = batch, .training = training, .threads = 2};
    if (enevo_net_create(p, (struct enevo_shape){1, 12, 12}, 4, &o, &net, err, sizeof err))
        fail_msg("%s", err);
    return net;
}

static void extraction_is_bit_identical(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    assert_int_equal(enevo_phenotype_parse(TWO_HEADS, "t", &p, err, sizeof err), 0);
    struct enevo_dataset d;
    assert_int_equal(enevo_dataset_synthetic(256, 1, 12, 12, 4, 1, &d), 0);
    /* Train briefly so the weights and batch-norm statistics are not the
     * initial ones. */
    struct enevo_net *tr = make(&p, 32, true);
    enevo_rng r;
    enevo_rng_seed(&r, 2, ENEVO_STREAM_INIT);
    enevo_net_init_params(tr, &r);
    struct enevo_optim o;
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(tr, &nseg);
    assert_int_equal(
        enevo_optim_init(&o, &p.learning, enevo_net_param_count(tr), segs, nseg, err, sizeof err),
        0);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = 2;
    struct enevo_train_result res;
    assert_int_equal(enevo_train(tr, &o, &d, NULL, &to, &res, err, sizeof err), 0);
    /* Both heads learned in the one training. */
    double acc[2];
    assert_int_equal(enevo_evaluate_heads(tr, &d, acc, NULL, NULL, NULL), 0);
    print_message("two heads after 2 epochs: accuracy %.3f (full) %.3f (early exit)\n", acc[0],
                  acc[1]);
    assert_true(acc[0] > 0.8 && acc[1] > 0.8);

    const int B = 16;
    struct enevo_net *two = make(&p, B, false);
    memcpy(enevo_net_params(two), enevo_net_params(tr), sizeof(float) * enevo_net_param_count(tr));
    memcpy(enevo_net_stats(two), enevo_net_stats(tr), sizeof(float) * enevo_net_stats_count(tr));
    assert_int_equal(enevo_net_forward(two, d.x, false, 0), 0);
    for (int which = 0; which < 2; which++) {
        struct enevo_extracted e;
        assert_int_equal(enevo_partition_extract(&p, tr, which, &e, err, sizeof err), 0);
        /* The extracted phenotype is an ordinary one (it formats and parses
         * back) and plans to exactly the copied block. */
        char *text = enevo_phenotype_format(&e.phenotype);
        struct enevo_phenotype q;
        assert_int_equal(enevo_phenotype_parse(text, "extracted", &q, err, sizeof err), 0);
        assert_false(q.has_partition);
        struct enevo_net *one = make(&q, B, false);
        assert_int_equal(enevo_net_param_count(one), e.n_params);
        assert_int_equal(enevo_net_stats_count(one), e.n_stats);
        memcpy(enevo_net_params(one), e.params, sizeof(float) * e.n_params);
        memcpy(enevo_net_stats(one), e.stats, sizeof(float) * e.n_stats);
        assert_int_equal(enevo_net_forward(one, d.x, false, 0), 0);
        const float *want = which ? enevo_net_logits2(two) : enevo_net_logits(two);
        assert_memory_equal(enevo_net_logits(one), want, sizeof(float) * B * 4);
        /* Model 1 is smaller and cheaper; the memory is its own. */
        if (which == 1) {
            assert_true(e.n_params < enevo_net_param_count(tr));
            assert_true(enevo_net_flops(one) < enevo_net_flops(two));
            assert_int_equal(q.n_layers, 4); /* layers 0-2 and the head */
        }
        assert_true(e.params != enevo_net_params(tr));
        enevo_net_free(one);
        enevo_phenotype_free(&q);
        free(text);
        enevo_extracted_free(&e);
    }
    enevo_net_free(two);
    enevo_optim_free(&o);
    enevo_net_free(tr);
    enevo_dataset_free(&d);
    enevo_phenotype_free(&p);
}

static void unpartitioned_net_has_one_head(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    assert_int_equal(enevo_phenotype_parse(
                         "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu "
                         "bias:True input:-1\nlayer:fc act:softmax out_features:4 bias:True input:0\n",
                         "t", &p, err, sizeof err),
                     0);
    struct enevo_net *net = make(&p, 4, false);
    assert_int_equal(enevo_net_heads(net), 1);
    assert_null(enevo_net_logits2(net));
    struct enevo_extracted e;
    assert_int_equal(enevo_partition_extract(&p, net, 1, &e, err, sizeof err), ENEVO_EINVAL);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

const struct CMUnitTest enevo_tests_partition[] = {
    cmocka_unit_test(extraction_is_bit_identical),
    cmocka_unit_test(unpartitioned_net_has_one_head),
};
const size_t enevo_tests_partition_count = ENEVO_COUNT(enevo_tests_partition);
