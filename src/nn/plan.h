/* src/nn/plan.h — the backend-independent description of a network: the
 * phenotype's layers plus any shape-fix layers, with shapes, padding and
 * offsets into the flat parameter and statistics blocks. Backends build
 * their executors from it. Internal. */
#ifndef ENEVO_PLAN_H
#define ENEVO_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "enevo/phenotype.h"

struct enevo_plan_node {
    struct enevo_layer_spec spec; /* kind, sizes, act, bias; inputs unused */
    int stride, pad_l, pad_r;     /* effective, same for both spatial axes */
    int n_in;
    int in[ENEVO_MAX_INPUTS];     /* plan node indices; -1 = the image */
    struct enevo_shape in_shape, out_shape;
    bool in_is_flat;              /* input comes from an fc (a [N, C] tensor) */
    size_t w_off, w_count;        /* conv/fc weights, bn scale */
    size_t b_off, b_count;        /* bias, bn shift (count 0 = none) */
    size_t s_off, s_count;        /* bn running mean then variance */
    int phen_id;                  /* phenotype layer id; -1 for a fix layer, -2 for the
                                     partition head */
    int n_consumers;
    double flops;                 /* forward FLOPs per image */
};

struct enevo_plan {
    int n;
    struct enevo_plan_node *nodes; /* topological: every input precedes its consumer */
    struct enevo_shape input;
    int n_classes;
    int output;                    /* plan index of the output fc */
    int output2;                   /* the model partition's second head; -1 = none */
    int partition_node;            /* plan index of the layer that feeds it */
    size_t n_params, n_stats;
    double flops;
    double act_bytes; /* activations read and written per image, forward (fp32) */
};

struct enevo_net;
/* The plan a network was built from (src/nn/net.c). */
const struct enevo_plan *enevo__net_plan(const struct enevo_net *net);

int enevo_plan_build(const struct enevo_phenotype *p, struct enevo_shape input, int n_classes,
                     struct enevo_plan *out, char *err, size_t errlen);
void enevo_plan_free(struct enevo_plan *plan);

/* An upper estimate of the bytes a network of this plan allocates for a
 * batch (activations, their gradients, reorders, parameters, optimiser
 * state), used to refuse a candidate before allocating it
 * (evolutionary.max_memory_mb). The test compares it with the real arena. */
double enevo__plan_memory(const struct enevo_plan *plan, int batch, bool training);

#endif
