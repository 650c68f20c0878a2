/* src/backend/backend.h — what a compute backend provides: an executor for
 * a planned network. Parameters, gradients and statistics stay in the
 * caller's flat host blocks (backends that keep device copies sync them).
 * Internal. */
#ifndef ENEVO_BACKEND_H
#define ENEVO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/net.h"
#include "nn/plan.h"

struct enevo_backend {
    const char *name;
    /* params, grads (NULL unless training) and stats are the caller's flat
     * blocks; they must stay at the same address for the executor's life. */
    int (*create)(const struct enevo_plan *plan, const struct enevo_net_opts *opts, float *params,
                  float *grads, float *stats, void **impl, char *err, size_t errlen);
    void (*destroy)(void *impl);
    /* x [batch, c, h, w] NCHW; logits out [batch, classes]. In training,
     * updates the batch-norm running statistics. */
    /* params_changed: the parameter block was written since the last call
     * (a backend may cache weights in its own formats until then). */
    int (*forward)(void *impl, const float *x, bool train, uint64_t dropout_key,
                   bool params_changed, float *logits, float *logits2);
    /* dlogits [batch, classes] for the output (and the partition head, when
     * the plan has one); overwrites every gradient. */
    int (*backward)(void *impl, const float *dlogits, const float *dlogits2);
    size_t (*arena_bytes)(void *impl);
};

/* The registry: "cpu" always; "cuda" when built with CUDA=1. NULL if unknown. */
const struct enevo_backend *enevo_backend_get(const char *name);

extern const struct enevo_backend enevo_backend_cpu;

#endif
