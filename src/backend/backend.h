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
#include "enevo/optim.h"
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

    /* Optional hooks of a device backend (all NULL on the CPU, where
     * src/nn/net.c runs the host loops). Between push and pull the device
     * copies of the parameters and statistics are the current ones. */
    /* Whether device `index` is usable: 0 and a description, or an error. */
    int (*probe)(int index, char *desc, size_t desclen, char *err, size_t errlen);
    int (*push)(void *impl); /* host params + stats -> device */
    int (*pull)(void *impl); /* device params + stats -> host */
    int (*bind_data)(void *impl, int slot, const float *x, const uint8_t *y, int n, char *err,
                     size_t errlen);
    /* See enevo_net_train_steps. */
    int (*train_steps)(void *impl, struct enevo_optim *o, const int *order, const uint64_t *keys,
                       int steps, double head_weight, double *loss_sum);
    int (*pull_optim)(void *impl, struct enevo_optim *o);
    /* Sums over the bound set: per-row loss of each head, hits of each head,
     * weighted per-row loss. */
    int (*evaluate)(void *impl, int slot, double head_weight, double loss_sum[2], int correct[2],
                    double *weighted_sum);
    int (*forward_again)(void *impl);
    int (*sync)(void *impl);
    /* Optional: the kernels the backend chose (see enevo_net_kernels):
     * fills out[0 .. min(n, max) - 1], returns n. Kept last: cuda_net.cu
     * initialises this struct by position. */
    int (*kernels)(void *impl, struct enevo_kernel *out, int max);
    /* Optional: free and total memory of device `index` in bytes. */
    int (*memory)(int index, double *free_bytes, double *total_bytes);
};

/* The registry: "cpu" always; "cuda" when built with CUDA=1. NULL if unknown. */
const struct enevo_backend *enevo_backend_get(const char *name);

extern const struct enevo_backend enevo_backend_cpu;

/* Memory a network on `device` (a resolved name) may use, in bytes, for
 * evolutionary.max_memory_mb's auto: 3/4 of the machine's memory (or of the
 * cgroup's limit, when lower) on the CPU; the device's free memory on a
 * GPU. `what` says which it is. 0 when it cannot be told. */
double enevo__device_memory(const char *device, char *what, size_t len);

#endif
