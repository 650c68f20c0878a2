/* enevo/partition.h — two models from one training (ENERGIZE.md §3).
 *
 * A phenotype with `model_partition:... partition_point:k` gets a second
 * output head (flatten + fc softmax) fed by evolved layer k; one forward
 * pass computes both heads, the loss is L0 + w1 L1, one backward pass trains
 * both into the shared trunk (enevo/net.h). After training:
 *
 *     struct enevo_extracted m1;
 *     enevo_partition_extract(&phen, net, 1, &m1, err, sizeof err);
 *     ... m1.phenotype, m1.params [m1.n_params], m1.stats [m1.n_stats] ...
 *     enevo_extracted_free(&m1);
 *
 * Model 0 is the full network without the extra head; model 1 is every
 * layer the extra head depends on, plus the head as its output layer. Each
 * is an ordinary network: its phenotype plans to a parameter block laid out
 * exactly as the copied one, and it gives the same outputs as the
 * corresponding head of the two-headed network.
 */
#ifndef ENEVO_PARTITION_H
#define ENEVO_PARTITION_H

#include "enevo/api.h"

#include <stddef.h>

#include "enevo/error.h"
#include "enevo/net.h"
#include "enevo/phenotype.h"

struct enevo_extracted {
    struct enevo_phenotype phenotype; /* owns its layers; free with enevo_extracted_free */
    float *params;
    size_t n_params;
    float *stats;
    size_t n_stats;
};

/* which: 0 (full model) or 1 (early-exit model). net must be built from p. */
ENEVO_API int enevo_partition_extract(const struct enevo_phenotype *p, struct enevo_net *net,
                                      int which, struct enevo_extracted *out, char *err,
                                      size_t errlen);
ENEVO_API void enevo_extracted_free(struct enevo_extracted *e);

#endif
