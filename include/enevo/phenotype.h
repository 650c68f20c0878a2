/* enevo/phenotype.h — ENERGIZE phenotype strings <-> a plain description.
 *
 * The phenotype string is the one boundary between the search and the
 * network. One entity per `layer:`/`learning:`/`model_partition:` token,
 * tokens `key:value` separated by any whitespace:
 *
 *     layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1
 *     layer:pool_max kernel_size:2 stride:2 padding:valid input:0
 *     layer:fc act:softmax out_features:10 bias:True input:1
 *     learning:gradient_descent lr:0.01 momentum:0.9 weight_decay:0 nesterov:False
 *         early_stop:5 batch_size:64 epochs:10
 *
 *     struct enevo_phenotype p;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_phenotype_parse(text, "small.phen", &p, err, sizeof err)) ...
 *     struct enevo_shape shapes[p.n_layers];
 *     if (enevo_phenotype_check(&p, (struct enevo_shape){1, 28, 28}, 10, shapes, err, sizeof err)) ...
 *     enevo_phenotype_free(&p);
 *
 * Layers get ids 0..n-1 in order of appearance; `input:-1` is the image;
 * `input:1,3` (several ids) sums the inputs. The output layer is the one
 * layer no other layer consumes.
 */
#ifndef ENEVO_PHENOTYPE_H
#define ENEVO_PHENOTYPE_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>

#include "enevo/error.h"

#define ENEVO_MAX_INPUTS 8

enum enevo_layer_kind {
    ENEVO_LAYER_CONV,
    ENEVO_LAYER_POOL_MAX,
    ENEVO_LAYER_POOL_AVG,
    ENEVO_LAYER_DROPOUT,
    ENEVO_LAYER_BATCH_NORM,
    ENEVO_LAYER_FC,
    ENEVO_LAYER__COUNT
};

enum enevo_act { ENEVO_ACT_LINEAR, ENEVO_ACT_RELU, ENEVO_ACT_SIGMOID, ENEVO_ACT_SOFTMAX };
enum enevo_padding { ENEVO_PAD_VALID, ENEVO_PAD_SAME };

/* One `layer:` entity. Fields a kind does not use keep their defaults. */
struct enevo_layer_spec {
    enum enevo_layer_kind kind;
    int out_channels;           /* conv */
    int out_features;           /* fc */
    int kernel_size;            /* conv, pool */
    int stride;                 /* conv, pool (as written; see effective_stride) */
    enum enevo_padding padding; /* conv, pool */
    enum enevo_act act;         /* conv, fc (default linear) */
    bool bias;                  /* conv, fc (default true) */
    float rate;                 /* dropout, in [0, 1) */
    int n_inputs;
    int inputs[ENEVO_MAX_INPUTS]; /* layer ids; -1 = the network input */
    int line, col;                /* where the entity starts in the text (1-based) */
};

enum enevo_optimizer {
    ENEVO_OPT_SGD, /* learning:gradient_descent */
    ENEVO_OPT_ADAM,
    ENEVO_OPT_RMSPROP,
    ENEVO_OPT_LARS,
};

/* The `learning:` entity. Unset values get the defaults of
 * enevo_learning_defaults (PyTorch's defaults; batch 64, 10 epochs, patience 5). */
struct enevo_learning_spec {
    enum enevo_optimizer optimizer;
    double lr;           /* sgd, adam, rmsprop */
    double momentum;     /* sgd, lars */
    double weight_decay; /* all */
    bool nesterov;       /* sgd */
    double beta1, beta2; /* adam */
    double alpha;        /* rmsprop */
    double lr_weights;   /* lars */
    double lr_biases;    /* lars */
    int early_stop;      /* patience in epochs */
    int batch_size;
    int epochs;
};

struct enevo_phenotype {
    int n_layers;
    struct enevo_layer_spec *layers; /* owned; n_layers entries */
    bool has_learning;
    struct enevo_learning_spec learning;
    bool has_partition;  /* a model_partition: entity was present */
    int partition_point; /* evolved layer id of the second head; -1 if none */
    /* weight of the second head's loss (w1 in w0 L0 + w1 L1, w0 = 1); the
     * optional key `weight:` of the entity, so a grammar may evolve it */
    bool has_partition_weight;
    double partition_weight;
};

/* Channels x height x width of a layer's output; fc outputs are {F, 1, 1}. */
struct enevo_shape {
    int c, h, w;
};

ENEVO_API void enevo_learning_defaults(struct enevo_learning_spec *l);

/* Parse `text`. `source` names the text in messages ("small.phen"), which
 * give line and column: "small.phen:1:87: layer 2 (conv): expected
 * padding:same|valid, got 'padding:full'". On success *out owns its layers
 * (free with enevo_phenotype_free); on failure *out is left empty. */
ENEVO_API int enevo_phenotype_parse(const char *text, const char *source,
                                    struct enevo_phenotype *out, char *err, size_t errlen);

/* Read a whole file and parse it; messages name the file. */
ENEVO_API int enevo_phenotype_load(const char *path, struct enevo_phenotype *out, char *err,
                                   size_t errlen);

ENEVO_API void enevo_phenotype_free(struct enevo_phenotype *p);

/* Symbolic shape check, before any allocation: input ids exist and point
 * backwards (a DAG), exactly one output layer and it is an fc with
 * `n_classes` outputs and act softmax or linear, no softmax elsewhere, conv
 * and pool never shrink a map below 1x1, no conv/pool after an fc, merged
 * inputs are compatible (after the shape-fix rules), partition_point in
 * range. Fills out[i] with layer i's output shape. Messages name the layer:
 * "layer 5 (conv): kernel 4x4 does not fit a 2x2 input". */
ENEVO_API int enevo_phenotype_check(const struct enevo_phenotype *p, struct enevo_shape input,
                                    int n_classes, struct enevo_shape *out, char *err,
                                    size_t errlen);

/* The stride a layer really runs with: ENERGIZE runs every padding:same
 * conv with stride 1 (PyTorch has no strided "same"); enevo does the same so
 * a phenotype means the same network in both tools. */
ENEVO_API int enevo_layer_effective_stride(const struct enevo_layer_spec *l);

/* Output spatial size of conv/pool along one axis, or 0 when it does not fit.
 * valid: floor((n - k) / s) + 1. same: conv keeps n (stride 1); pool gives
 * ceil(n / s) with zero padding split as TensorFlow does (extra on the
 * right/bottom). Also returns the padding in *pad_l / *pad_r (may be NULL). */
ENEVO_API int enevo_layer_out_size(const struct enevo_layer_spec *l, int n, int *pad_l, int *pad_r);

/* Canonical text of a phenotype (one entity per line), malloc'd; caller frees. */
ENEVO_API char *enevo_phenotype_format(const struct enevo_phenotype *p);

ENEVO_API const char *enevo_layer_kind_name(enum enevo_layer_kind k); /* "conv", "pool_max", ... */
ENEVO_API const char *enevo_act_name(enum enevo_act a);               /* "linear", ... */
ENEVO_API const char *enevo_optimizer_name(enum enevo_optimizer o);   /* "gradient_descent", ... */

#endif
