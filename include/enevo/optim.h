/* enevo/optim.h — optimisers over one flat parameter block.
 *
 *     struct enevo_param_seg segs[] = {{0, 288, false}, {288, 32, true}, ...};
 *     struct enevo_optim o;
 *     enevo_optim_init(&o, &phen.learning, n_params, segs, n_segs, err, sizeof err);
 *     ... after backward: enevo_optim_step(&o, params, grads);
 *     enevo_optim_free(&o);
 *
 * Semantics follow PyTorch's (weight_decay as L2 added to the gradient):
 *  - gradient_descent: torch.optim.SGD (momentum buffer starts at the first
 *    gradient, dampening 0, nesterov optional);
 *  - adam: torch.optim.Adam (eps 1e-8, bias correction);
 *  - rmsprop: torch.optim.RMSprop (eps 1e-8, not centred, no momentum);
 *  - lars: ENERGIZE's LARS (eta 0.001; weight decay and the trust ratio are
 *    skipped for 1-D segments, i.e. biases and batch-norm parameters;
 *    lr_weights for weights, lr_biases for 1-D segments, both scaled by
 *    batch_size / 256).
 */
#ifndef ENEVO_OPTIM_H
#define ENEVO_OPTIM_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"
#include "enevo/phenotype.h"

/* One parameter tensor inside the flat block. */
struct enevo_param_seg {
    size_t offset, count;
    bool is_1d; /* biases, batch-norm scale/shift */
};

struct enevo_optim {
    struct enevo_learning_spec spec;
    size_t n;
    struct enevo_param_seg *segs; /* owned copy */
    int n_segs;
    float *state;  /* owned: optimiser state, state_floats(spec) * n floats */
    int64_t t;     /* steps taken */
};

ENEVO_API int enevo_optim_init(struct enevo_optim *o, const struct enevo_learning_spec *spec,
                               size_t n, const struct enevo_param_seg *segs, int n_segs, char *err,
                               size_t errlen);
/* One update: params -= f(grads, state). grads is read only. */
ENEVO_API void enevo_optim_step(struct enevo_optim *o, float *params, const float *grads);
/* Floats of state per parameter (0, 1 or 2), for checkpoints. */
ENEVO_API int enevo_optim_state_floats(const struct enevo_learning_spec *spec);
ENEVO_API void enevo_optim_free(struct enevo_optim *o);

#endif
