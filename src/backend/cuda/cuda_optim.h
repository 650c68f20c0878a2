/* src/backend/cuda/cuda_optim.h — enevo_optim_step on the GPU: a device copy
 * of the optimiser state and one capturable update per step. Internal.
 *
 *     struct cuda_optim *co;
 *     if (cuda_optim_create(&o, &co, err, sizeof err)) ...;
 *     ... per step: ++*t_dev on the device, then
 *     cuda_optim_step(co, d_params, d_grads, t_dev, stream);
 *     cuda_optim_download(co, &o, err, sizeof err); o.t = steps taken;
 *     cuda_optim_free(co);
 */
#ifndef ENEVO_CUDA_OPTIM_H
#define ENEVO_CUDA_OPTIM_H

#include <stddef.h>

#include <cuda_runtime.h>

/* The enevo headers carry no extern "C" of their own. */
#ifdef __cplusplus
extern "C" {
#endif

#include "enevo/error.h"
#include "enevo/optim.h"

struct cuda_optim;

/* Allocates (cudaMalloc) the device copy of o's state and the LARS segment
 * tables, and uploads o->state. The hyperparameters and segments are copied:
 * o need not outlive *out. On success *out is owned by the caller
 * (cuda_optim_free); 0 or a negative ENEVO_E* status with a message in err. */
int cuda_optim_create(const struct enevo_optim *o, struct cuda_optim **out, char *err,
                      size_t errlen);
/* Upload o->state again (the host changed it). Synchronises the device first. */
int cuda_optim_upload(struct cuda_optim *co, const struct enevo_optim *o, char *err, size_t errlen);
/* One update enqueued on `stream`: params -= f(grads, state), as
 * enevo_optim_step. *t_dev is this step's 1-based number (o->t + 1 inside
 * enevo_optim_step, which increments o->t after the update), read by the
 * kernels, so the call may be captured in a CUDA graph and replayed. No
 * allocation, synchronisation or host read; launch errors are left to the
 * caller's cudaGetLastError. */
void cuda_optim_step(struct cuda_optim *co, float *params, const float *grads,
                     const long long *t_dev, cudaStream_t stream);
/* Copy the device state into o->state (synchronises the device first). t is
 * the caller's business. */
int cuda_optim_download(struct cuda_optim *co, struct enevo_optim *o, char *err, size_t errlen);
void cuda_optim_free(struct cuda_optim *co);
/* Device bytes held. */
size_t cuda_optim_bytes(const struct cuda_optim *co);

#ifdef __cplusplus
}
#endif

#endif
