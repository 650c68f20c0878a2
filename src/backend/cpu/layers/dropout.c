/* Dropout (inverted: kept values scaled by 1/(1-rate) in training, identity
 * in evaluation). The mask is a hash of (step key, element index), not a
 * stored buffer or a sequential RNG: the same on any thread count, and the
 * backward pass recomputes it instead of keeping it. Padding in blocked
 * formats is zero and stays zero. */
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/dropout_mask.h"

static void apply_mask(const struct cpu_node *node, uint64_t key, float *dst, const float *src,
                       size_t n)
{
    double rate = node->pn->spec.rate;
    uint32_t threshold = enevo_dropout_threshold(rate);
    float scale = enevo_dropout_scale(rate);
    uint64_t k = key ^ ((uint64_t)node->index * ENEVO_DROPOUT_SALT);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] * enevo_dropout_keep(k, i, threshold, scale);
}

static int dropout_setup(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen)
{
    (void)net;
    (void)err;
    (void)errlen;
    node->dst.md = node->src->md;
    return 0;
}

static void dropout_forward(struct cpu_net *net, struct cpu_node *node, bool train)
{
    size_t n = node->dst.bytes / sizeof(float);
    if (train && node->pn->spec.rate > 0)
        apply_mask(node, net->dropout_key, node->dst.data, node->src->data, n);
    else
        memcpy(node->dst.data, node->src->data, node->dst.bytes);
}

static void dropout_backward(struct cpu_net *net, struct cpu_node *node)
{
    if (!node->needs_diff_src)
        return;
    size_t n = node->dst.bytes / sizeof(float);
    if (node->pn->spec.rate > 0)
        apply_mask(node, net->dropout_key, node->diff_src->data, node->diff_dst.data, n);
    else
        memcpy(node->diff_src->data, node->diff_dst.data, node->dst.bytes);
}

const struct cpu_layer_ops cpu_dropout_ops = {
    .name = "dropout",
    .setup = dropout_setup,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = NULL,
};
