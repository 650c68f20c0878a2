/* Convolution (and the 1x1 shape-fix conv) on oneDNN: direct algorithm,
 * formats chosen by oneDNN, bias and activation fused into the forward. */
#include "backend/cpu/cpu.h"

static void geometry(const struct cpu_wshape *s, dnnl_dims_t st, dnnl_dims_t pl, dnnl_dims_t pr)
{
    st[0] = st[1] = s->pn->stride;
    pl[0] = pl[1] = s->pn->pad_l;
    pr[0] = pr[1] = s->pn->pad_r;
}

static dnnl_status_t conv_fwd(union cpu_op_desc *d, dnnl_prop_kind_t prop,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                              const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *dst,
                              const struct cpu_wshape *s)
{
    dnnl_dims_t st, pl, pr;
    geometry(s, st, pl, pr);
    return dnnl_convolution_forward_desc_init(&d->conv, prop, dnnl_convolution_direct, src, w, b,
                                              dst, st, pl, pr);
}

static dnnl_status_t conv_bwd_weights(union cpu_op_desc *d, const dnnl_memory_desc_t *src,
                                      const dnnl_memory_desc_t *dw, const dnnl_memory_desc_t *db,
                                      const dnnl_memory_desc_t *ddst, const struct cpu_wshape *s)
{
    dnnl_dims_t st, pl, pr;
    geometry(s, st, pl, pr);
    return dnnl_convolution_backward_weights_desc_init(&d->conv, dnnl_convolution_direct, src, dw,
                                                       db, ddst, st, pl, pr);
}

static dnnl_status_t conv_bwd_data(union cpu_op_desc *d, const dnnl_memory_desc_t *dsrc,
                                   const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *ddst,
                                   const struct cpu_wshape *s)
{
    dnnl_dims_t st, pl, pr;
    geometry(s, st, pl, pr);
    return dnnl_convolution_backward_data_desc_init(&d->conv, dnnl_convolution_direct, dsrc, w,
                                                    ddst, st, pl, pr);
}

static const struct cpu_wkind conv_kind = {
    .fwd = conv_fwd,
    .bwd_weights = conv_bwd_weights,
    .bwd_data = conv_bwd_data,
    .what_fwd = "convolution forward",
    .what_bwd_weights = "convolution backward weights",
    .what_bwd_data = "convolution backward data",
};

static int conv_setup(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    int n = net->batch, ic = pn->in_shape.c, oc = pn->out_shape.c, k = pn->spec.kernel_size;
    dnnl_dims_t src_d = {n, ic, pn->in_shape.h, pn->in_shape.w};
    dnnl_dims_t w_d = {oc, ic, k, k};
    dnnl_dims_t b_d = {oc};
    dnnl_dims_t dst_d = {n, oc, pn->out_shape.h, pn->out_shape.w};
    struct cpu_wshape s = {.pn = pn, .act = pn->spec.act, .bias = pn->b_count > 0};
    cpu_md_any(&s.src_any, 4, src_d);
    cpu_md_any(&s.w_any, 4, w_d);
    cpu_md_any(&s.dst, 4, dst_d);
    dnnl_memory_desc_init_by_tag(&s.b_md, 1, b_d, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&s.w_plain, 4, w_d, dnnl_f32, dnnl_oihw);
    /* A plain input with many channels (a reorder target anyway) is better
     * left to oneDNN; a 1-channel image is read as nchw directly. */
    const dnnl_memory_desc_t *in = &node->src->md;
    bool plain = in->format_kind == dnnl_blocked && in->format_desc.blocking.inner_nblks == 0;
    s.try_producer_format = !(plain && ic > 4);
    return cpu_wlayer_setup(net, node, &conv_kind, &s, err, errlen);
}

const struct cpu_layer_ops cpu_conv_ops = {
    .name = "conv",
    .setup = conv_setup,
    .forward = cpu_wlayer_forward,
    .backward = cpu_wlayer_backward,
    .destroy = cpu_wlayer_destroy,
};
