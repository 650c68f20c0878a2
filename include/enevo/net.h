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
};

int enevo_net_create(const struct enevo_phenotype *p, struct enevo_shape input, int n_classes,
                     const struct enevo_net_opts *opts, struct enevo_net **out, char *err,
                     size_t errlen);
void enevo_net_free(struct enevo_net *net);

/* He-normal for layers followed by relu, Glorot-uniform otherwise; biases
 * and shifts 0, batch-norm scales 1, running variance 1. */
void enevo_net_init_params(struct enevo_net *net, enevo_rng *rng);

/* Forward pass on batch images x [batch, c, h, w] (NCHW floats). `train`
 * selects batch statistics and dropout; `dropout_key` makes the dropout masks
 * (a function of the key and the element, so independent of thread count).
 * Returns 0 or a negative status. */
int enevo_net_forward(struct enevo_net *net, const float *x, bool train, uint64_t dropout_key);
/* Logits of the last forward pass, [batch, n_classes], owned by the net. */
const float *enevo_net_logits(const struct enevo_net *net);
/* Fused, stable softmax + cross-entropy over the first n rows (n <= batch);
 * returns the mean loss and keeps d loss / d logits for backward. Rows >= n
 * get zero gradient. If correct != NULL, counts argmax hits into it (head 0).
 * With a model partition the loss is w0 L0 + w1 L1 (w0 = 1, w1 the
 * phenotype's partition weight) and one backward pass trains both heads. */
double enevo_net_loss(struct enevo_net *net, const uint8_t *labels, int n, int *correct);
/* The same, with each head's mean loss and hits (loss[1] NaN, correct[1]
 * untouched, without a partition). Returns the weighted total. */
double enevo_net_loss_heads(struct enevo_net *net, const uint8_t *labels, int n, double loss[2],
                            int correct[2]);
/* 2 with a model partition (a second output head), else 1. */
int enevo_net_heads(const struct enevo_net *net);
/* The second head's logits of the last forward, or NULL. */
const float *enevo_net_logits2(const struct enevo_net *net);
void enevo_net_set_head_weight(struct enevo_net *net, double w);
/* Backward pass of the last training forward; overwrites the gradients. */
int enevo_net_backward(struct enevo_net *net);

/* The writable parameter block. Asking for it tells the net the weights may
 * change: an inference net converts them to its kernels' formats once, at
 * the next forward, and keeps them until this is called again. So write
 * through a pointer from a fresh call, not one kept across forwards. */
float *enevo_net_params(struct enevo_net *net);
float *enevo_net_grads(struct enevo_net *net);
size_t enevo_net_param_count(const struct enevo_net *net);
float *enevo_net_stats(struct enevo_net *net);
size_t enevo_net_stats_count(const struct enevo_net *net);
/* Parameter tensors, for optimisers (LARS treats 1-D segments apart). */
const struct enevo_param_seg *enevo_net_segments(const struct enevo_net *net, int *n);
/* Forward FLOPs per image (a multiply-add counts 2). */
double enevo_net_flops(const struct enevo_net *net);
/* Bytes a forward pass of one batch moves: every layer's activations read
 * and written (fp32), plus the weights once. For the energy model. */
double enevo_net_bytes_per_batch(const struct enevo_net *net);
int enevo_net_batch(const struct enevo_net *net);
int enevo_net_classes(const struct enevo_net *net);
struct enevo_shape enevo_net_input_shape(const struct enevo_net *net);
/* Bytes of activations, workspaces and scratchpad the backend holds. */
size_t enevo_net_arena_bytes(const struct enevo_net *net);

#endif
