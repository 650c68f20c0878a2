/* Fully connected layer as a oneDNN inner product. It reads a conv
 * activation in its blocked format directly (the flatten costs nothing);
 * its weights are [O, C, H, W] logically, so the flat block holds them in
 * NCHW flatten order whatever the activation format. The output is a plain
 * [N, O] tensor; act:softmax is left to the fused softmax + cross-entropy. */
#include "backend/cpu/cpu.h"

static dnnl_status_t fc_fwd(union cpu_op_desc *d, dnnl_prop_kind_t prop,
                            const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                            const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *dst,
                            const struct cpu_wshape *s)
{
    (void)s;
    return dnnl_inner_product_forward_desc_init(&d->ip, prop, src, w, b, dst);
}

static dnnl_status_t fc_bwd_weights(union cpu_op_desc *d, const dnnl_memory_desc_t *src,
                                    const dnnl_memory_desc_t *dw, const dnnl_memory_desc_t *db,
                                    const dnnl_memory_desc_t *ddst, const struct cpu_wshape *s)
{
    (void)s;
    return dnnl_inner_product_backward_weights_desc_init(&d->ip, src, dw, db, ddst);
}

static dnnl_status_t fc_bwd_data(union cpu_op_desc *d, const dnnl_memory_desc_t *dsrc,
                                 const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *ddst,
                                 const struct cpu_wshape *s)
{
    (void)s;
    return dnnl_inner_product_backward_data_desc_init(&d->ip, dsrc, w, ddst);
}

static const struct cpu_wkind fc_kind = {
    .fwd = fc_fwd,
    .bwd_weights = fc_bwd_weights,
    .bwd_data = fc_bwd_data,
    .what_fwd = "inner product forward",
    .what_bwd_weights = "inner product backward weights",
    .what_bwd_data = "inner product backward data",
};

static int fc_setup(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    int n = net->batch, oc = pn->out_shape.c;
    int nd = pn->in_is_flat ? 2 : 4;
    dnnl_dims_t src_d = {n, pn->in_shape.c, pn->in_shape.h, pn->in_shape.w};
    dnnl_dims_t w_d = {oc, pn->in_shape.c, pn->in_shape.h, pn->in_shape.w};
    dnnl_dims_t b_d = {oc};
    struct cpu_wshape s = {
        .pn = pn,
        .act = pn->spec.act == ENEVO_ACT_SOFTMAX ? ENEVO_ACT_LINEAR : pn->spec.act,
        .bias = pn->b_count > 0,
        .try_producer_format = true,
        /* Weights [oc, features] against activations [batch, features]. */
        .prefer_plain = net->opts.training && oc > n,
    };
    cpu_md_any(&s.src_any, nd, src_d);
    cpu_md_any(&s.w_any, nd, w_d);
    dnnl_memory_desc_init_by_tag(&s.w_plain, nd, w_d, dnnl_f32, nd == 2 ? dnnl_oi : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&s.b_md, 1, b_d, dnnl_f32, dnnl_a);
    cpu_md_plain(&s.dst, n, oc, 1, 1, true);
    return cpu_wlayer_setup(net, node, &fc_kind, &s, err, errlen);
}

const struct cpu_layer_ops cpu_fc_ops = {
    .name = "fc",
    .setup = fc_setup,
    .forward = cpu_wlayer_forward,
    .backward = cpu_wlayer_backward,
    .destroy = cpu_wlayer_destroy,
};
