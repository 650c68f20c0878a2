/* src/export/export_internal.h — what the ONNX and C writers share: the
 * model file planned, the nodes of the one model being exported, and where
 * each tensor lives in a per-image arena. Internal. */
#ifndef ENEVO_EXPORT_INTERNAL_H
#define ENEVO_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "enevo/export.h"
#include "enevo/phenotype.h"
#include "export/pb.h"
#include "nn/plan.h"

#define ENEVO_EXPORT_IMAGE (-1) /* tensor id of the network input */

/* One activation buffer in the arena. */
struct enevo__xtensor {
    size_t elems;      /* floats (one image) */
    int first, last;   /* steps (plan node indices) it is live between, inclusive */
    size_t off;        /* float offset in the arena */
};

struct enevo__xnet {
    const struct enevo_model_file *m;
    struct enevo_phenotype phen;
    struct enevo_plan plan;
    int which;   /* 0, or 1 for the early exit of a partition */
    int out;     /* plan node of this model's output head */
    bool *keep;  /* [plan.n]: the node belongs to this model */
    int *dst;    /* [plan.n]: tensor the node's output is in (dropout: its input's) */
    int *sum;    /* [plan.n]: tensor of the merged (summed) input, or -1 */
    struct enevo__xtensor *t;
    int n_t;
    size_t arena_floats;
    double flops;
};

/* Parse and plan m, select model `which`, plan the arena. Messages name
 * the model file (m's source is not known: "the model"). */
int enevo__xnet_init(struct enevo__xnet *x, const struct enevo_model_file *m, int which,
                     char *err, size_t errlen);
void enevo__xnet_free(struct enevo__xnet *x);

/* The tensor a node reads as input k (after dropout aliases): a tensor id,
 * or ENEVO_EXPORT_IMAGE. */
int enevo__xnet_src(const struct enevo__xnet *x, int node, int k);

/* "layer 3 (pool_max)", "shape-fix conv before layer 4", "partition head". */
void enevo__xnet_node_name(const struct enevo__xnet *x, int node, char *buf, size_t n);

/* Channel c's input normalisation: m's per-channel values when it has them
 * (norm_c == in_c), else its scalar mean and std (norm_c 0: every channel). */
void enevo__xnet_norm(const struct enevo_model_file *m, int c, float *mean, float *std);
/* The in_c channels' means (stds when `std`) as "%.9g" (exact for a float),
 * each followed by `suffix` (when there is one, a number without a point
 * gets ".0": "1.0f"), joined by `sep`: "0.49,0.48,0.45". malloc'd
 * (caller frees); NULL when out of memory. */
char *enevo__xnet_norm_list(const struct enevo_model_file *m, bool std, const char *sep,
                            const char *suffix);

/* ONNX's limits on one plan node (ONNX Runtime requires pooling pads
 * smaller than the kernel, for one): 0 or ENEVO_EUNSUPPORTED naming it. */
int enevo__onnx_check_node(const struct enevo__xnet *x, int node, char *err, size_t errlen);

int enevo__onnx_write(const struct enevo__xnet *x, const struct enevo_export_opts *o,
                      struct enevo_pb *out, struct enevo_export_info *info, char *err,
                      size_t errlen);
int enevo__c_write(const struct enevo__xnet *x, const struct enevo_export_opts *o,
                   const char *prefix, const char *header_name, char **c_text, char **h_text,
                   struct enevo_export_info *info, char *err, size_t errlen);

#endif
