/* The part conv and fc share: a layer with weights and bias whose forward,
 * backward-data and backward-weights primitives oneDNN builds from three
 * op descriptors. Each kind supplies the descriptors (struct cpu_wkind).
 *
 * No reference kernels. Which implementations oneDNN has depends on the ISA
 * and on the memory formats: on AVX2, backward-weights of a convolution
 * whose input is a plain 1-channel image, backward-data of some strided
 * convolutions into few channels, or any backward pass on SSE4.1 exist
 * only as `ref:any` (0.5 s a call on bench/small's first layer, 95% of a
 * training step). So each pass tries descriptor variants in order and
 * takes the first optimised implementation (see `enum variant`); where it
 * reads or writes a tensor in another format than the net keeps, one
 * reorder per step bridges the two (cheap next to a reference kernel). */
#include <stdlib.h>

#include "backend/cpu/cpu.h"

/* Memory formats a pass is described with, tried in this order:
 * V_NET  the formats the net already keeps (no reorder);
 * V_ANY  oneDNN's choice (blocked layouts its JIT kernels want);
 * V_PLAIN nchw / nc everywhere and the weights as the flat block keeps
 *        them: oneDNN's GEMM convolution (im2col + its JIT SGEMM,
 *        "gemm:jit") takes these on every ISA, and no weight reorders.
 * A layer that prefers plain formats (struct cpu_wshape) tries V_PLAIN
 * first. */
enum variant { V_NET, V_ANY, V_PLAIN, V__COUNT };

static const enum variant order_net[] = {V_NET, V_ANY, V_PLAIN, V__COUNT};
static const enum variant order_any[] = {V_ANY, V_PLAIN, V__COUNT};
static const enum variant order_plain[] = {V_PLAIN, V_NET, V_ANY, V__COUNT};

/* A tensor a backward pass reads in its own format: a copy made by one
 * reorder per step, or (buf == NULL) the net's tensor as it is. */
struct bridge {
    struct cpu_buf own;
    struct cpu_prim reorder;
    struct cpu_buf *buf; /* what the pass reads: &own or the net's */
};

struct wlayer {
    struct cpu_weights w;
    struct cpu_prim fwd, bwd_data, bwd_weights;
    struct bridge src_bw;  /* src for backward-weights */
    struct bridge ddst_bw; /* diff_dst for backward-weights */
    struct bridge ddst_bd; /* diff_dst for backward-data */
    /* When backward-data writes d(src) in another format than the layer's
     * d(src), it writes here and a reorder takes the result there. */
    struct cpu_buf dsrc_tmp;
    struct cpu_buf dsrc_shape; /* md of d(src), for creating the reorder */
    struct cpu_prim dsrc_reorder;
};

/* The descriptor of a tensor in variant v: the net's own md (V_NET), `any`
 * (V_ANY) or plain (V_PLAIN). */
static const dnnl_memory_desc_t *pick(enum variant v, const dnnl_memory_desc_t *net_md,
                                      const dnnl_memory_desc_t *any, dnnl_memory_desc_t *plain)
{
    if (v == V_NET)
        return net_md;
    if (v == V_ANY)
        return any;
    cpu_md_plain_like(plain, any);
    return plain;
}

static const dnnl_memory_desc_t *weights(enum variant v, const struct cpu_wshape *s)
{
    return v == V_PLAIN ? &s->w_plain : &s->w_any;
}

/* The order a layer tries variants in: `first` V_NET or V_ANY. */
static const enum variant *order_of(const struct cpu_wshape *s, enum variant first)
{
    if (s->prefer_plain)
        return order_plain;
    return first == V_NET ? order_net : order_any;
}

/* One pass's descriptor for variant v. */
typedef dnnl_status_t (*make_desc)(union cpu_op_desc *d, enum variant v, const void *ctx);

/* The first variant with an optimised implementation; when every variant
 * has only reference kernels, the reference one of the last variant that
 * has any (it works, and enevo_net_create reports it as a slow path). */
static dnnl_status_t create_pass(struct cpu_net *net, make_desc make, const void *ctx,
                                 const enum variant *order, const_dnnl_primitive_attr_t attr,
                                 const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd)
{
    dnnl_status_t st = dnnl_unimplemented;
    dnnl_primitive_desc_t slow = NULL;
    for (const enum variant *v = order; *v != V__COUNT; v++) {
        union cpu_op_desc d;
        if (make(&d, *v, ctx) != dnnl_success)
            continue;
        if (cpu_pd_create_fast(pd, &d, attr, net->eng, hint) == dnnl_success) {
            if (slow)
                dnnl_primitive_desc_destroy(slow);
            return dnnl_success;
        }
        dnnl_primitive_desc_t any_impl;
        if ((st = dnnl_primitive_desc_create(&any_impl, &d, attr, net->eng, hint)) ==
            dnnl_success) {
            if (slow)
                dnnl_primitive_desc_destroy(slow);
            slow = any_impl;
        }
    }
    if (!slow)
        return st;
    *pd = slow;
    return dnnl_success;
}

struct pass_ctx {
    struct cpu_net *net;
    struct cpu_node *node;
    const struct cpu_wkind *k;
    const struct cpu_wshape *s;
    dnnl_memory_desc_t ddst_any;
};

static dnnl_status_t make_fwd(union cpu_op_desc *d, enum variant v, const void *ctx_)
{
    const struct pass_ctx *c = ctx_;
    dnnl_memory_desc_t sp, dp;
    const dnnl_memory_desc_t *src = pick(v, &c->node->src->md, &c->s->src_any, &sp);
    const dnnl_memory_desc_t *dst = v == V_PLAIN ? (cpu_md_plain_like(&dp, &c->s->dst), &dp)
                                                 : &c->s->dst;
    dnnl_prop_kind_t prop =
        c->net->opts.training ? dnnl_forward_training : dnnl_forward_inference;
    return c->k->fwd(d, prop, src, weights(v, c->s), c->s->bias ? &c->s->b_md : NULL, dst, c->s);
}

static dnnl_status_t make_bwd_weights(union cpu_op_desc *d, enum variant v, const void *ctx_)
{
    const struct pass_ctx *c = ctx_;
    dnnl_memory_desc_t sp, dp;
    const dnnl_memory_desc_t *src = pick(v, &c->node->src->md, &c->s->src_any, &sp);
    const dnnl_memory_desc_t *ddst = pick(v, &c->node->dst.md, &c->ddst_any, &dp);
    return c->k->bwd_weights(d, src, weights(v, c->s), c->s->bias ? &c->s->b_md : NULL, ddst,
                             c->s);
}

static dnnl_status_t make_bwd_data(union cpu_op_desc *d, enum variant v, const void *ctx_)
{
    const struct pass_ctx *c = ctx_;
    dnnl_memory_desc_t sp, dp;
    const dnnl_memory_desc_t *dsrc = pick(v, &c->node->src->md, &c->s->src_any, &sp);
    const dnnl_memory_desc_t *ddst = pick(v, &c->node->dst.md, &c->ddst_any, &dp);
    return c->k->bwd_data(d, dsrc, weights(v, c->s), ddst, c->s);
}

/* Read `from` in format `want`: as it is, or through a reorder into
 * b->own. `share`, when it already bridges `from` to `want`, is reused. */
static int bridge_init(struct cpu_net *net, struct bridge *b, struct cpu_buf *from,
                       const dnnl_memory_desc_t *want, const struct bridge *share, char *err,
                       size_t errlen)
{
    if (dnnl_memory_desc_equal(want, &from->md)) {
        b->buf = from;
        return 0;
    }
    if (share && share->buf == &share->own && dnnl_memory_desc_equal(want, &share->own.md)) {
        b->buf = share->buf; /* reordered already this step */
        return 0;
    }
    b->own.md = *want;
    b->buf = &b->own;
    if (cpu_request(net, &b->own, 0))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    return cpu_reorder_create(net, &b->reorder, from, &b->own, err, errlen);
}

static void bridge_run(struct cpu_net *net, struct bridge *b)
{
    if (b->reorder.p)
        cpu_prim_exec(net, &b->reorder);
}

static int setup_forward(struct cpu_net *net, struct cpu_node *node, struct wlayer *L,
                         struct pass_ctx *c, dnnl_primitive_desc_t *hint, char *err,
                         size_t errlen)
{
    dnnl_primitive_attr_t attr = cpu_attr(c->s->act);
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = create_pass(net, make_fwd, c,
                                   order_of(c->s, c->s->try_producer_format ? V_NET : V_ANY), attr,
                                   NULL, &pd);
    dnnl_primitive_attr_destroy(attr);
    int rc = cpu_check(st, c->k->what_fwd, err, errlen);
    if (rc)
        return rc;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    if (!dnnl_memory_desc_equal(src_md, &node->src->md)) {
        node->src_own.md = *src_md;
        node->src = &node->src_own;
    }
    node->dst.md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    node->diff_dst.md = node->dst.md; /* the backward bridges reorder from it */
    rc = cpu_weights_fwd(net, &L->w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                         err, errlen);
    dnnl_primitive_desc_clone(hint, pd);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    if ((rc = cpu_prim_create(net, &L->fwd, pd, err, errlen)))
        return rc;
    cpu_prim_arg(&L->fwd, DNNL_ARG_SRC, node->src);
    cpu_prim_arg(&L->fwd, DNNL_ARG_WEIGHTS, L->w.fwd);
    if (c->s->bias)
        cpu_prim_arg(&L->fwd, DNNL_ARG_BIAS, &L->w.bias);
    cpu_prim_arg(&L->fwd, DNNL_ARG_DST, &node->dst);
    return 0;
}

static int setup_bwd_weights(struct cpu_net *net, struct cpu_node *node, struct wlayer *L,
                             struct pass_ctx *c, const_dnnl_primitive_attr_t attr,
                             const_dnnl_primitive_desc_t hint, char *err, size_t errlen)
{
    dnnl_primitive_desc_t pd;
    int rc = cpu_check(create_pass(net, make_bwd_weights, c, order_of(c->s, V_NET), attr, hint, &pd),
                       c->k->what_bwd_weights, err, errlen);
    if (rc)
        return rc;
    rc = bridge_init(net, &L->src_bw, node->src,
                     dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), NULL, err, errlen);
    if (!rc)
        rc = bridge_init(net, &L->ddst_bw, &node->diff_dst,
                         dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), NULL, err,
                         errlen);
    if (!rc)
        rc = cpu_weights_grad(net, &L->w,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0),
                              err, errlen);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    if ((rc = cpu_prim_create(net, &L->bwd_weights, pd, err, errlen)))
        return rc;
    cpu_prim_arg(&L->bwd_weights, DNNL_ARG_SRC, L->src_bw.buf);
    cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_DST, L->ddst_bw.buf);
    cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_WEIGHTS, L->w.grad);
    if (c->s->bias)
        cpu_prim_arg(&L->bwd_weights, DNNL_ARG_DIFF_BIAS, &L->w.dbias);
    return 0;
}

static int setup_bwd_data(struct cpu_net *net, struct cpu_node *node, struct wlayer *L,
                          struct pass_ctx *c, const_dnnl_primitive_attr_t attr,
                          const_dnnl_primitive_desc_t hint, char *err, size_t errlen)
{
    dnnl_primitive_desc_t pd;
    int rc = cpu_check(create_pass(net, make_bwd_data, c, order_of(c->s, V_NET), attr, hint, &pd),
                       c->k->what_bwd_data, err, errlen);
    if (rc)
        return rc;
    rc = bridge_init(net, &L->ddst_bd, &node->diff_dst,
                     dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), &L->ddst_bw,
                     err, errlen);
    const dnnl_memory_desc_t *dsrc = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
    if (!rc && !dnnl_memory_desc_equal(dsrc, &node->src->md)) {
        L->dsrc_tmp.md = *dsrc;
        L->dsrc_shape.md = node->src->md;
        rc = cpu_request(net, &L->dsrc_tmp, 0)
                 ? enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory")
                 : cpu_reorder_create(net, &L->dsrc_reorder, &L->dsrc_tmp, &L->dsrc_shape, err,
                                      errlen);
    }
    if (!rc)
        rc = cpu_weights_bwd(net, &L->w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             err, errlen);
    if (rc) {
        dnnl_primitive_desc_destroy(pd);
        return rc;
    }
    if ((rc = cpu_prim_create(net, &L->bwd_data, pd, err, errlen)))
        return rc;
    cpu_prim_arg(&L->bwd_data, DNNL_ARG_DIFF_DST, L->ddst_bd.buf);
    cpu_prim_arg(&L->bwd_data, DNNL_ARG_WEIGHTS, L->w.bwd);
    cpu_prim_arg(&L->bwd_data, DNNL_ARG_DIFF_SRC,
                 L->dsrc_reorder.p ? &L->dsrc_tmp : &node->diff_src_own);
    return 0;
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
    struct pass_ctx c = {.net = net, .node = node, .k = k, .s = s};
    dnnl_primitive_desc_t hint = NULL;
    if ((rc = setup_forward(net, node, L, &c, &hint, err, errlen)) || !net->opts.training) {
        if (hint)
            dnnl_primitive_desc_destroy(hint);
        return rc;
    }
    cpu_md_any(&c.ddst_any, node->dst.md.ndims, node->dst.md.dims);
    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    rc = setup_bwd_weights(net, node, L, &c, attr, hint, err, errlen);
    /* No backward-data pass when every input is the image. */
    bool need_data = false;
    for (int i = 0; i < pn->n_in; i++)
        need_data |= pn->in[i] >= 0;
    if (!rc && need_data)
        rc = setup_bwd_data(net, node, L, &c, attr, hint, err, errlen);
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
    bridge_run(net, &L->src_bw);
    bridge_run(net, &L->ddst_bw);
    cpu_prim_exec(net, &L->bwd_weights);
    if (L->w.from_grad.p)
        cpu_prim_exec(net, &L->w.from_grad);
    if (L->bwd_data.p && node->needs_diff_src) {
        if (L->w.to_bwd.p)
            cpu_prim_exec(net, &L->w.to_bwd);
        bridge_run(net, &L->ddst_bd);
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
    cpu_prim_destroy(&L->src_bw.reorder);
    cpu_prim_destroy(&L->ddst_bw.reorder);
    cpu_prim_destroy(&L->ddst_bd.reorder);
    free(L);
    node->priv = NULL;
}
