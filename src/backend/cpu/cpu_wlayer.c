/* The part conv and fc share: a layer with weights and bias whose forward,
 * backward-data and backward-weights primitives oneDNN builds from three
 * op descriptors. Each kind supplies the descriptors (struct cpu_wkind). */
#include <stdlib.h>

#include "backend/cpu/cpu.h"

struct wlayer {
    struct cpu_weights w;
    struct cpu_prim fwd, bwd_data, bwd_weights;
    /* When backward-data has a JIT kernel only for another format of
     * d(src) (a 1-channel input, say), it writes here and a reorder takes
     * the result to the layer's d(src). */
    struct cpu_buf dsrc_tmp;
    struct cpu_buf dsrc_shape; /* md of d(src), for creating the reorder */
    struct cpu_prim dsrc_reorder;
};

/* Create the forward primitive descriptor on `src`; a reference kernel on
 * the producer's format is refused (retried on `any`) because it is far
 * slower than one reorder into a format a JIT kernel takes. */
static dnnl_status_t fwd_pd(struct cpu_net *net, const struct cpu_wkind *k,
                            const struct cpu_wshape *s, const dnnl_memory_desc_t *src,
                            bool allow_ref, dnnl_primitive_desc_t *pd)
{
    union cpu_op_desc d;
    dnnl_prop_kind_t prop = net->opts.training ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_status_t st = k->fwd(&d, prop, src, &s->w_any, s->bias ? &s->b_md : NULL, &s->dst, s);
    if (st != dnnl_success)
        return st;
    dnnl_primitive_attr_t attr = cpu_attr(s->act);
    st = dnnl_primitive_desc_create(pd, &d, attr, net->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_success && !allow_ref && cpu_pd_is_reference(*pd)) {
        dnnl_primitive_desc_destroy(*pd);
        st = dnnl_unimplemented;
    }
    return st;
}

int cpu_wlayer_setup(struct cpu_net *net, struct cpu_node *node, const struct cpu_wkind *k,
                     const struct cpu_wshape *s, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    struct wlayer *L = calloc(1, sizeof *L);
    if (!L)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    node->priv = L;
    int rc = cpu_weights_init(net, &L->w, &s->w_plain, pn->w_off, pn->b_off, pn->b_count, err,
                              errlen);
    if (rc)
        return rc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_unimplemented;
    if (s->try_producer_format)
        st = fwd_pd(net, k, s, &node->src->md, false, &pd);
    if (st != dnnl_success)
        st = fwd_pd(net, k, s, &s->src_any, true, &pd);
    if ((rc = cpu_check(st, k->what_fwd, err, errlen)))
        return rc;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    if (!dnnl_memory_desc_equal(src_md, &node->src->md)) {
        node->src_own.md = *src_md;
        node->src = &node->src_own;
    }
    node->dst.md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    rc = cpu_weights_fwd(net, &L->w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                         err, errlen);
    dnnl_primitive_desc_t hint;
    dnnl_primitive_desc_clone(&hint, pd);
    if (!rc)
        rc = cpu_prim_create(net, &L->fwd, pd, err, errlen);
    else
        dnnl_primitive_desc_destroy(pd);
    if (!rc) {
        cpu_prim_arg(&L->fwd, DNNL_ARG_SRC, node->src);
        cpu_prim_arg(&L->fwd, DNNL_ARG_WEIGHTS, L->w.fwd);
        if (s->bias)
            cpu_prim_arg(&L->fwd, DNNL_ARG_BIAS, &L->w.bias);
        cpu_prim_arg(&L->fwd, DNNL_ARG_DST, &node->dst);
    }
    if (rc || !net->opts.training) {
        dnnl_primitive_desc_destroy(hint);
        return rc;
    }

    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    union cpu_op_desc d;
    st = k->bwd_weights(&d, &node->src->md, &s->w_any, s->bias ? &s->b_md : NULL, &node->dst.md,
                        s);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, net->eng, hint);
    rc = cpu_check(st, k->what_bwd_weights, err, errlen);
    if (!rc)
        rc = cpu_weights_grad(net, &L->w,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0),
                              err, errlen);
    if (!rc)
        rc = cpu_prim_create(net, &L->bwd_weights, pd, err, errlen);
    else if (st == dnnl_success)
        dnnl_primitive_desc_destroy(pd);
    if (!rc) {
        cpu_prim_arg(&L->bwd_weights, DNNL_ARG_SRC, node->src);
        cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_DST, &node->diff_dst);
        cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_WEIGHTS, L->w.grad);
        if (s->bias)
            cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_BIAS, &L->w.dbias);
    }
    /* No backward-data pass when every input is the image. */
    bool need_data = false;
    for (int i = 0; i < pn->n_in; i++)
        need_data |= pn->in[i] >= 0;
    if (!rc && need_data) {
        st = k->bwd_data(&d, &node->src->md, &s->w_any, &node->dst.md, s);
        if (st == dnnl_success)
            st = dnnl_primitive_desc_create(&pd, &d, attr, net->eng, hint);
        if (st == dnnl_success && cpu_pd_is_reference(pd)) {
            /* A reference kernel can be 100x slower than a JIT one on
             * another d(src) format plus one reorder. */
            dnnl_primitive_desc_t alt;
            dnnl_status_t st2 = k->bwd_data(&d, &s->src_any, &s->w_any, &node->dst.md, s);
            if (st2 == dnnl_success)
                st2 = dnnl_primitive_desc_create(&alt, &d, attr, net->eng, hint);
            if (st2 == dnnl_success && !cpu_pd_is_reference(alt)) {
                dnnl_primitive_desc_destroy(pd);
                pd = alt;
                L->dsrc_tmp.md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
                rc = cpu_request(net, &L->dsrc_tmp, 0)
                         ? enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory")
                         : (L->dsrc_shape.md = node->src->md,
                                            cpu_reorder_create(net, &L->dsrc_reorder, &L->dsrc_tmp,
                                                               &L->dsrc_shape, err, errlen));
            } else if (st2 == dnnl_success) {
                dnnl_primitive_desc_destroy(alt);
            }
        }
        if (!rc)
            rc = cpu_check(st, k->what_bwd_data, err, errlen);
        if (!rc)
            rc = cpu_weights_bwd(net, &L->w,
                                 dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), err,
                                 errlen);
        if (!rc)
            rc = cpu_prim_create(net, &L->bwd_data, pd, err, errlen);
        else if (st == dnnl_success)
            dnnl_primitive_desc_destroy(pd);
        if (!rc) {
            cpu_prim_arg(&L->bwd_data, DNNL_ARG_DIFF_DST, &node->diff_dst);
            cpu_prim_arg(&L->bwd_data, DNNL_ARG_WEIGHTS, L->w.bwd);
            cpu_prim_arg(&L->bwd_data, DNNL_ARG_DIFF_SRC,
                         L->dsrc_reorder.p ? &L->dsrc_tmp : &node->diff_src_own);
        }
    }
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_desc_destroy(hint);
    return rc;
}

void cpu_wlayer_forward(struct cpu_net *net, struct cpu_node *node, bool train)
{
    (void)train;
    struct wlayer *L = node->priv;
    if (L->w.to_fwd.p && net->weights_stale)
        cpu_prim_exec(net, &L->w.to_fwd);
    cpu_prim_exec(net, &L->fwd);
}

void cpu_wlayer_backward(struct cpu_net *net, struct cpu_node *node)
{
    struct wlayer *L = node->priv;
    cpu_act_backward(node->pn->spec.act, node->diff_dst.data, node->dst.data,
                     node->dst.bytes / sizeof(float));
    cpu_prim_exec(net, &L->bwd_weights);
    if (L->w.from_grad.p)
        cpu_prim_exec(net, &L->w.from_grad);
    if (L->bwd_data.p && node->needs_diff_src) {
        if (L->w.to_bwd.p)
            cpu_prim_exec(net, &L->w.to_bwd);
        if (L->dsrc_reorder.p) {
            cpu_prim_exec(net, &L->bwd_data);
            cpu_prim_set(&L->dsrc_reorder, DNNL_ARG_TO, node->diff_src);
            cpu_prim_exec(net, &L->dsrc_reorder);
        } else {
            cpu_prim_set(&L->bwd_data, DNNL_ARG_DIFF_SRC, node->diff_src);
            cpu_prim_exec(net, &L->bwd_data);
        }
    }
}

void cpu_wlayer_destroy(struct cpu_node *node)
{
    struct wlayer *L = node->priv;
    if (!L)
        return;
    cpu_weights_destroy(&L->w);
    cpu_prim_destroy(&L->fwd);
    cpu_prim_destroy(&L->bwd_data);
    cpu_prim_destroy(&L->bwd_weights);
    cpu_prim_destroy(&L->dsrc_reorder);
    free(L);
    node->priv = NULL;
}
