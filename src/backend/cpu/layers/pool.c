/* Max and average pooling in the producer's format: in training nets
 * enevo's own loops (pool_own.c) for nchw, nChw8c and nChw16c, oneDNN's
 * primitive for inference nets and any other layout (or for all, with
 * ENEVO_POOL=onednn, to compare). "same"
 * padding pads bottom/right as TensorFlow does; average pooling excludes
 * the padding from the mean. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/layers/pool_own.h"

struct pool {
    struct cpu_prim fwd, bwd;
    struct cpu_buf ws; /* max-pool argmax workspace (training) */
    bool own;          /* pool_own.c's loops instead of the primitives */
    struct pool_geom g;
};

static int own_setup(struct cpu_net *net, struct cpu_node *node, struct pool *p, int block,
                     char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    p->own = true;
    cpu_own_kernel(net, "pooling forward_training");
    cpu_own_kernel(net, "pooling backward_data");
    p->g = (struct pool_geom){
        .n = net->batch,
        .cb = (pn->in_shape.c + block - 1) / block,
        .block = block,
        .ih = pn->in_shape.h,
        .iw = pn->in_shape.w,
        .oh = pn->out_shape.h,
        .ow = pn->out_shape.w,
        .k = pn->spec.kernel_size,
        .stride = pn->stride,
        .pad_l = pn->pad_l,
        .max = pn->spec.kind == ENEVO_LAYER_POOL_MAX,
    };
    pool_own_dst_md(&node->dst.md, block, net->batch, pn->out_shape.c, pn->out_shape.h,
                    pn->out_shape.w);
    if (net->opts.training && p->g.max) {
        dnnl_dims_t d = {(dnnl_dim_t)p->g.n * p->g.cb * p->g.oh * p->g.ow * block};
        dnnl_memory_desc_init_by_tag(&p->ws.md, 1, d, dnnl_u8, dnnl_a);
        if (cpu_request(net, &p->ws, 0))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    return 0;
}

static int pool_setup(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = node->pn;
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    node->priv = p;
    int block = pool_own_block(&node->src->md);
    const char *impl = getenv("ENEVO_POOL");
    /* Training only: oneDNN's inference pooling (no workspace) is as fast
     * or faster (AVX-512: ~10% on bench/small); its training pooling with
     * the argmax workspace is what is slow on AVX2. */
    if (block && net->opts.training && !(impl && !strcmp(impl, "onednn")))
        return own_setup(net, node, p, block, err, errlen);
    int k = pn->spec.kernel_size;
    dnnl_dims_t dst_d = {net->batch, pn->out_shape.c, pn->out_shape.h, pn->out_shape.w};
    dnnl_dims_t strides = {pn->stride, pn->stride}, kernel = {k, k}, dil = {0, 0};
    dnnl_dims_t pl = {pn->pad_l, pn->pad_l}, pr = {pn->pad_r, pn->pad_r};
    dnnl_alg_kind_t alg = pn->spec.kind == ENEVO_LAYER_POOL_MAX ? dnnl_pooling_max
                                                                 : dnnl_pooling_avg_exclude_padding;
    dnnl_memory_desc_t dst_any;
    cpu_md_any(&dst_any, 4, dst_d);
    dnnl_pooling_v2_desc_t d;
    dnnl_prop_kind_t prop = net->opts.training ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    dnnl_primitive_desc_t pd, hint = NULL;
    dnnl_status_t st = dnnl_pooling_v2_forward_desc_init(&d, prop, alg, &node->src->md, &dst_any,
                                                         strides, kernel, dil, pl, pr);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, net->eng, NULL);
    int rc = cpu_check(st, "pooling forward", err, errlen);
    if (rc)
        goto out;
    node->dst.md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0);
    bool has_ws = ws && dnnl_memory_desc_get_size(ws) > 0;
    if (has_ws) {
        p->ws.md = *ws;
        if (cpu_request(net, &p->ws, 0)) {
            dnnl_primitive_desc_destroy(pd);
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
            goto out;
        }
    }
    dnnl_primitive_desc_clone(&hint, pd);
    if ((rc = cpu_prim_create(net, &p->fwd, pd, err, errlen)))
        goto out;
    cpu_prim_arg(&p->fwd, DNNL_ARG_SRC, node->src);
    cpu_prim_arg(&p->fwd, DNNL_ARG_DST, &node->dst);
    if (has_ws)
        cpu_prim_arg(&p->fwd, DNNL_ARG_WORKSPACE, &p->ws);
    if (!net->opts.training)
        goto out;
    st = dnnl_pooling_v2_backward_desc_init(&d, alg, &node->src->md, &node->dst.md, strides,
                                            kernel, dil, pl, pr);
    if (st == dnnl_success)
        st = dnnl_primitive_desc_create(&pd, &d, attr, net->eng, hint);
    if ((rc = cpu_check(st, "pooling backward", err, errlen)))
        goto out;
    if ((rc = cpu_prim_create(net, &p->bwd, pd, err, errlen)))
        goto out;
    cpu_prim_arg(&p->bwd, DNNL_ARG_DIFF_DST, &node->diff_dst);
    cpu_prim_arg(&p->bwd, DNNL_ARG_DIFF_SRC, &node->diff_src_own);
    if (has_ws)
        cpu_prim_arg(&p->bwd, DNNL_ARG_WORKSPACE, &p->ws);
out:
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    dnnl_primitive_attr_destroy(attr);
    return rc;
}

static void pool_forward(struct cpu_net *net, struct cpu_node *node, bool train)
{
    struct pool *p = node->priv;
    if (p->own) {
        /* The argmax is needed only for a backward pass after a training forward. */
        pool_own_forward(&p->g, node->src->data, node->dst.data,
                         train && p->ws.data ? (uint8_t *)p->ws.data : NULL);
        return;
    }
    cpu_prim_exec(net, &p->fwd);
}

static void pool_backward(struct cpu_net *net, struct cpu_node *node)
{
    struct pool *p = node->priv;
    if (!node->needs_diff_src)
        return;
    if (p->own) {
        pool_own_backward(&p->g, node->diff_dst.data, (const uint8_t *)p->ws.data,
                          node->diff_src->data);
        return;
    }
    cpu_prim_set(&p->bwd, DNNL_ARG_DIFF_SRC, node->diff_src);
    cpu_prim_exec(net, &p->bwd);
}

static void pool_destroy(struct cpu_node *node)
{
    struct pool *p = node->priv;
    if (!p)
        return;
    cpu_prim_destroy(&p->fwd);
    cpu_prim_destroy(&p->bwd);
    free(p);
    node->priv = NULL;
}

const struct cpu_layer_ops cpu_pool_ops = {
    .name = "pool",
    .setup = pool_setup,
    .forward = pool_forward,
    .backward = pool_backward,
    .destroy = pool_destroy,
};
