/* enevo/net.h — a trainable network built from a phenotype.
 *
 *     struct enevo_net *net;
 *     char err[ENEVO_ERR_LEN];
 *     struct enevo_net_opts o = {.batch = 64, .training = true, .threads = 2};
 *     if (enevo_net_create(&phen, (struct enevo_shape){1, 28, 28}, 10, &o, &net, err, sizeof err)) ...
 *     enevo_rng r; enevo_rng_seed(&r, seed, ENEVO_STREAM_INIT);
 *     enevo_net_init_params(net, &r);
 *     enevo_net_forward(net, x, true, step_key);      // x: [batch, c, h, w]
 *     float loss = enevo_net_loss(net, labels, batch); // fused softmax + CE
 *     enevo_net_backward(net);                         // fills enevo_net_grads()
 *     enevo_net_free(net);
 *
 * The network owns one flat block of parameters (and one of gradients), laid
 * out layer by layer in phenotype order: conv weights [O, I, K, K] then bias
 * [O]; fc weights [O, C*H*W] (NCHW flatten order) then bias [O]; batch-norm
 * scale [C] then shift [C]. Batch-norm running mean [C] and variance [C] live
 * in a separate statistics block. A shape-fix convolution that a sum-merge
 * needs is a real layer with its own parameters, placed right before the
 * layer that merges its output. The layout does not depend on the backend, so model files move
 * between CPU and GPU.
 */
#ifndef ENEVO_NET_H
#define ENEVO_NET_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"

struct enevo_net;

struct enevo_net_opts {
    int batch;     /* images per forward pass (fixed for the net's life) */
    bool training; /* allocate gradients and backward primitives */
    int threads;   /* 0 = leave the OpenMP default */
    /* "cpu" (also NULL or ""), "cuda" (= "cuda:0"), "cuda:N", or "auto"
     * (cuda:0 when enevo was built with CUDA=1 and a GPU is usable, else cpu). */
    const char *device;
    /* GPU only: let cuDNN convolutions use TF32 tensor cores (PyTorch's
     * default; ~1e-3 relative error). Off: strict fp32 everywhere. */
    bool tf32;
};

/* Resolve a device name: 0 and the canonical name ("cpu", "cuda:0") in
 * `resolved` (may be NULL), with a description ("NVIDIA H100 80GB HBM3",
 * "CPU, 2 threads") in `desc` (may be NULL); or an error saying why the
 * device is not usable ("enevo was built without CUDA: rebuild with make
 * CUDA=1", "no CUDA device: ...", "unknown device 'gpu': expected cpu,
 * cuda, cuda:N or auto"). "auto" never fails. */
ENEVO_API int enevo_device_resolve(const char *device, char *resolved, size_t rlen, char *desc,
                                   size_t desclen, char *err, size_t errlen);

ENEVO_API int enevo_net_create(const struct enevo_phenotype *p, struct enevo_shape input,
                               int n_classes, const struct enevo_net_opts *opts,
                               struct enevo_net **out, char *err, size_t errlen);
ENEVO_API void enevo_net_free(struct enevo_net *net);

/* He-normal for layers followed by relu, Glorot-uniform otherwise; biases
 * and shifts 0, batch-norm scales 1, running variance 1. */
ENEVO_API void enevo_net_init_params(struct enevo_net *net, enevo_rng *rng);

/* Forward pass on batch images x [batch, c, h, w] (NCHW floats). `train`
 * selects batch statistics and dropout; `dropout_key` makes the dropout masks
 * (a function of the key and the element, so independent of thread count).
 * Returns 0 or a negative status. */
ENEVO_API int enevo_net_forward(struct enevo_net *net, const float *x, bool train,
                                uint64_t dropout_key);
/* Logits of the last forward pass, [batch, n_classes], owned by the net. */
ENEVO_API const float *enevo_net_logits(const struct enevo_net *net);
/* Fused, stable softmax + cross-entropy over the first n rows (n <= batch);
 * returns the mean loss and keeps d loss / d logits for backward. Rows >= n
 * get zero gradient. If correct != NULL, counts argmax hits into it (head 0).
 * With a model partition the loss is w0 L0 + w1 L1 (w0 = 1, w1 the
 * phenotype's partition weight) and one backward pass trains both heads. */
ENEVO_API double enevo_net_loss(struct enevo_net *net, const uint8_t *labels, int n, int *correct);
/* The same, with each head's mean loss and hits (loss[1] NaN, correct[1]
 * untouched, without a partition). Returns the weighted total. */
ENEVO_API double enevo_net_loss_heads(struct enevo_net *net, const uint8_t *labels, int n,
                                      double loss[2], int correct[2]);
/* 2 with a model partition (a second output head), else 1. */
ENEVO_API int enevo_net_heads(const struct enevo_net *net);
/* The second head's logits of the last forward, or NULL. */
ENEVO_API const float *enevo_net_logits2(const struct enevo_net *net);
ENEVO_API void enevo_net_set_head_weight(struct enevo_net *net, double w);
/* Backward pass of the last training forward; overwrites the gradients. */
ENEVO_API int enevo_net_backward(struct enevo_net *net);

/* The writable parameter block. Asking for it tells the net the weights may
 * change: an inference net converts them to its kernels' formats once, at
 * the next forward, and keeps them until this is called again. So write
 * through a pointer from a fresh call, not one kept across forwards. */
ENEVO_API float *enevo_net_params(struct enevo_net *net);
ENEVO_API float *enevo_net_grads(struct enevo_net *net);
ENEVO_API size_t enevo_net_param_count(const struct enevo_net *net);
ENEVO_API float *enevo_net_stats(struct enevo_net *net);
ENEVO_API size_t enevo_net_stats_count(const struct enevo_net *net);
/* Parameter tensors, for optimisers (LARS treats 1-D segments apart). */
ENEVO_API const struct enevo_param_seg *enevo_net_segments(const struct enevo_net *net, int *n);
/* Forward FLOPs per image (a multiply-add counts 2). */
ENEVO_API double enevo_net_flops(const struct enevo_net *net);
/* Bytes a forward pass of one batch moves: every layer's activations read
 * and written (fp32), plus the weights once. For the energy model. */
ENEVO_API double enevo_net_bytes_per_batch(const struct enevo_net *net);
ENEVO_API int enevo_net_batch(const struct enevo_net *net);
ENEVO_API int enevo_net_classes(const struct enevo_net *net);
ENEVO_API struct enevo_shape enevo_net_input_shape(const struct enevo_net *net);
/* Bytes of activations, workspaces and scratchpad the backend holds. */
ENEVO_API size_t enevo_net_arena_bytes(const struct enevo_net *net);
/* The device the net runs on, resolved ("cpu", "cuda:0"). */
ENEVO_API const char *enevo_net_device(const struct enevo_net *net);

/* One primitive of the net's executor and the implementation the library
 * chose for it (oneDNN on the CPU: "jit:avx512_core", "brgconv:avx2",
 * "x64:gemm:jit", "ref:any"...). A reference implementation is a slow path:
 * oneDNN's portable loops, often 10-1000x slower than its JIT kernels. */
struct enevo_kernel {
    int node;        /* plan node (see enevo_net_describe_node); -1 = the net */
    char op[64];     /* "convolution backward_weights", "reorder", "sum" */
    char impl[64];
    bool reference;
};
/* The instruction set oneDNN uses on this CPU ("AVX2", "AVX512_CORE",
 * "AVX512_CORE_AMX"...), after any ONEDNN_MAX_CPU_ISA cap. Static string. */
ENEVO_API const char *enevo_cpu_isa(void);
/* Fill out[0 .. min(n, max) - 1] with the net's primitives in creation
 * order, then the loops enevo runs itself (impl "enevo:avx2" or
 * "enevo:x86-64": sum-merges, pooling in training nets), and return n (0
 * on a backend that does not report them: cuda). */
ENEVO_API int enevo_net_kernels(const struct enevo_net *net, struct enevo_kernel *out, int max);
/* "layer 3 (conv)", "shape-fix conv before layer 5", "partition head" or
 * "input" for node -1: a name for a plan node in messages. */
ENEVO_API void enevo_net_describe_node(const struct enevo_net *net, int node, char *buf,
                                       size_t len);
/* One line naming every slow-path kernel ("slow path: layer 0 (conv):
 * convolution backward_weights runs ref:any ..."), or "" when none; returns
 * the number of reference kernels. enevo_net_create prints this line on
 * stderr when it is not empty, unless ENEVO_QUIET_SLOW_PATH is set. */
ENEVO_API int enevo_net_slow_path(const struct enevo_net *net, char *buf, size_t len);

/* Inference on the same input as the last forward, with the input and the
 * logits left where they are (on a GPU: no copies, no wait; the logits are
 * not updated on the host). For measurement windows: run one
 * enevo_net_forward first (outside the window), then this in the window,
 * then enevo_net_sync. On the CPU it is a plain forward of the last input
 * (the caller's buffer must still be valid). */
ENEVO_API int enevo_net_forward_again(struct enevo_net *net);
/* Wait until the device has finished all queued work (no-op on the CPU). */
ENEVO_API int enevo_net_sync(struct enevo_net *net);

/* Device-resident data and training. A GPU net copies a bound data set to
 * device memory once; the training loop then runs there (one CUDA graph per
 * step: gather, forward, loss, backward, update), and evaluation too. On the
 * CPU the same calls run the host loop. Slots: 0 training, 1 validation,
 * 2 anything else. The data set must stay valid and unchanged while bound. */
struct enevo_dataset;
ENEVO_API int enevo_net_bind_data(struct enevo_net *net, int slot, const struct enevo_dataset *d,
                                  char *err, size_t errlen);
/* `steps` training steps on slot 0: step s uses images order[s*batch ..
 * s*batch+batch-1] and dropout key keys[s]; adds each step's loss (the
 * weighted total of both heads) to *loss_sum. Returns ENEVO_ENUMERIC when a
 * loss is not finite (a GPU notices at the end of the call), else 0 or a
 * negative status. The optimiser's state moves to the device with the
 * first call; enevo_net_pull_optim brings it back. */
ENEVO_API int enevo_net_train_steps(struct enevo_net *net, struct enevo_optim *o, const int *order,
                                    const uint64_t *keys, int steps, double *loss_sum);
/* Copy the optimiser state (and step count) kept on the device back to `o`
 * (no-op on the CPU). Parameters and statistics come back by themselves
 * whenever enevo_net_params/enevo_net_stats/enevo_net_grads are called. */
ENEVO_API int enevo_net_pull_optim(struct enevo_net *net, struct enevo_optim *o);
/* Evaluate the whole data set bound at `slot` (inference mode): per head
 * accuracy and mean loss (head 1 NaN without a partition), the weighted
 * mean loss. Any pointer may be NULL. */
ENEVO_API int enevo_net_evaluate_bound(struct enevo_net *net, int slot, double accuracy[2],
                                       double loss[2], double *weighted);

#endif
