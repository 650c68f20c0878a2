/* The oneDNN CPU executor: buffers, layout negotiation between layers,
 * merges, and the forward/backward walk. The layer kinds live in layers/. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "backend/cpu/cpu.h"
#include "enevo/error.h"

/* Merge / reorder state of a node whose input is not a plain view. */
struct cpu_input {
    struct cpu_prim fwd;     /* a single input's reorder into node->src_own */
    /* A sum-merge: each input in node->src_own's format (reordered into
     * same[k] when it comes in another), then added element by element.
     * oneDNN's own sum has only a reference kernel for mixed formats and
     * for padded blocked ones (8 channels in nChw16c). */
    struct cpu_buf same[ENEVO_MAX_INPUTS];
    struct cpu_prim to_same[ENEVO_MAX_INPUTS];
    struct cpu_buf *sum_src[ENEVO_MAX_INPUTS];
    /* backward: diff_src_own scattered to each producer's diff_dst */
    struct cpu_prim bwd[ENEVO_MAX_INPUTS];
    struct cpu_buf tmp;      /* reordered gradient before it is added */
};

struct cpu_exec {
    struct cpu_net net;
    struct cpu_input *inputs; /* one per node */
    bool *accumulate;         /* node's diff_dst is a sum over consumers */
};

int cpu_check(dnnl_status_t st, const char *what, char *err, size_t errlen)
{
    if (st == dnnl_success)
        return 0;
    return enevo_errf(err, errlen, ENEVO_EBACKEND, "oneDNN: %s failed (status %d)", what, (int)st);
}

/* "ref:any", "ref_fused:any", "gemm:ref" (a convolution over the reference
 * GEMM): oneDNN's portable C++ loops, 10-1000x slower than its JIT kernels. */
bool cpu_impl_is_reference(const char *impl)
{
    return impl && strstr(impl, "ref") != NULL;
}

bool cpu_pd_is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    return cpu_impl_is_reference(impl);
}

dnnl_status_t cpu_pd_create_fast(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t d,
                                 const_dnnl_primitive_attr_t attr, dnnl_engine_t eng,
                                 const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_iterator_t it;
    dnnl_status_t st = dnnl_primitive_desc_iterator_create(&it, d, attr, eng, hint);
    if (st != dnnl_success)
        return st;
    st = dnnl_unimplemented;
    do {
        dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
        if (!cand)
            break;
        if (!cpu_pd_is_reference(cand)) {
            *pd = cand;
            st = dnnl_success;
            break;
        }
        dnnl_primitive_desc_destroy(cand);
    } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
    return st;
}

void cpu_own_kernel(struct cpu_net *net, const char *op)
{
    /* More than 64 own loops in one net only go unreported. */
    if (net->n_own < (int)(sizeof net->own / sizeof net->own[0])) {
        net->own[net->n_own].node = net->cur_node;
        net->own[net->n_own].op = op;
        net->n_own++;
    }
}

void cpu_md_plain_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like)
{
    static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc,
                                             dnnl_abcd};
    dnnl_memory_desc_init_by_tag(md, like->ndims, like->dims, dnnl_f32, tags[like->ndims]);
}

int cpu_request(struct cpu_net *net, struct cpu_buf *buf, size_t bytes)
{
    buf->bytes = bytes ? bytes : dnnl_memory_desc_get_size(&buf->md);
    if (net->n_reqs == net->cap_reqs) {
        int cap = net->cap_reqs ? 2 * net->cap_reqs : 64;
        struct cpu_buf **r = realloc(net->reqs, sizeof *r * (size_t)cap);
        if (!r)
            return ENEVO_ENOMEM;
        net->reqs = r;
        net->cap_reqs = cap;
    }
    net->reqs[net->n_reqs++] = buf;
    return 0;
}

void cpu_md_plain(dnnl_memory_desc_t *md, int n, int c, int h, int w, bool flat)
{
    if (flat) {
        dnnl_dims_t d = {n, c};
        dnnl_memory_desc_init_by_tag(md, 2, d, dnnl_f32, dnnl_nc);
    } else {
        dnnl_dims_t d = {n, c, h, w};
        dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nchw);
    }
}

void cpu_md_any(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims)
{
    dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, dnnl_format_tag_any);
}

int cpu_buf_external(struct cpu_net *net, struct cpu_buf *buf, const dnnl_memory_desc_t *md,
                     float *data, char *err, size_t errlen)
{
    buf->md = *md;
    buf->bytes = dnnl_memory_desc_get_size(md);
    buf->data = data;
    buf->external = true;
    int rc = cpu_check(dnnl_memory_create(&buf->mem, md, net->eng, data), "memory", err, errlen);
    if (!rc && cpu_request(net, buf, buf->bytes))
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    return rc;
}

void cpu_prim_set(struct cpu_prim *prim, int arg, struct cpu_buf *buf)
{
    for (int i = 0; i < prim->n; i++)
        if (prim->a[i].arg == arg)
            prim->a[i].buf = buf;
}

int cpu_weights_init(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *plain,
                     size_t w_off, size_t b_off, size_t b_count, char *err, size_t errlen)
{
    int rc = cpu_buf_external(net, &w->plain, plain, net->params + w_off, err, errlen);
    if (!rc && net->grads)
        rc = cpu_buf_external(net, &w->gplain, plain, net->grads + w_off, err, errlen);
    if (!rc && b_count) {
        dnnl_memory_desc_t bmd;
        dnnl_dims_t d = {(dnnl_dim_t)b_count};
        dnnl_memory_desc_init_by_tag(&bmd, 1, d, dnnl_f32, dnnl_a);
        rc = cpu_buf_external(net, &w->bias, &bmd, net->params + b_off, err, errlen);
        if (!rc && net->grads)
            rc = cpu_buf_external(net, &w->dbias, &bmd, net->grads + b_off, err, errlen);
    }
    w->fwd = w->bwd = &w->plain;
    w->grad = &w->gplain;
    return rc;
}

int cpu_weights_fwd(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                    char *err, size_t errlen)
{
    if (dnnl_memory_desc_equal(md, &w->plain.md))
        return 0;
    w->fwd_own.md = *md;
    w->fwd = &w->fwd_own;
    if (cpu_request(net, &w->fwd_own, 0))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    return cpu_reorder_create(net, &w->to_fwd, &w->plain, &w->fwd_own, err, errlen);
}

int cpu_weights_bwd(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                    char *err, size_t errlen)
{
    if (dnnl_memory_desc_equal(md, &w->plain.md))
        return 0;
    /* The forward reorder already ran this step: share its result. */
    if (dnnl_memory_desc_equal(md, &w->fwd->md)) {
        w->bwd = w->fwd;
        return 0;
    }
    w->bwd_own.md = *md;
    w->bwd = &w->bwd_own;
    if (cpu_request(net, &w->bwd_own, 0))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    return cpu_reorder_create(net, &w->to_bwd, &w->plain, &w->bwd_own, err, errlen);
}

int cpu_weights_grad(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                     char *err, size_t errlen)
{
    if (dnnl_memory_desc_equal(md, &w->gplain.md))
        return 0;
    w->grad_own.md = *md;
    w->grad = &w->grad_own;
    if (cpu_request(net, &w->grad_own, 0))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    return cpu_reorder_create(net, &w->from_grad, &w->grad_own, &w->gplain, err, errlen);
}

void cpu_weights_destroy(struct cpu_weights *w)
{
    cpu_prim_destroy(&w->to_fwd);
    cpu_prim_destroy(&w->to_bwd);
    cpu_prim_destroy(&w->from_grad);
}

void cpu_buf_rebind(struct cpu_buf *buf, float *data)
{
    buf->data = data;
    if (buf->mem)
        dnnl_memory_set_data_handle(buf->mem, data);
}

dnnl_primitive_attr_t cpu_attr(enum enevo_act act)
{
    dnnl_primitive_attr_t attr;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success)
        return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (act == ENEVO_ACT_RELU || act == ENEVO_ACT_SIGMOID) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_eltwise(po, 1.0f,
                                     act == ENEVO_ACT_RELU ? dnnl_eltwise_relu
                                                           : dnnl_eltwise_logistic,
                                     0.0f, 0.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    return attr;
}

int cpu_prim_create(struct cpu_net *net, struct cpu_prim *prim, dnnl_primitive_desc_t pd,
                    char *err, size_t errlen)
{
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sp_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (sp_bytes > net->scratch.bytes) {
        net->scratch.bytes = sp_bytes;
        net->scratch.md = *sp;
    }
    memset(prim, 0, sizeof *prim);
    prim->node = net->cur_node;
    dnnl_status_t st = dnnl_primitive_create(&prim->p, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success && sp_bytes)
        cpu_prim_arg(prim, DNNL_ARG_SCRATCHPAD, &net->scratch);
    if (st == dnnl_success) {
        if (net->n_prims == net->cap_prims) {
            int cap = net->cap_prims ? 2 * net->cap_prims : 32;
            struct cpu_prim **r = realloc(net->prims, sizeof *r * (size_t)cap);
            if (!r)
                return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
            net->prims = r;
            net->cap_prims = cap;
        }
        net->prims[net->n_prims++] = prim;
    }
    return cpu_check(st, "primitive creation", err, errlen);
}

void cpu_prim_arg(struct cpu_prim *prim, int arg, struct cpu_buf *buf)
{
    prim->a[prim->n].arg = arg;
    prim->a[prim->n].buf = buf;
    prim->n++;
}

void cpu_prim_exec(struct cpu_net *net, struct cpu_prim *prim)
{
    dnnl_exec_arg_t args[CPU_MAX_ARGS];
    for (int i = 0; i < prim->n; i++) {
        args[i].arg = prim->a[i].arg;
        args[i].memory = prim->a[i].buf->mem;
    }
    dnnl_primitive_execute(prim->p, net->stream, prim->n, args);
}

void cpu_prim_destroy(struct cpu_prim *prim)
{
    if (prim->p)
        dnnl_primitive_destroy(prim->p);
    prim->p = NULL;
}

int cpu_reorder_create(struct cpu_net *net, struct cpu_prim *prim, struct cpu_buf *from,
                       struct cpu_buf *to, char *err, size_t errlen)
{
    memset(prim, 0, sizeof *prim);
    if (dnnl_memory_desc_equal(&from->md, &to->md))
        return 0;
    dnnl_primitive_attr_t attr = cpu_attr(ENEVO_ACT_LINEAR);
    dnnl_primitive_desc_t pd;
    dnnl_status_t st =
        dnnl_reorder_primitive_desc_create(&pd, &from->md, net->eng, &to->md, net->eng, attr);
    dnnl_primitive_attr_destroy(attr);
    int rc = cpu_check(st, "reorder descriptor", err, errlen);
    if (rc)
        return rc;
    rc = cpu_prim_create(net, prim, pd, err, errlen);
    if (rc)
        return rc;
    cpu_prim_arg(prim, DNNL_ARG_FROM, from);
    cpu_prim_arg(prim, DNNL_ARG_TO, to);
    return 0;
}

void cpu_act_backward(enum enevo_act act, float *dy, const float *y, size_t n)
{
    if (act == ENEVO_ACT_RELU) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    } else if (act == ENEVO_ACT_SIGMOID) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            dy[i] *= y[i] * (1.0f - y[i]);
    }
}

static void add_into(float *dst, const float *src, size_t n)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

static const struct cpu_layer_ops *ops_for(enum enevo_layer_kind k)
{
    switch (k) {
    case ENEVO_LAYER_CONV:
        return &cpu_conv_ops;
    case ENEVO_LAYER_FC:
        return &cpu_fc_ops;
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG:
        return &cpu_pool_ops;
    case ENEVO_LAYER_BATCH_NORM:
        return &cpu_bn_ops;
    case ENEVO_LAYER_DROPOUT:
        return &cpu_dropout_ops;
    case ENEVO_LAYER__COUNT:
        break;
    }
    return NULL;
}

static struct cpu_buf *producer_dst(struct cpu_net *net, int in)
{
    return in < 0 ? &net->image : &net->nodes[in].dst;
}

/* The layer reads its input in `md`: a view of the producer when it has a
 * single input already in that format, else a buffer of its own. */
static int setup_input(struct cpu_exec *ex, struct cpu_node *node, char *err, size_t errlen)
{
    struct cpu_net *net = &ex->net;
    const struct enevo_plan_node *pn = node->pn;
    struct cpu_input *ci = &ex->inputs[node->index];
    if (node->src != &node->src_own)
        return 0;
    int rc = cpu_request(net, &node->src_own, 0);
    if (rc)
        return enevo_errf(err, errlen, rc, "out of memory");
    if (pn->n_in == 1)
        return cpu_reorder_create(net, &ci->fwd, producer_dst(net, pn->in[0]), &node->src_own,
                                  err, errlen);
    /* A sum of several inputs, whatever their formats. */
    cpu_own_kernel(net, "sum");
    for (int k = 0; k < pn->n_in; k++) {
        struct cpu_buf *src = producer_dst(net, pn->in[k]);
        ci->sum_src[k] = src;
        if (dnnl_memory_desc_equal(&src->md, &node->src_own.md))
            continue;
        ci->same[k].md = node->src_own.md;
        ci->sum_src[k] = &ci->same[k];
        if (cpu_request(net, &ci->same[k], 0))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        if ((rc = cpu_reorder_create(net, &ci->to_same[k], src, &ci->same[k], err, errlen)))
            return rc;
    }
    return 0;
}

/* Element-wise adds, compiled for AVX2 and baseline x86-64 (picked at load
 * time, as pool_own.c's loops). */
__attribute__((target_clones("avx2", "default"))) static void add2(float *d, const float *a,
                                                                   const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] + b[i];
}

__attribute__((target_clones("avx2", "default"))) static void add1(float *d, const float *a,
                                                                   size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] += a[i];
}

/* dst = the sum of n buffers of dst's size and format (padding included:
 * oneDNN keeps the padding of blocked formats at zero), in chunks over
 * the threads. */
static void sum_into(struct cpu_buf *dst, struct cpu_buf *const *src, int n)
{
    const size_t chunk = 16384;
    size_t len = dst->bytes / sizeof(float);
    long chunks = (long)((len + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t o = (size_t)c * chunk, m = len - o < chunk ? len - o : chunk;
        add2(dst->data + o, src[0]->data + o, src[1]->data + o, m);
        for (int k = 2; k < n; k++)
            add1(dst->data + o, src[k]->data + o, m);
    }
}

/* Gradient routing: a layer writes d(src) straight into its producer's
 * diff_dst when it is that producer's only consumer and reads its output
 * as is; otherwise into diff_src_own, which is added (reordered if needed)
 * into each producer's diff_dst. */
static int setup_diff_src(struct cpu_exec *ex, struct cpu_node *node, char *err, size_t errlen)
{
    struct cpu_net *net = &ex->net;
    const struct enevo_plan_node *pn = node->pn;
    node->needs_diff_src = false;
    for (int k = 0; k < pn->n_in; k++)
        if (pn->in[k] >= 0)
            node->needs_diff_src = true;
    if (!node->needs_diff_src)
        return 0;
    if (pn->n_in == 1 && node->src != &node->src_own &&
        net->plan->nodes[pn->in[0]].n_consumers == 1) {
        node->diff_src = &net->nodes[pn->in[0]].diff_dst;
        return 0;
    }
    node->diff_src = &node->diff_src_own;
    node->diff_src_own.md = node->src->md;
    int rc = cpu_request(net, &node->diff_src_own, 0);
    if (rc)
        return enevo_errf(err, errlen, rc, "out of memory");
    struct cpu_input *ci = &ex->inputs[node->index];
    size_t tmp_bytes = 0;
    for (int k = 0; k < pn->n_in; k++) {
        if (pn->in[k] < 0)
            continue;
        struct cpu_buf *target = &net->nodes[pn->in[k]].diff_dst;
        ex->accumulate[pn->in[k]] = true;
        if (!dnnl_memory_desc_equal(&target->md, &node->diff_src_own.md)) {
            size_t b = dnnl_memory_desc_get_size(&target->md);
            if (b > tmp_bytes) {
                tmp_bytes = b;
                ci->tmp.md = target->md;
            }
        }
    }
    if (tmp_bytes) {
        if ((rc = cpu_request(net, &ci->tmp, tmp_bytes)))
            return enevo_errf(err, errlen, rc, "out of memory");
    }
    return 0;
}

/* Reorders for the scatter need ci->tmp's md per producer; tmp is sized for
 * the largest and each reorder gets its own view descriptor. */
struct cpu_scatter_view {
    struct cpu_buf view[ENEVO_MAX_INPUTS];
};

static int setup_scatter(struct cpu_exec *ex, struct cpu_node *node, struct cpu_scatter_view *sv,
                         char *err, size_t errlen)
{
    struct cpu_net *net = &ex->net;
    const struct enevo_plan_node *pn = node->pn;
    struct cpu_input *ci = &ex->inputs[node->index];
    if (node->diff_src != &node->diff_src_own)
        return 0;
    for (int k = 0; k < pn->n_in; k++) {
        if (pn->in[k] < 0)
            continue;
        struct cpu_buf *target = &net->nodes[pn->in[k]].diff_dst;
        if (dnnl_memory_desc_equal(&target->md, &node->diff_src_own.md))
            continue;
        sv->view[k].md = target->md;
        sv->view[k].bytes = dnnl_memory_desc_get_size(&target->md);
        sv->view[k].data = ci->tmp.data;
        sv->view[k].external = true;
        int rc = cpu_check(dnnl_memory_create(&sv->view[k].mem, &sv->view[k].md, net->eng,
                                              ci->tmp.data),
                           "memory", err, errlen);
        if (rc)
            return rc;
        if ((rc = cpu_reorder_create(net, &ci->bwd[k], &node->diff_src_own, &sv->view[k], err,
                                     errlen)))
            return rc;
    }
    return 0;
}

struct cpu_impl {
    struct cpu_exec ex;
    struct cpu_scatter_view *views; /* one per node */
};

static void cpu_destroy(void *impl_)
{
    struct cpu_impl *impl = impl_;
    if (!impl)
        return;
    struct cpu_exec *ex = &impl->ex;
    struct cpu_net *net = &ex->net;
    /* Memories first: some buffers live in the layers' private state. */
    for (int i = 0; i < net->n_reqs; i++)
        if (net->reqs[i]->mem)
            dnnl_memory_destroy(net->reqs[i]->mem);
    if (net->nodes) {
        for (int i = 0; i < net->plan->n; i++) {
            struct cpu_node *node = &net->nodes[i];
            if (node->ops && node->ops->destroy)
                node->ops->destroy(node);
            cpu_prim_destroy(&ex->inputs[i].fwd);
            for (int k = 0; k < ENEVO_MAX_INPUTS; k++) {
                cpu_prim_destroy(&ex->inputs[i].to_same[k]);
                cpu_prim_destroy(&ex->inputs[i].bwd[k]);
                if (impl->views && impl->views[i].view[k].mem)
                    dnnl_memory_destroy(impl->views[i].view[k].mem);
            }
        }
    }
    free(net->reqs);
    free(net->prims);
    free(net->arena);
    free(net->nodes);
    free(ex->inputs);
    free(ex->accumulate);
    free(impl->views);
    if (net->stream)
        dnnl_stream_destroy(net->stream);
    if (net->eng)
        dnnl_engine_destroy(net->eng);
    free(impl);
}

static int alloc_arena(struct cpu_net *net, char *err, size_t errlen)
{
    if (net->scratch.bytes)
        if (cpu_request(net, &net->scratch, net->scratch.bytes))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    size_t total = 0;
    for (int i = 0; i < net->n_reqs; i++)
        if (!net->reqs[i]->external)
            total += (net->reqs[i]->bytes + 63) & ~(size_t)63;
    net->arena_bytes = total;
    if (total && posix_memalign(&net->arena, 64, total))
        return enevo_errf(err, errlen, ENEVO_ENOMEM,
                          "out of memory: the network's activations need %.1f MiB",
                          (double)total / (1 << 20));
    if (total)
        memset(net->arena, 0, total);
    size_t off = 0;
    for (int i = 0; i < net->n_reqs; i++) {
        struct cpu_buf *b = net->reqs[i];
        if (b->external)
            continue;
        b->data = (float *)((char *)net->arena + off);
        off += (b->bytes + 63) & ~(size_t)63;
        /* The scratchpad md may be a byte buffer; everything else is f32. */
        int rc = cpu_check(dnnl_memory_create(&b->mem, &b->md, net->eng, b->data), "memory", err,
                           errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int cpu_create(const struct enevo_plan *plan, const struct enevo_net_opts *opts,
                      float *params, float *grads, float *stats, void **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct cpu_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    struct cpu_exec *ex = &impl->ex;
    struct cpu_net *net = &ex->net;
    net->plan = plan;
    net->opts = *opts;
    net->batch = opts->batch;
    net->params = params;
    net->grads = grads;
    net->stats = stats;
    net->cur_node = -1;
    if (opts->threads > 0)
        omp_set_num_threads(opts->threads);
    int rc = cpu_check(dnnl_engine_create(&net->eng, dnnl_cpu, 0), "engine", err, errlen);
    if (!rc)
        rc = cpu_check(dnnl_stream_create(&net->stream, net->eng, dnnl_stream_default_flags),
                       "stream", err, errlen);
    net->nodes = calloc((size_t)plan->n, sizeof *net->nodes);
    ex->inputs = calloc((size_t)plan->n, sizeof *ex->inputs);
    ex->accumulate = calloc((size_t)plan->n, sizeof *ex->accumulate);
    impl->views = calloc((size_t)plan->n, sizeof *impl->views);
    if (!rc && (!net->nodes || !ex->inputs || !ex->accumulate || !impl->views))
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    if (!rc) {
        dnnl_memory_desc_t md;
        cpu_md_plain(&md, net->batch, plan->input.c, plan->input.h, plan->input.w, false);
        rc = cpu_buf_external(net, &net->image, &md, NULL, err, errlen);
    }
    for (int i = 0; !rc && i < plan->n; i++) {
        struct cpu_node *node = &net->nodes[i];
        node->pn = &plan->nodes[i];
        node->index = i;
        node->ops = ops_for(node->pn->spec.kind);
        net->cur_node = i;
        /* Default input: the first producer's output, as is. A layer that
         * wants another format sets node->src = &node->src_own with its md. */
        struct cpu_buf *first = producer_dst(net, node->pn->in[0]);
        if (node->pn->n_in == 1) {
            node->src = first;
        } else {
            node->src = &node->src_own;
            node->src_own.md = first->md;
        }
        rc = node->ops->setup(net, node, err, errlen);
        if (!rc)
            rc = setup_input(ex, node, err, errlen);
        if (!rc && cpu_request(net, &node->dst, 0))
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        if (!rc && opts->training) {
            node->diff_dst.md = node->dst.md;
            if (cpu_request(net, &node->diff_dst, 0))
                rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        }
        if (!rc && opts->training)
            rc = setup_diff_src(ex, node, err, errlen);
        if (rc && !strstr(err, "layer"))
            enevo_errf(err, errlen, rc, "%s: %s", node->ops->name, err);
    }
    net->cur_node = -1;
    if (!rc)
        rc = alloc_arena(net, err, errlen);
    for (int i = 0; !rc && opts->training && i < plan->n; i++) {
        net->cur_node = i;
        rc = setup_scatter(ex, &net->nodes[i], &impl->views[i], err, errlen);
    }
    net->cur_node = -1;
    for (int h = 0; !rc && h < 2; h++) {
        int idx = h ? plan->output2 : plan->output;
        if (idx < 0)
            continue;
        dnnl_memory_desc_t want;
        cpu_md_plain(&want, net->batch, plan->n_classes, 1, 1, true);
        if (!dnnl_memory_desc_equal(&net->nodes[idx].dst.md, &want))
            rc = enevo_errf(err, errlen, ENEVO_EBACKEND, "output layer is not a plain [N, C] tensor");
    }
    if (rc) {
        cpu_destroy(impl);
        return rc;
    }
    *out = impl;
    return 0;
}

static int cpu_forward(void *impl_, const float *x, bool train, uint64_t key, bool params_changed,
                       float *logits, float *logits2)
{
    struct cpu_impl *impl = impl_;
    struct cpu_exec *ex = &impl->ex;
    struct cpu_net *net = &ex->net;
    net->dropout_key = key;
    net->weights_stale = params_changed;
    cpu_buf_rebind(&net->image, (float *)x);
    for (int i = 0; i < net->plan->n; i++) {
        struct cpu_node *node = &net->nodes[i];
        if (node->src == &node->src_own) {
            struct cpu_input *ci = &ex->inputs[i];
            for (int k = 0; k < node->pn->n_in; k++)
                if (ci->to_same[k].p)
                    cpu_prim_exec(net, &ci->to_same[k]);
            if (node->pn->n_in > 1)
                sum_into(&node->src_own, ci->sum_src, node->pn->n_in);
            else if (ci->fwd.p)
                cpu_prim_exec(net, &ci->fwd);
            else
                memcpy(node->src_own.data, producer_dst(net, node->pn->in[0])->data,
                       node->src_own.bytes);
        }
        node->ops->forward(net, node, train);
    }
    dnnl_stream_wait(net->stream);
    size_t n = (size_t)net->batch * (size_t)net->plan->n_classes;
    for (int h = 0; h < 2; h++) {
        int idx = h ? net->plan->output2 : net->plan->output;
        float *out = h ? logits2 : logits;
        if (idx < 0 || !out)
            continue;
        memcpy(out, net->nodes[idx].dst.data, sizeof(float) * n);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(out[i]))
                return ENEVO_ENUMERIC;
    }
    return 0;
}

static int cpu_backward(void *impl_, const float *dlogits, const float *dlogits2)
{
    struct cpu_impl *impl = impl_;
    struct cpu_exec *ex = &impl->ex;
    struct cpu_net *net = &ex->net;
    if (!net->opts.training)
        return ENEVO_EINVAL;
    for (int i = 0; i < net->plan->n; i++)
        if (ex->accumulate[i])
            memset(net->nodes[i].diff_dst.data, 0, net->nodes[i].diff_dst.bytes);
    for (int h = 0; h < 2; h++) {
        int idx = h ? net->plan->output2 : net->plan->output;
        if (idx >= 0)
            memcpy(net->nodes[idx].diff_dst.data, h ? dlogits2 : dlogits,
                   sizeof(float) * (size_t)net->batch * (size_t)net->plan->n_classes);
    }
    for (int i = net->plan->n - 1; i >= 0; i--) {
        struct cpu_node *node = &net->nodes[i];
        node->ops->backward(net, node);
        if (!node->needs_diff_src || node->diff_src != &node->diff_src_own)
            continue;
        struct cpu_input *ci = &ex->inputs[i];
        for (int k = 0; k < node->pn->n_in; k++) {
            int in = node->pn->in[k];
            if (in < 0)
                continue;
            struct cpu_buf *target = &net->nodes[in].diff_dst;
            if (ci->bwd[k].p) {
                cpu_prim_exec(net, &ci->bwd[k]);
                dnnl_stream_wait(net->stream);
                add_into(target->data, ci->tmp.data, target->bytes / sizeof(float));
            } else {
                add_into(target->data, node->diff_src_own.data, target->bytes / sizeof(float));
            }
        }
    }
    dnnl_stream_wait(net->stream);
    return 0;
}

static size_t cpu_arena_bytes(void *impl_)
{
    struct cpu_impl *impl = impl_;
    return impl->ex.net.arena_bytes;
}

const char *enevo_cpu_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41:
        return "SSE41";
    case dnnl_cpu_isa_avx:
        return "AVX";
    case dnnl_cpu_isa_avx2:
        return "AVX2";
    case dnnl_cpu_isa_avx2_vnni:
        return "AVX2_VNNI";
    case dnnl_cpu_isa_avx512_mic:
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "AVX512_MIC";
    case dnnl_cpu_isa_avx512_core:
        return "AVX512_CORE";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "AVX512_CORE_VNNI";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "AVX512_CORE_BF16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "AVX512_CORE_AMX";
    default:
        return "unknown";
    }
}

static int cpu_kernels(void *impl_, struct enevo_kernel *out, int max)
{
    struct cpu_impl *impl = impl_;
    struct cpu_net *net = &impl->ex.net;
    for (int i = 0; i < net->n_prims && i < max; i++) {
        const struct cpu_prim *pr = net->prims[i];
        const_dnnl_primitive_desc_t pd = NULL;
        const char *name = NULL;
        dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
        dnnl_prop_kind_t prop = dnnl_prop_kind_undef;
        dnnl_primitive_get_primitive_desc(pr->p, &pd);
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
        dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind);
        /* Reorders, sums and concats have no propagation kind. */
        if (kind != dnnl_reorder && kind != dnnl_sum && kind != dnnl_concat)
            dnnl_primitive_desc_query(pd, dnnl_query_prop_kind, 0, &prop);
        struct enevo_kernel *k = &out[i];
        k->node = pr->node;
        snprintf(k->op, sizeof k->op, "%s%s%s", dnnl_prim_kind2str(kind),
                 prop == dnnl_prop_kind_undef ? "" : " ",
                 prop == dnnl_prop_kind_undef ? "" : dnnl_prop_kind2str(prop));
        snprintf(k->impl, sizeof k->impl, "%s", name ? name : "?");
        k->reference = cpu_impl_is_reference(name);
    }
    /* The loops are compiled for AVX2 and baseline x86-64 (target_clones). */
    __builtin_cpu_init();
    const char *isa = __builtin_cpu_supports("avx2") ? "enevo:avx2" : "enevo:x86-64";
    for (int i = 0; i < net->n_own && net->n_prims + i < max; i++) {
        struct enevo_kernel *k = &out[net->n_prims + i];
        k->node = net->own[i].node;
        snprintf(k->op, sizeof k->op, "%s", net->own[i].op);
        snprintf(k->impl, sizeof k->impl, "%s", isa);
        k->reference = false;
    }
    return net->n_prims + net->n_own;
}

const struct enevo_backend enevo_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .forward = cpu_forward,
    .backward = cpu_backward,
    .arena_bytes = cpu_arena_bytes,
    .kernels = cpu_kernels,
};
