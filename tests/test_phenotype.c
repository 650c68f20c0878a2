/* tests/test_phenotype.c — ENERGIZE phenotype parse / format / shape check. */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/error.h"
#include "enevo/phenotype.h"

#define SHAPE(C, H, W) ((struct enevo_shape){(C), (H), (W)})

static void assert_shape(struct enevo_shape s, int c, int h, int w)
{
    assert_int_equal(s.c, c);
    assert_int_equal(s.h, h);
    assert_int_equal(s.w, w);
}

/* Parse must succeed; fails the test with the message otherwise. */
static void parse_ok(const char *text, struct enevo_phenotype *p)
{
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_phenotype_parse(text, "t.phen", p, err, sizeof err);
    if (rc)
        fail_msg("parse failed: %s", err);
}

/* ---- the ENERGIZE fixtures ----------------------------------------- */

static void fixture1_parses(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("phenotype1.txt", NULL);
    if (!path)
        skip();
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_phenotype_load(path, &p, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(p.n_layers, 7);
    const struct enevo_layer_spec *l = &p.layers[0];
    assert_int_equal(l->kind, ENEVO_LAYER_CONV);
    assert_int_equal(l->out_channels, 98);
    assert_int_equal(l->kernel_size, 5);
    assert_int_equal(l->stride, 2);
    assert_int_equal(l->padding, ENEVO_PAD_VALID);
    assert_int_equal(l->act, ENEVO_ACT_RELU);
    assert_false(l->bias);
    assert_int_equal(l->n_inputs, 1);
    assert_int_equal(l->inputs[0], -1);
    assert_int_equal(l->line, 1);
    assert_int_equal(l->col, 1);
    assert_int_equal(p.layers[3].padding, ENEVO_PAD_SAME);
    assert_int_equal(p.layers[3].kernel_size, 4);
    for (int i = 1; i < 7; i++) {
        assert_int_equal(p.layers[i].n_inputs, 1);
        assert_int_equal(p.layers[i].inputs[0], i - 1);
    }
    l = &p.layers[6];
    assert_int_equal(l->kind, ENEVO_LAYER_FC);
    assert_int_equal(l->act, ENEVO_ACT_SOFTMAX);
    assert_int_equal(l->out_features, 10);
    assert_true(l->bias);
    assert_true(p.has_learning);
    assert_int_equal(p.learning.optimizer, ENEVO_OPT_ADAM);
    assert_true(p.learning.lr == 0.010994878808517258);
    assert_true(p.learning.beta1 == 0.7755784963206666);
    assert_true(p.learning.beta2 == 0.8532100487924581);
    assert_true(p.learning.weight_decay == 0.0005478934704170954);
    assert_int_equal(p.learning.early_stop, 19);
    assert_int_equal(p.learning.batch_size, 512);
    assert_int_equal(p.learning.epochs, 100);
    assert_false(p.has_partition);
    enevo_phenotype_free(&p);
}

/* 28x28: conv k5 s2 valid -> 12, k3 -> 10, k2 s2 -> 5, k4 same -> 5,
 * k4 valid -> 2, and layer 5's 4x4 kernel meets a 2x2 map.
 * 32x32: 14, 12, 6, 6, 3, and layer 5's 4x4 kernel meets a 3x3 map. */
static void fixture1_check_rejects_layer5(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("phenotype1.txt", NULL);
    if (!path)
        skip();
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_phenotype_load(path, &p, err, sizeof err), 0);
    struct enevo_shape out[7];

    assert_int_equal(enevo_phenotype_check(&p, SHAPE(1, 28, 28), 10, out, err, sizeof err),
                     ENEVO_ESHAPE);
    assert_non_null(strstr(err, "layer 5 (conv)"));
    assert_non_null(strstr(err, "kernel 4x4"));
    assert_non_null(strstr(err, "2x2 input"));
    assert_shape(out[0], 98, 12, 12);
    assert_shape(out[1], 104, 10, 10);
    assert_shape(out[2], 152, 5, 5);
    assert_shape(out[3], 253, 5, 5);
    assert_shape(out[4], 243, 2, 2);

    assert_int_equal(enevo_phenotype_check(&p, SHAPE(1, 32, 32), 10, out, err, sizeof err),
                     ENEVO_ESHAPE);
    assert_non_null(strstr(err, "layer 5 (conv)"));
    assert_non_null(strstr(err, "3x3 input"));
    assert_shape(out[0], 98, 14, 14);
    assert_shape(out[2], 152, 6, 6);
    assert_shape(out[4], 243, 3, 3);
    enevo_phenotype_free(&p);
}

/* 28x28: conv k5 s2 valid -> 12; then three padding:same convs run with
 * stride 1 (stride genes 2, 1, 3 ignored) and keep 12; fc -> 10.
 * 32x32: (32-5)/2+1 = 14, then 14, 14, 14. */
static void fixture2_checks(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("phenotype2.txt", NULL);
    if (!path)
        skip();
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_phenotype_load(path, &p, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(p.n_layers, 5);
    assert_int_equal(p.learning.optimizer, ENEVO_OPT_ADAM);
    assert_int_equal(p.learning.early_stop, 12);
    assert_int_equal(p.layers[3].stride, 3);
    assert_int_equal(enevo_layer_effective_stride(&p.layers[3]), 1);

    struct enevo_shape out[5];
    rc = enevo_phenotype_check(&p, SHAPE(1, 28, 28), 10, out, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_shape(out[0], 62, 12, 12);
    assert_shape(out[1], 39, 12, 12);
    assert_shape(out[2], 113, 12, 12);
    assert_shape(out[3], 140, 12, 12);
    assert_shape(out[4], 10, 1, 1);

    rc = enevo_phenotype_check(&p, SHAPE(1, 32, 32), 10, out, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_shape(out[0], 62, 14, 14);
    assert_shape(out[1], 39, 14, 14);
    assert_shape(out[2], 113, 14, 14);
    assert_shape(out[3], 140, 14, 14);
    assert_shape(out[4], 10, 1, 1);

    /* wrong class count on the real file */
    assert_int_equal(enevo_phenotype_check(&p, SHAPE(1, 28, 28), 7, out, err, sizeof err),
                     ENEVO_ESHAPE);
    assert_non_null(strstr(err, "layer 4 (fc)"));
    enevo_phenotype_free(&p);
}

/* ---- the project's own phenotype files in bench/ ------------------- */

/* Phenotype files read from disk, formatted and parsed back, for every
 * file of this table that is there: the project's always, ENERGIZE's
 * fixtures when ../shared is beside the checkout. */
static const struct phen_file {
    const char *path; /* from the repository root, or a fixture name */
    int fixture;
    int n_layers, has_partition;
} phen_files[] = {
    {"bench/small.phen", 0, 6, 0},
    {"bench/medium.phen", 0, 9, 0},
    {"bench/medium_partition.phen", 0, 9, 1},
    {"phenotype1.txt", 1, 7, 0},
    {"phenotype2.txt", 1, 5, 0},
};

static void assert_same_phenotype(const struct enevo_phenotype *a, const struct enevo_phenotype *b);

static void phenotype_files_load_and_round_trip(void **state)
{
    (void)state;
    int missing = 0;
    for (size_t i = 0; i < ENEVO_COUNT(phen_files); i++) {
        const struct phen_file *f = &phen_files[i];
        const char *path = f->path;
        if (f->fixture && !(path = enevo_test_fixture(f->path))) {
            missing++;
            continue;
        }
        struct enevo_phenotype a, b;
        char err[ENEVO_ERR_LEN] = "";
        if (enevo_phenotype_load(path, &a, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(a.n_layers, f->n_layers);
        assert_int_equal(a.has_partition, f->has_partition);
        assert_true(a.has_learning);
        /* each file is a chain: layer i reads layer i - 1 */
        for (int l = 0; l < a.n_layers; l++) {
            assert_int_equal(a.layers[l].n_inputs, 1);
            assert_int_equal(a.layers[l].inputs[0], l - 1);
        }
        char *text = enevo_phenotype_format(&a);
        assert_non_null(text);
        parse_ok(text, &b);
        assert_same_phenotype(&a, &b);
        char *again = enevo_phenotype_format(&b);
        assert_string_equal(text, again);
        free(text);
        free(again);
        enevo_phenotype_free(&a);
        enevo_phenotype_free(&b);
    }
    if (missing)
        enevo_test_fixture_or_say("phenotype1.txt", "read the bench/ files only");
}

/* bench/medium.phen field by field: what fixture1_parses checks of
 * ENERGIZE's phenotype1, on a file every clone has. */
static void bench_medium_parses(void **state)
{
    (void)state;
    struct enevo_phenotype p, q;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_phenotype_load("bench/medium.phen", &p, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(p.n_layers, 9);
    const struct enevo_layer_spec *l = &p.layers[0];
    assert_int_equal(l->kind, ENEVO_LAYER_CONV);
    assert_int_equal(l->out_channels, 64);
    assert_int_equal(l->kernel_size, 5);
    assert_int_equal(l->stride, 1);
    assert_int_equal(l->padding, ENEVO_PAD_SAME);
    assert_int_equal(l->act, ENEVO_ACT_RELU);
    assert_true(l->bias);
    assert_int_equal(l->inputs[0], -1);
    /* line 1 is a comment */
    assert_int_equal(l->line, 2);
    assert_int_equal(l->col, 1);
    assert_int_equal(p.layers[1].kind, ENEVO_LAYER_BATCH_NORM);
    assert_int_equal(p.layers[1].line, 3);
    assert_int_equal(p.layers[3].kind, ENEVO_LAYER_POOL_MAX);
    assert_int_equal(p.layers[3].kernel_size, 2);
    assert_int_equal(p.layers[3].stride, 2);
    assert_int_equal(p.layers[3].padding, ENEVO_PAD_VALID);
    assert_int_equal(p.layers[7].kind, ENEVO_LAYER_DROPOUT);
    assert_true(p.layers[7].rate == 0.5);
    l = &p.layers[8];
    assert_int_equal(l->kind, ENEVO_LAYER_FC);
    assert_int_equal(l->act, ENEVO_ACT_SOFTMAX);
    assert_int_equal(l->out_features, 10);
    assert_true(l->bias);
    assert_true(p.has_learning);
    assert_int_equal(p.learning.optimizer, ENEVO_OPT_SGD);
    assert_true(p.learning.lr == 0.01);
    assert_true(p.learning.momentum == 0.9);
    assert_true(p.learning.weight_decay == 0);
    assert_false(p.learning.nesterov);
    assert_int_equal(p.learning.early_stop, 5);
    assert_int_equal(p.learning.batch_size, 64);
    assert_int_equal(p.learning.epochs, 10);
    assert_false(p.has_partition);
    /* the partitioned copy differs only by its second head */
    if (enevo_phenotype_load("bench/medium_partition.phen", &q, err, sizeof err))
        fail_msg("%s", err);
    assert_true(q.has_partition);
    assert_int_equal(q.partition_point, 2);
    q.has_partition = false;
    q.partition_point = p.partition_point;
    assert_same_phenotype(&p, &q);
    enevo_phenotype_free(&p);
    enevo_phenotype_free(&q);
}

/* Shapes of bench/medium.phen (what fixture1_check_rejects_layer5 and
 * fixture2_checks check of ENERGIZE's files). 28x28: 5x5 and 3x3 same
 * convs keep 28, pools halve: 28, 28, 28, 14, 14, 7, then fc 256 and 10.
 * 3x3: the first pool gives 1x1 and the second's 2x2 kernel does not fit. */
static void bench_medium_checks(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_phenotype_load("bench/medium.phen", &p, err, sizeof err))
        fail_msg("%s", err);
    struct enevo_shape out[9];
    if (enevo_phenotype_check(&p, SHAPE(1, 28, 28), 10, out, err, sizeof err))
        fail_msg("%s", err);
    assert_shape(out[0], 64, 28, 28);
    assert_shape(out[1], 64, 28, 28);
    assert_shape(out[2], 64, 28, 28);
    assert_shape(out[3], 64, 14, 14);
    assert_shape(out[4], 128, 14, 14);
    assert_shape(out[5], 128, 7, 7);
    assert_shape(out[6], 256, 1, 1);
    assert_shape(out[7], 256, 1, 1);
    assert_shape(out[8], 10, 1, 1);
    if (enevo_phenotype_check(&p, SHAPE(3, 32, 32), 10, out, err, sizeof err))
        fail_msg("%s", err);
    assert_shape(out[0], 64, 32, 32);
    assert_shape(out[5], 128, 8, 8);
    assert_shape(out[8], 10, 1, 1);

    assert_int_equal(enevo_phenotype_check(&p, SHAPE(1, 3, 3), 10, out, err, sizeof err),
                     ENEVO_ESHAPE);
    assert_non_null(strstr(err, "layer 5 (pool_max)"));
    assert_non_null(strstr(err, "kernel 2x2"));
    assert_non_null(strstr(err, "1x1 input"));
    assert_shape(out[3], 64, 1, 1);
    assert_shape(out[4], 128, 1, 1);

    /* wrong class count on the real file */
    assert_int_equal(enevo_phenotype_check(&p, SHAPE(1, 28, 28), 7, out, err, sizeof err),
                     ENEVO_ESHAPE);
    assert_non_null(strstr(err, "layer 8 (fc)"));
    enevo_phenotype_free(&p);
}

/* ---- lexical -------------------------------------------------------- */

static void tokens_split_by_any_whitespace(void **state)
{
    (void)state;
    const char *one = "layer:conv out_channels:8 kernel_size:3 input:-1 "
                      "layer:fc act:softmax out_features:10 input:0 learning:adam lr:0.001";
    const char *many = "# a comment line\n"
                       "layer:conv\tout_channels:8\n"
                       "\t kernel_size:3\r\n"
                       "input:-1\n"
                       "   # indented comment: layer:pool_max\n"
                       "layer:fc\n\nact:softmax\tout_features:10 input:0\n"
                       "learning:adam\n lr:0.001\n";
    struct enevo_phenotype a, b;
    parse_ok(one, &a);
    parse_ok(many, &b);
    assert_int_equal(a.n_layers, 2);
    assert_int_equal(b.n_layers, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a.layers[i].kind, b.layers[i].kind);
        assert_int_equal(a.layers[i].out_channels, b.layers[i].out_channels);
        assert_int_equal(a.layers[i].out_features, b.layers[i].out_features);
        assert_int_equal(a.layers[i].kernel_size, b.layers[i].kernel_size);
        assert_int_equal(a.layers[i].act, b.layers[i].act);
        assert_int_equal(a.layers[i].inputs[0], b.layers[i].inputs[0]);
    }
    assert_true(a.learning.lr == 0.001 && b.learning.lr == 0.001);
    /* positions are of the entity's first token */
    assert_int_equal(b.layers[0].line, 2);
    assert_int_equal(b.layers[0].col, 1);
    assert_int_equal(b.layers[1].line, 6);
    enevo_phenotype_free(&a);
    enevo_phenotype_free(&b);
}

static void defaults_fill_unset_keys(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    parse_ok("layer:conv out_channels:4 kernel_size:2 input:-1 "
             "layer:pool_avg kernel_size:2 input:0 layer:dropout input:1 "
             "layer:batch_norm input:2 layer:fc out_features:10 input:3 "
             "learning:rmsprop model_partition:_ partition_point:2",
             &p);
    assert_int_equal(p.n_layers, 5);
    assert_int_equal(p.layers[0].stride, 1);
    assert_int_equal(p.layers[0].padding, ENEVO_PAD_VALID);
    assert_int_equal(p.layers[0].act, ENEVO_ACT_LINEAR);
    assert_true(p.layers[0].bias);
    assert_int_equal(p.layers[1].kind, ENEVO_LAYER_POOL_AVG);
    assert_int_equal(p.layers[1].stride, 1);
    assert_true(p.layers[2].rate == 0.5f);
    assert_int_equal(p.layers[4].act, ENEVO_ACT_LINEAR);
    struct enevo_learning_spec d;
    enevo_learning_defaults(&d);
    assert_int_equal(d.optimizer, ENEVO_OPT_SGD);
    assert_true(d.lr == 0.01 && d.momentum == 0 && d.weight_decay == 0 && !d.nesterov);
    assert_true(d.beta1 == 0.9 && d.beta2 == 0.999 && d.alpha == 0.99);
    assert_true(d.lr_weights == 0.2 && d.lr_biases == 0.0048);
    assert_int_equal(d.early_stop, 5);
    assert_int_equal(d.batch_size, 64);
    assert_int_equal(d.epochs, 10);
    assert_true(p.has_learning);
    assert_int_equal(p.learning.optimizer, ENEVO_OPT_RMSPROP);
    assert_true(p.learning.alpha == d.alpha && p.learning.lr == d.lr);
    assert_int_equal(p.learning.batch_size, 64);
    assert_true(p.has_partition);
    assert_int_equal(p.partition_point, 2);

    char err[ENEVO_ERR_LEN] = "";
    struct enevo_shape out[5];
    int rc = enevo_phenotype_check(&p, SHAPE(3, 8, 8), 10, out, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_shape(out[0], 4, 7, 7);
    assert_shape(out[1], 4, 6, 6);
    assert_shape(out[2], 4, 6, 6);
    assert_shape(out[3], 4, 6, 6);
    assert_shape(out[4], 10, 1, 1);
    enevo_phenotype_free(&p);

    /* booleans in any of ENERGIZE's / Python's spellings */
    parse_ok("layer:fc out_features:2 bias:false input:-1 learning:gradient_descent nesterov:1",
             &p);
    assert_false(p.layers[0].bias);
    assert_true(p.learning.nesterov);
    assert_false(p.has_partition);
    assert_int_equal(p.partition_point, -1);
    enevo_phenotype_free(&p);
}

/* ---- round trip ----------------------------------------------------- */

static void assert_same_phenotype(const struct enevo_phenotype *a, const struct enevo_phenotype *b)
{
    assert_int_equal(a->n_layers, b->n_layers);
    for (int i = 0; i < a->n_layers; i++) {
        const struct enevo_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->out_channels, y->out_channels);
        assert_int_equal(x->out_features, y->out_features);
        assert_int_equal(x->kernel_size, y->kernel_size);
        assert_int_equal(x->stride, y->stride);
        assert_int_equal(x->padding, y->padding);
        assert_int_equal(x->act, y->act);
        assert_int_equal(x->bias, y->bias);
        assert_true(x->rate == y->rate);
        assert_int_equal(x->n_inputs, y->n_inputs);
        for (int j = 0; j < x->n_inputs; j++)
            assert_int_equal(x->inputs[j], y->inputs[j]);
    }
    assert_int_equal(a->has_learning, b->has_learning);
    const struct enevo_learning_spec *x = &a->learning, *y = &b->learning;
    assert_int_equal(x->optimizer, y->optimizer);
    assert_true(x->lr == y->lr);
    assert_true(x->momentum == y->momentum);
    assert_true(x->weight_decay == y->weight_decay);
    assert_int_equal(x->nesterov, y->nesterov);
    assert_true(x->beta1 == y->beta1);
    assert_true(x->beta2 == y->beta2);
    assert_true(x->alpha == y->alpha);
    assert_true(x->lr_weights == y->lr_weights);
    assert_true(x->lr_biases == y->lr_biases);
    assert_int_equal(x->early_stop, y->early_stop);
    assert_int_equal(x->batch_size, y->batch_size);
    assert_int_equal(x->epochs, y->epochs);
    assert_int_equal(a->has_partition, b->has_partition);
    assert_int_equal(a->partition_point, b->partition_point);
}

static void round_trip_is_exact(void **state)
{
    (void)state;
    const char *texts[] = {
        "layer:conv out_channels:32 kernel_size:3 stride:2 padding:same act:relu bias:False "
        "input:-1 layer:pool_max kernel_size:2 stride:2 padding:valid input:0 "
        "layer:pool_avg kernel_size:3 stride:3 padding:same input:1 "
        "layer:dropout rate:0.3141592653589793 input:2 layer:batch_norm input:3 "
        "layer:conv out_channels:7 kernel_size:1 act:sigmoid input:4,2 "
        "layer:fc act:relu out_features:128 bias:True input:5 "
        "layer:dropout rate:0 input:6 "
        "layer:fc act:softmax out_features:10 bias:True input:7 "
        "learning:lars lr_weights:0.123456789012345678 lr_biases:1e-3 momentum:0.7 "
        "weight_decay:3.3e-7 early_stop:9 batch_size:1024 epochs:10000 "
        "model_partition:_ partition_point:3",
        "layer:fc out_features:3 input:-1 learning:gradient_descent lr:0.1 momentum:0.9 "
        "weight_decay:0.000123 nesterov:True early_stop:20 batch_size:32 epochs:7",
        "layer:fc out_features:3 input:-1 learning:adam lr:0.0001 beta1:0.99990000000000001 "
        "beta2:0.5 weight_decay:1e-6",
        "layer:fc out_features:3 input:-1 learning:rmsprop lr:0.07 alpha:1 weight_decay:0",
        "layer:fc act:linear out_features:3 input:-1",
    };
    for (size_t t = 0; t < ENEVO_COUNT(texts); t++) {
        struct enevo_phenotype a, b, c;
        parse_ok(texts[t], &a);
        char *s1 = enevo_phenotype_format(&a);
        assert_non_null(s1);
        parse_ok(s1, &b);
        assert_same_phenotype(&a, &b);
        char *s2 = enevo_phenotype_format(&b);
        assert_non_null(s2);
        assert_string_equal(s1, s2);
        parse_ok(s2, &c);
        assert_same_phenotype(&a, &c);
        free(s1);
        free(s2);
        enevo_phenotype_free(&a);
        enevo_phenotype_free(&b);
        enevo_phenotype_free(&c);
    }
}

static void format_uses_energize_spelling(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    parse_ok("layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True "
             "input:-1 layer:pool_max kernel_size:2 stride:2 padding:valid input:0 "
             "layer:dropout rate:0.5 input:1 layer:batch_norm input:1,2 "
             "layer:fc act:softmax out_features:10 bias:True input:3 "
             "learning:adam lr:0.5 beta1:0.25 beta2:0.75 weight_decay:0 early_stop:5 "
             "batch_size:64 epochs:10 model_partition:True partition_point:1",
             &p);
    char *s = enevo_phenotype_format(&p);
    assert_non_null(s);
    assert_string_equal(
        s, "layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True "
           "input:-1\n"
           "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
           "layer:dropout rate:0.5 input:1\n"
           "layer:batch_norm input:1,2\n"
           "layer:fc act:softmax out_features:10 bias:True input:3\n"
           "learning:adam lr:0.5 beta1:0.25 beta2:0.75 weight_decay:0 early_stop:5 batch_size:64 "
           "epochs:10\n"
           "model_partition:True partition_point:1\n");
    free(s);
    enevo_phenotype_free(&p);
}

/* ---- malformed input ------------------------------------------------ */

struct bad_case {
    const char *text;
    int rc;           /* expected status: EFORMAT from parse, ESHAPE from check */
    const char *want; /* a substring of the message */
    const char *at;   /* message prefix ("t.phen:L:C: "), or NULL */
};

static const struct bad_case bad_cases[] = {
    /* parse errors */
    {"layer:conv out_channels:8\n  kernel_size:3 colour:red input:-1", ENEVO_EFORMAT,
     "layer 0 (conv): unknown key 'colour'", "t.phen:2:17: "},
    {"layer:pool_max kernel_size:2 out_channels:3 input:-1", ENEVO_EFORMAT,
     "layer 0 (pool_max): key 'out_channels' does not belong", "t.phen:1:30: "},
    {"layer:fc out_features:2 input:-1 learning:gradient_descent lr:0.1 beta1:0.9", ENEVO_EFORMAT,
     "learning (gradient_descent): key 'beta1' does not belong", NULL},
    {"layer:fc out_features:2 input:-1 learning:adam alpha:0.9", ENEVO_EFORMAT,
     "key 'alpha' does not belong", NULL},
    {"layer:dropout rate:0.1 act:relu input:-1", ENEVO_EFORMAT, "key 'act' does not belong", NULL},
    {"layer:conv out_channels:abc kernel_size:3 input:-1", ENEVO_EFORMAT,
     "expected an integer >= 1 for out_channels, got 'abc'", "t.phen:1:25: "},
    {"layer:conv out_channels:0 kernel_size:3 input:-1", ENEVO_EFORMAT,
     "expected an integer >= 1 for out_channels, got '0'", NULL},
    {"layer:conv out_channels:8 kernel_size:3x input:-1", ENEVO_EFORMAT,
     "for kernel_size, got '3x'", NULL},
    {"layer:conv out_channels:99999999999999999999 kernel_size:3 input:-1", ENEVO_EFORMAT,
     "for out_channels, got '99999999999999999999'", NULL},
    {"layer:conv out_channels:8 kernel_size: input:-1", ENEVO_EFORMAT, "for kernel_size, got ''",
     NULL},
    {"layer:conv out_channels:8 kernel_size:3 padding:full input:-1", ENEVO_EFORMAT,
     "layer 0 (conv): expected padding:same|valid, got 'padding:full'", "t.phen:1:41: "},
    {"layer:conv out_channels:8 kernel_size:3 act:tanh input:-1", ENEVO_EFORMAT, "got 'act:tanh'",
     NULL},
    {"layer:conv out_channels:8 kernel_size:3 bias:yes input:-1", ENEVO_EFORMAT,
     "expected bias:True|False, got 'bias:yes'", NULL},
    {"layer:dropout rate:1 input:-1", ENEVO_EFORMAT, "in [0, 1) for rate, got '1'", NULL},
    {"layer:dropout rate:0.5.1 input:-1", ENEVO_EFORMAT, "for rate, got '0.5.1'", NULL},
    {"layer:fc out_features:2 input:-1 learning:adam lr:nan", ENEVO_EFORMAT,
     "> 0 for lr, got 'nan'", NULL},
    {"layer:fc out_features:2 input:-1 learning:adam lr:inf", ENEVO_EFORMAT, "for lr, got 'inf'",
     NULL},
    {"layer:fc out_features:2 input:-1 learning:adam lr:1e999", ENEVO_EFORMAT,
     "for lr, got '1e999'", NULL},
    {"layer:fc out_features:2 input:-1 learning:adam lr:-0.1", ENEVO_EFORMAT, "for lr, got '-0.1'",
     NULL},
    {"layer:fc out_features:2 input:-1 learning:adam beta2:1", ENEVO_EFORMAT,
     "in [0, 1) for beta2, got '1'", NULL},
    {"layer:fc out_features:2 input:-1 learning:rmsprop alpha:1.01", ENEVO_EFORMAT,
     "in [0, 1] for alpha, got '1.01'", NULL},
    {"layer:fc out_features:2 input:-1 learning:lars weight_decay:-1e-9", ENEVO_EFORMAT,
     ">= 0 for weight_decay", NULL},
    {"layer:fc out_features:2 input:-1 learning:lars momentum:1", ENEVO_EFORMAT,
     "in [0, 1) for momentum", NULL},
    {"layer:fc out_features:2 input:-1 learning:lars batch_size:1e3", ENEVO_EFORMAT,
     "expected an integer >= 1 for batch_size, got '1e3'", NULL},
    {"layer:fc out_features:2 input:-1 learning:lars epochs:0", ENEVO_EFORMAT,
     "for epochs, got '0'", NULL},
    {"layer:conv out_channels:8 input:-1\nlayer:fc out_features:10 input:0", ENEVO_EFORMAT,
     "layer 0 (conv): missing required key kernel_size", "t.phen:1:1: "},
    {"layer:conv out_channels:8 kernel_size:3 input:-1\n  layer:pool_max input:0", ENEVO_EFORMAT,
     "layer 1 (pool_max): missing required key kernel_size", "t.phen:2:3: "},
    {"layer:fc input:-1", ENEVO_EFORMAT, "missing required key out_features", NULL},
    {"layer:batch_norm", ENEVO_EFORMAT, "layer 0 (batch_norm): missing required key input", NULL},
    {"layer:fc out_features:2 input:-1 model_partition:_", ENEVO_EFORMAT,
     "model_partition: missing required key partition_point", NULL},
    {"layer:conv out_channels:8 kernel_size:3 input:-2", ENEVO_EFORMAT, "for input, got '-2'",
     NULL},
    {"layer:conv out_channels:8 kernel_size:3 input:0,,1", ENEVO_EFORMAT, "for input, got '0,,1'",
     NULL},
    {"layer:batch_norm input:-1,0,1,2,3,4,5,6,7", ENEVO_EFORMAT, "at most 8 input ids", NULL},
    {"layer:batch_norm input:-1,-1", ENEVO_EFORMAT, "input -1 listed twice", NULL},
    {"layer:conv out_channels:8 out_channels:9 kernel_size:3 input:-1", ENEVO_EFORMAT,
     "layer 0 (conv): duplicate key 'out_channels'", "t.phen:1:27: "},
    {"layer:fc out_features:2 input:-1 learning:adam lr:0.1 lr:0.2", ENEVO_EFORMAT,
     "learning (adam): duplicate key 'lr'", NULL},
    {"lr:0.1 layer:fc out_features:2 input:-1", ENEVO_EFORMAT,
     "expected layer:, learning: or model_partition: to start an entity, got 'lr:0.1'",
     "t.phen:1:1: "},
    {"layer:conv out_channels:8 kernel_size:3 relu input:-1", ENEVO_EFORMAT,
     "expected key:value, got 'relu'", NULL},
    {"layer:lstm units:3", ENEVO_EFORMAT,
     "expected layer:conv|pool_max|pool_avg|dropout|batch_norm|fc, got 'layer:lstm'", NULL},
    {"layer:fc out_features:2 input:-1 learning:sgd", ENEVO_EFORMAT,
     "expected learning:gradient_descent|adam|rmsprop|lars, got 'learning:sgd'", NULL},
    {"layer:fc out_features:2 input:-1 learning:adam learning:adam", ENEVO_EFORMAT,
     "expected one learning entity", "t.phen:1:48: "},
    {"layer:fc out_features:2 input:-1 model_partition:_ partition_point:0 model_partition:_ "
     "partition_point:0",
     ENEVO_EFORMAT, "expected one model_partition entity", NULL},
    {"layer:fc out_features:2 input:-1 model_partition:_ partition_point:-1", ENEVO_EFORMAT,
     "expected an integer >= 0 for partition_point", NULL},

    /* shape-check errors (input 1x28x28, 10 classes) */
    {"layer:conv out_channels:8 kernel_size:3 input:1 layer:fc out_features:10 input:0",
     ENEVO_ESHAPE, "layer 0 (conv): input 1 is not an earlier layer", NULL},
    {"layer:conv out_channels:8 kernel_size:3 input:-1 layer:conv out_channels:8 kernel_size:3 "
     "input:1 layer:fc out_features:10 input:1",
     ENEVO_ESHAPE, "layer 1 (conv): input 1 is not an earlier layer", NULL},
    {"layer:conv out_channels:8 kernel_size:3 input:-1 layer:conv out_channels:8 kernel_size:3 "
     "input:-1 layer:fc out_features:10 input:1",
     ENEVO_ESHAPE, "layers 0 and 2 are both unused outputs", NULL},
    {"layer:batch_norm input:-1 layer:batch_norm input:-1 layer:batch_norm input:-1 "
     "layer:fc out_features:10 input:2",
     ENEVO_ESHAPE, "layers 0, 1 and 3 are all unused outputs", NULL},
    {"layer:conv out_channels:10 kernel_size:3 input:-1", ENEVO_ESHAPE,
     "layer 0 (conv): the output layer must be an fc", NULL},
    {"layer:fc out_features:10 input:-1 layer:dropout input:0", ENEVO_ESHAPE,
     "layer 1 (dropout): the output layer must be an fc", NULL},
    {"layer:fc act:softmax out_features:5 input:-1", ENEVO_ESHAPE,
     "layer 0 (fc): the output layer has out_features:5, expected 10", NULL},
    {"layer:fc act:relu out_features:10 input:-1", ENEVO_ESHAPE,
     "layer 0 (fc): the output layer must have act softmax or linear, got act:relu", NULL},
    {"layer:pool_max kernel_size:5 input:-1 layer:pool_max kernel_size:5 stride:5 input:0 "
     "layer:pool_avg kernel_size:5 input:1 layer:fc out_features:10 input:2",
     ENEVO_ESHAPE, "layer 2 (pool_avg): kernel 5x5 (stride 1, valid) does not fit a 4x4 input",
     NULL},
    {"layer:fc act:softmax out_features:32 input:-1 layer:fc act:softmax out_features:10 input:0",
     ENEVO_ESHAPE, "layer 0 (fc): act:softmax is only allowed on the output layer", NULL},
    {"layer:conv out_channels:4 kernel_size:3 act:softmax input:-1 layer:fc out_features:10 "
     "input:0",
     ENEVO_ESHAPE, "layer 0 (conv): act:softmax is only allowed", NULL},
    {"layer:fc out_features:16 input:-1 layer:dropout input:0 layer:conv out_channels:4 "
     "kernel_size:1 input:1 layer:fc out_features:10 input:2",
     ENEVO_ESHAPE, "layer 2 (conv): conv after fc", NULL},
    {"layer:fc out_features:16 input:-1 layer:pool_max kernel_size:1 input:0 "
     "layer:fc out_features:10 input:1",
     ENEVO_ESHAPE, "layer 1 (pool_max): conv after fc", NULL},
    {"layer:conv out_channels:4 kernel_size:3 input:-1 layer:fc out_features:16 input:0 "
     "layer:batch_norm input:0,1 layer:fc out_features:10 input:2",
     ENEVO_ESHAPE, "layer 2 (batch_norm): cannot sum input 0 (a feature map) with input 1 (an fc",
     NULL},
    {"layer:fc out_features:10 input:-1 model_partition:_ partition_point:0", ENEVO_ESHAPE,
     "model_partition: partition_point 0", NULL},
    {"layer:conv out_channels:4 kernel_size:3 input:-1 layer:fc out_features:10 input:0 "
     "model_partition:_ partition_point:1",
     ENEVO_ESHAPE, "model_partition: expected partition_point in [0, 0], got 1", NULL},
    {"learning:adam lr:0.1", ENEVO_ESHAPE, "at least one layer", NULL},
};

static void malformed_inputs_are_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < ENEVO_COUNT(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct enevo_phenotype p;
        char err[ENEVO_ERR_LEN] = "";
        int rc = enevo_phenotype_parse(c->text, "t.phen", &p, err, sizeof err);
        if (c->rc == ENEVO_EFORMAT) {
            if (rc != ENEVO_EFORMAT)
                fail_msg("case %zu: parse returned %d, expected EFORMAT (%s)", i, rc, c->text);
            /* a failed parse leaves *out empty */
            assert_int_equal(p.n_layers, 0);
            assert_null(p.layers);
            assert_false(p.has_learning);
            assert_false(p.has_partition);
        } else {
            if (rc)
                fail_msg("case %zu: parse failed: %s", i, err);
            struct enevo_shape out[16];
            assert_true(p.n_layers <= 16);
            rc = enevo_phenotype_check(&p, SHAPE(1, 28, 28), 10, out, err, sizeof err);
            enevo_phenotype_free(&p);
            if (rc != c->rc)
                fail_msg("case %zu: check returned %d, expected %d (%s)", i, rc, c->rc, c->text);
        }
        if (!strstr(err, c->want))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err, c->want);
        if (c->at && strncmp(err, c->at, strlen(c->at)))
            fail_msg("case %zu: message '%s' does not start with '%s'", i, err, c->at);
    }
}

static void load_names_the_file(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN] = "";
    char path[512];
    snprintf(path, sizeof path, "%s/missing.phen", enevo_test_tmpdir());
    assert_int_equal(enevo_phenotype_load(path, &p, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, path));
    assert_int_equal(p.n_layers, 0);

    snprintf(path, sizeof path, "%s/bad.phen", enevo_test_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("layer:fc out_features:10 input:-1\nlearning:adam lr:zero\n", f);
    fclose(f);
    assert_int_equal(enevo_phenotype_load(path, &p, err, sizeof err), ENEVO_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:2:18: learning (adam): expected a number > 0 for lr", path);
    if (strncmp(err, want, strlen(want)))
        fail_msg("message '%s' does not start with '%s'", err, want);

    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("layer:fc\n  out\0_features:10", 1, 27, f);
    fclose(f);
    assert_int_equal(enevo_phenotype_load(path, &p, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, ":2:6: expected text, got a NUL byte"));
    remove(path);
}

/* ---- merges --------------------------------------------------------- */

static void merges_take_the_lowest_id_shape(void **state)
{
    (void)state;
    struct enevo_phenotype p;
    /* 0: 8x26x26; 1: pool 8x13x13; 2: sum(1, 0) -> shape of 0; 3: sum of
     * two fc outputs -> 32; 4: sum(-1, 0) -> the image shape. */
    parse_ok("layer:conv out_channels:8 kernel_size:3 input:-1 "
             "layer:pool_max kernel_size:2 stride:2 input:0 "
             "layer:batch_norm input:1,0 "
             "layer:fc out_features:32 input:2 "
             "layer:conv out_channels:5 kernel_size:28 input:0,-1 "
             "layer:fc out_features:32 input:4 "
             "layer:dropout rate:0.25 input:5,3 "
             "layer:fc out_features:10 input:6",
             &p);
    struct enevo_shape out[8];
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_phenotype_check(&p, SHAPE(1, 28, 28), 10, out, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_shape(out[0], 8, 26, 26);
    assert_shape(out[1], 8, 13, 13);
    assert_shape(out[2], 8, 26, 26);
    assert_shape(out[3], 32, 1, 1);
    assert_shape(out[4], 5, 1, 1);
    assert_shape(out[5], 32, 1, 1);
    assert_shape(out[6], 32, 1, 1);
    assert_shape(out[7], 10, 1, 1);
    enevo_phenotype_free(&p);
}

/* ---- geometry ------------------------------------------------------- */

static void out_size_table(void **state)
{
    (void)state;
    static const struct {
        enum enevo_layer_kind kind;
        enum enevo_padding pad;
        int k, s, n;
        int out, pl, pr;
    } rows[] = {
        /* conv valid: floor((n-k)/s)+1 */
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 3, 1, 28, 26, 0, 0},
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 5, 2, 28, 12, 0, 0},
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 2, 2, 7, 3, 0, 0},
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 4, 1, 4, 1, 0, 0},
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 4, 1, 3, 0, 0, 0},
        {ENEVO_LAYER_CONV, ENEVO_PAD_VALID, 1, 3, 1, 1, 0, 0},
        /* conv same: n kept, stride forced to 1, PyTorch split (extra right) */
        {ENEVO_LAYER_CONV, ENEVO_PAD_SAME, 3, 1, 28, 28, 1, 1},
        {ENEVO_LAYER_CONV, ENEVO_PAD_SAME, 2, 3, 12, 12, 0, 1},
        {ENEVO_LAYER_CONV, ENEVO_PAD_SAME, 4, 2, 5, 5, 1, 2},
        {ENEVO_LAYER_CONV, ENEVO_PAD_SAME, 5, 1, 2, 2, 2, 2},
        {ENEVO_LAYER_CONV, ENEVO_PAD_SAME, 1, 1, 9, 9, 0, 0},
        /* pool valid */
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_VALID, 2, 2, 28, 14, 0, 0},
        {ENEVO_LAYER_POOL_AVG, ENEVO_PAD_VALID, 3, 2, 28, 13, 0, 0},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_VALID, 5, 1, 4, 0, 0, 0},
        /* pool same: ceil(n/s), TF split (extra right) */
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 2, 2, 28, 14, 0, 0},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 3, 2, 28, 14, 0, 1},
        {ENEVO_LAYER_POOL_AVG, ENEVO_PAD_SAME, 2, 2, 7, 4, 0, 1},
        {ENEVO_LAYER_POOL_AVG, ENEVO_PAD_SAME, 4, 1, 5, 5, 1, 2},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 5, 3, 2, 1, 1, 2},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 2, 3, 8, 3, 0, 0},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 2, 3, 7, 3, 0, 1},
        {ENEVO_LAYER_POOL_MAX, ENEVO_PAD_SAME, 4, 3, 1, 1, 1, 2},
        /* shape-keeping layers */
        {ENEVO_LAYER_DROPOUT, ENEVO_PAD_VALID, 0, 1, 9, 9, 0, 0},
        {ENEVO_LAYER_BATCH_NORM, ENEVO_PAD_VALID, 0, 1, 9, 9, 0, 0},
    };
    for (size_t i = 0; i < ENEVO_COUNT(rows); i++) {
        struct enevo_layer_spec l = {.kind = rows[i].kind,
                                     .padding = rows[i].pad,
                                     .kernel_size = rows[i].k,
                                     .stride = rows[i].s};
        int pl = -7, pr = -7;
        int o = enevo_layer_out_size(&l, rows[i].n, &pl, &pr);
        if (o != rows[i].out || pl != rows[i].pl || pr != rows[i].pr)
            fail_msg("row %zu: got out %d pads %d,%d; expected %d pads %d,%d", i, o, pl, pr,
                     rows[i].out, rows[i].pl, rows[i].pr);
        assert_int_equal(enevo_layer_out_size(&l, rows[i].n, NULL, NULL), rows[i].out);
    }
}

static void effective_stride_and_names(void **state)
{
    (void)state;
    struct enevo_layer_spec l = {.kind = ENEVO_LAYER_CONV, .stride = 3, .padding = ENEVO_PAD_SAME};
    assert_int_equal(enevo_layer_effective_stride(&l), 1);
    l.padding = ENEVO_PAD_VALID;
    assert_int_equal(enevo_layer_effective_stride(&l), 3);
    l.kind = ENEVO_LAYER_POOL_MAX;
    l.padding = ENEVO_PAD_SAME;
    assert_int_equal(enevo_layer_effective_stride(&l), 3);

    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_CONV), "conv");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_POOL_MAX), "pool_max");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_POOL_AVG), "pool_avg");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_DROPOUT), "dropout");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_BATCH_NORM), "batch_norm");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER_FC), "fc");
    assert_string_equal(enevo_layer_kind_name(ENEVO_LAYER__COUNT), "?");
    assert_string_equal(enevo_act_name(ENEVO_ACT_LINEAR), "linear");
    assert_string_equal(enevo_act_name(ENEVO_ACT_SOFTMAX), "softmax");
    assert_string_equal(enevo_optimizer_name(ENEVO_OPT_SGD), "gradient_descent");
    assert_string_equal(enevo_optimizer_name(ENEVO_OPT_LARS), "lars");
}

const struct CMUnitTest enevo_tests_phenotype[] = {
    cmocka_unit_test(fixture1_parses),
    cmocka_unit_test(fixture1_check_rejects_layer5),
    cmocka_unit_test(fixture2_checks),
    cmocka_unit_test(phenotype_files_load_and_round_trip),
    cmocka_unit_test(bench_medium_parses),
    cmocka_unit_test(bench_medium_checks),
    cmocka_unit_test(tokens_split_by_any_whitespace),
    cmocka_unit_test(defaults_fill_unset_keys),
    cmocka_unit_test(round_trip_is_exact),
    cmocka_unit_test(format_uses_energize_spelling),
    cmocka_unit_test(malformed_inputs_are_rejected),
    cmocka_unit_test(load_names_the_file),
    cmocka_unit_test(merges_take_the_lowest_id_shape),
    cmocka_unit_test(out_size_table),
    cmocka_unit_test(effective_stride_and_names),
};
const size_t enevo_tests_phenotype_count = ENEVO_COUNT(enevo_tests_phenotype);
