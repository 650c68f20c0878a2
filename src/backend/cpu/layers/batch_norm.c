/* Batch normalisation on oneDNN, in the producer's format when oneDNN has
 * optimised kernels for it, else in the first format that has them (a
 * plain few-channel conv output on AVX has only bnorm_ref). Training uses
 * the batch statistics and updates the running ones as PyTorch does
 * (momentum 0.1, unbiased variance); evaluation uses the running ones. */
#include <stdbool.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

struct bn {
    struct cpu_prim fwd_train, fwd_infer, bwd;
    struct cpu_buf scale, shift, dscale, dshift; /* external: params / grads */
    struct cpu_buf run_mean, run_var;            /* external: stats */
    struct cpu_buf mean, var;                    /* batch statistics */
    int c;
    size_t per_channel; /* N * H * W, for the unbiased variance */
};

static int bn_prim(struct cpu_net *net, struct cpu_prim *prim, dnnl_prop_kind_t prop,
                   unsigned flags, const dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *keep,
                   struct cpu_node *node, char *err, size_t errlen)
{
    dnnl_batch_normalization_desc_t d;
    dnnl_status_t st;
    if (prop == dnnl_backward)
        st = dnnl_batch_normalization_backward_desc_init(&d, prop, &node->src->md, &node->src->md,
                                                         BN_EPS, flags);
    else
        st = dnnl_batch_normalization_forward_desc_init(&d, prop, &node->src->md, BN_EPS, flags);
    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    dnnl_primitive_desc_t pd;
    if (st == dnnl_success && cpu_pd_create_fast(&pd, &d, attr, net->eng, hint) != dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, net->eng, hint);
    dnnl_primitive_attr_destroy(attr);
    int rc = cpu_check(st, "batch normalization", err, errlen);
    if (rc)
        return rc;
    if (keep)
        dnnl_primitive_desc_clone(keep, pd);
    return cpu_prim_create(net, prim, pd, err, errlen);
}

/* Whether every pass the net runs (inference; training and backward when
 * training) has an optimised kernel on data in format md. */
static bool fast_on(struct cpu_net *net, const dnnl_memory_desc_t *md, unsigned flags)
{
    static const dnnl_prop_kind_t props[] = {dnnl_forward_inference, dnnl_forward_training,
                                             dnnl_backward};
    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    dnnl_primitive_desc_t hint = NULL;
    bool ok = attr != NULL;
    for (int i = 0; ok && i < (net->opts.training ? 3 : 1); i++) {
        dnnl_batch_normalization_desc_t d;
        dnnl_status_t st =
            i == 2 ? dnnl_batch_normalization_backward_desc_init(&d, props[i], md, md, BN_EPS, flags)
                   : dnnl_batch_normalization_forward_desc_init(
                         &d, props[i], md, BN_EPS, i == 0 ? flags | dnnl_use_global_stats : flags);
        dnnl_primitive_desc_t pd;
        ok = st == dnnl_success && cpu_pd_create_fast(&pd, &d, attr, net->eng, hint) == dnnl_success;
        if (ok && i == 1)
            hint = pd;
        else if (ok)
            dnnl_primitive_desc_destroy(pd);
    }
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return ok;
}

/* Read the input in the producer's format, or in the first of a few
 * others that has optimised kernels (then setup_input adds a reorder). */
static void choose_format(struct cpu_net *net, struct cpu_node *node, unsigned flags)
{
    if (fast_on(net, &node->src->md, flags) || node->src->md.ndims != 4)
        return;
    static const dnnl_format_tag_t tags[] = {dnnl_aBcd16b, dnnl_aBcd8b, dnnl_acdb, dnnl_abcd};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        dnnl_memory_desc_t md;
        dnnl_memory_desc_init_by_tag(&md, 4, node->src->md.dims, dnnl_f32, tags[i]);
        if (fast_on(net, &md, flags)) {
            node->src_own.md = md;
            node->src = &node->src_own;
            return;
        }
    }
}

static int bn_setup(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    struct bn *b = calloc(1, sizeof *b);
    if (!b)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    node->priv = b;
    b->c = pn->in_shape.c;
    b->per_channel = (size_t)net->batch * (size_t)pn->in_shape.h * (size_t)pn->in_shape.w;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    choose_format(net, node, flags);
    node->dst.md = node->src->md;
    dnnl_memory_desc_t cmd;
    dnnl_dims_t cd = {b->c};
    dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_a);
    int rc = cpu_buf_external(net, &b->scale, &cmd, net->params + pn->w_off, err, errlen);
    if (!rc)
        rc = cpu_buf_external(net, &b->shift, &cmd, net->params + pn->b_off, err, errlen);
    if (!rc)
        rc = cpu_buf_external(net, &b->run_mean, &cmd, net->stats + pn->s_off, err, errlen);
    if (!rc)
        rc = cpu_buf_external(net, &b->run_var, &cmd, net->stats + pn->s_off + (size_t)b->c, err,
                              errlen);
    if (!rc)
        rc = bn_prim(net, &b->fwd_infer, dnnl_forward_inference, flags | dnnl_use_global_stats,
                     NULL, NULL, node, err, errlen);
    if (!rc) {
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_SRC, node->src);
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_MEAN, &b->run_mean);
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_VARIANCE, &b->run_var);
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_SCALE, &b->scale);
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_SHIFT, &b->shift);
        cpu_prim_arg(&b->fwd_infer, DNNL_ARG_DST, &node->dst);
    }
    if (rc || !net->opts.training)
        return rc;
    rc = cpu_buf_external(net, &b->dscale, &cmd, net->grads + pn->w_off, err, errlen);
    if (!rc)
        rc = cpu_buf_external(net, &b->dshift, &cmd, net->grads + pn->b_off, err, errlen);
    b->mean.md = b->var.md = cmd;
    if (!rc && (cpu_request(net, &b->mean, 0) || cpu_request(net, &b->var, 0)))
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    dnnl_primitive_desc_t hint = NULL;
    if (!rc)
        rc = bn_prim(net, &b->fwd_train, dnnl_forward_training, flags, NULL, &hint, node, err,
                     errlen);
    if (!rc) {
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_SRC, node->src);
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_SCALE, &b->scale);
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_SHIFT, &b->shift);
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_DST, &node->dst);
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_MEAN, &b->mean);
        cpu_prim_arg(&b->fwd_train, DNNL_ARG_VARIANCE, &b->var);
        rc = bn_prim(net, &b->bwd, dnnl_backward, flags, hint, NULL, node, err, errlen);
    }
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    if (!rc) {
        cpu_prim_arg(&b->bwd, DNNL_ARG_SRC, node->src);
        cpu_prim_arg(&b->bwd, DNNL_ARG_MEAN, &b->mean);
        cpu_prim_arg(&b->bwd, DNNL_ARG_VARIANCE, &b->var);
        cpu_prim_arg(&b->bwd, DNNL_ARG_DIFF_DST, &node->diff_dst);
        cpu_prim_arg(&b->bwd, DNNL_ARG_SCALE, &b->scale);
        cpu_prim_arg(&b->bwd, DNNL_ARG_SHIFT, &b->shift);
        cpu_prim_arg(&b->bwd, DNNL_ARG_DIFF_SRC, &node->diff_src_own);
        cpu_prim_arg(&b->bwd, DNNL_ARG_DIFF_SCALE, &b->dscale);
        cpu_prim_arg(&b->bwd, DNNL_ARG_DIFF_SHIFT, &b->dshift);
    }
    return rc;
}

static void bn_forward(struct cpu_net *net, struct cpu_node *node, bool train)
{
    struct bn *b = node->priv;
    if (!train) {
        cpu_prim_exec(net, &b->fwd_infer);
        return;
    }
    cpu_prim_exec(net, &b->fwd_train);
    dnnl_stream_wait(net->stream);
    float unbias = b->per_channel > 1 ? (float)b->per_channel / (float)(b->per_channel - 1) : 1.0f;
    for (int i = 0; i < b->c; i++) {
        b->run_mean.data[i] = (1 - BN_MOMENTUM) * b->run_mean.data[i] + BN_MOMENTUM * b->mean.data[i];
        b->run_var.data[i] =
            (1 - BN_MOMENTUM) * b->run_var.data[i] + BN_MOMENTUM * b->var.data[i] * unbias;
    }
}

static void bn_backward(struct cpu_net *net, struct cpu_node *node)
{
    struct bn *b = node->priv;
    /* Scale and shift gradients are needed even when the input is the image. */
    if (node->needs_diff_src)
        cpu_prim_set(&b->bwd, DNNL_ARG_DIFF_SRC, node->diff_src);
    else
        cpu_prim_set(&b->bwd, DNNL_ARG_DIFF_SRC, &node->diff_dst); /* discarded, in place */
    cpu_prim_exec(net, &b->bwd);
}

static void bn_destroy(struct cpu_node *node)
{
    struct bn *b = node->priv;
    if (!b)
        return;
    cpu_prim_destroy(&b->fwd_train);
    cpu_prim_destroy(&b->fwd_infer);
    cpu_prim_destroy(&b->bwd);
    free(b);
    node->priv = NULL;
}

const struct cpu_layer_ops cpu_bn_ops = {
    .name = "batch_norm",
    .setup = bn_setup,
    .forward = bn_forward,
    .backward = bn_backward,
    .destroy = bn_destroy,
};
