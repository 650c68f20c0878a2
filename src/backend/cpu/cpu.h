/* src/backend/cpu/cpu.h — the oneDNN CPU executor. Internal.
 *
 * Every activation keeps the memory format oneDNN chose for the layer that
 * produced it (nChw16c blocked for most convs), from layer to layer: pool,
 * batch-norm, dropout and the fc that flattens it all read that format, so a
 * training step reorders only the image at the input and the small weight
 * tensors. Buffers are carved from one arena sized before the first step;
 * all primitives share one user-managed scratchpad. */
#ifndef ENEVO_CPU_H
#define ENEVO_CPU_H

#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"

/* A buffer in the arena with its oneDNN memory descriptor. */
struct cpu_buf {
    dnnl_memory_desc_t md;
    size_t bytes;
    float *data;        /* set when the arena is allocated */
    dnnl_memory_t mem;  /* created when the arena is allocated */
    bool external;      /* data points into caller memory (params/grads) */
};

#define CPU_MAX_ARGS 12

/* A primitive with its arguments, bound to buffers (not memories) so the
 * arena can be placed after all primitives are created. */
struct cpu_prim {
    dnnl_primitive_t p;
    int node; /* plan node that created it (-1: the net), for enevo_net_kernels */
    int n;
    struct {
        int arg;
        struct cpu_buf *buf;
    } a[CPU_MAX_ARGS];
};

struct cpu_net;

struct cpu_node {
    const struct enevo_plan_node *pn;
    const struct cpu_layer_ops *ops;
    int index;
    /* Input as this layer reads it: either the producer's dst (a view) or
     * src_own, filled by a reorder and/or a sum of several inputs. */
    struct cpu_buf *src;
    struct cpu_buf src_own;
    struct cpu_buf dst;
    /* Gradient wrt dst, accumulated from consumers; and wrt src, which is
     * either the producer's diff_dst (a view) or diff_src_own, scattered
     * back to the producers after backward. */
    struct cpu_buf diff_dst;
    struct cpu_buf *diff_src;
    struct cpu_buf diff_src_own;
    bool needs_diff_src; /* some input is not the image */
    void *priv;          /* the layer kind's own state */
};

struct cpu_layer_ops {
    const char *name;
    /* node->src->md is set; create primitives, set node->dst.md and request
     * buffers with cpu_request. */
    int (*setup)(struct cpu_net *net, struct cpu_node *node, char *err, size_t errlen);
    void (*forward)(struct cpu_net *net, struct cpu_node *node, bool train);
    /* node->diff_dst holds the gradient; write parameter gradients and, if
     * node->needs_diff_src, node->diff_src. */
    void (*backward)(struct cpu_net *net, struct cpu_node *node);
    void (*destroy)(struct cpu_node *node);
};

struct cpu_net {
    const struct enevo_plan *plan;
    struct enevo_net_opts opts;
    int batch;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    struct cpu_node *nodes;
    /* the caller's parameter, gradient and statistics blocks */
    float *params;
    float *grads;
    float *stats;
    uint64_t dropout_key;
    bool weights_stale;         /* reorder weights before this forward */
    struct cpu_buf image;       /* the input batch, plain nchw (external) */
    struct cpu_buf scratch;     /* shared scratchpad */
    /* Every primitive created, in creation order, for enevo_net_kernels;
     * cur_node is the plan node being set up (-1 outside a node). */
    struct cpu_prim **prims;
    int n_prims, cap_prims, cur_node;
    /* enevo's own loops used instead of a primitive (reported after them). */
    struct {
        int node;
        const char *op;
    } own[64];
    int n_own;
    /* arena */
    struct cpu_buf **reqs;
    int n_reqs, cap_reqs;
    void *arena;
    size_t arena_bytes;
};

/* Ask for a buffer of buf->md's size in the arena (or an explicit size when
 * bytes != 0). Returns 0 or ENEVO_ENOMEM. */
int cpu_request(struct cpu_net *net, struct cpu_buf *buf, size_t bytes);
/* Create a primitive from a primitive descriptor. The descriptor's
 * scratchpad grows the shared one. Frees pd. */
int cpu_prim_create(struct cpu_net *net, struct cpu_prim *prim, dnnl_primitive_desc_t pd,
                    char *err, size_t errlen);
void cpu_prim_arg(struct cpu_prim *prim, int arg, struct cpu_buf *buf);
void cpu_prim_exec(struct cpu_net *net, struct cpu_prim *prim);
void cpu_prim_destroy(struct cpu_prim *prim);
/* A reorder primitive from one buffer's md to another's, or p == NULL if
 * the two are equal (then the caller copies or aliases). */
int cpu_reorder_create(struct cpu_net *net, struct cpu_prim *prim, struct cpu_buf *from,
                       struct cpu_buf *to, char *err, size_t errlen);
/* A primitive attribute with the user scratchpad mode and, if act is relu
 * or sigmoid, that activation as a post-op. Caller destroys. */
dnnl_primitive_attr_t cpu_attr(enum enevo_act act);
/* Plain memory descriptor: nchw (4 dims) or nc (2 dims). */
void cpu_md_plain(dnnl_memory_desc_t *md, int n, int c, int h, int w, bool flat);
void cpu_md_any(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims);
/* Elementwise gradient of a fused activation, in place: dy *= f'(y). */
void cpu_act_backward(enum enevo_act act, float *dy, const float *y, size_t n);
/* A buffer over caller memory (params, grads, stats, the image); its
 * memory object is created now and destroyed with the net. */
int cpu_buf_external(struct cpu_net *net, struct cpu_buf *buf, const dnnl_memory_desc_t *md,
                     float *data, char *err, size_t errlen);
/* Replace the buffer bound to `arg` (e.g. DIFF_SRC, decided after setup). */
void cpu_prim_set(struct cpu_prim *prim, int arg, struct cpu_buf *buf);

/* Weights of a conv or fc: the plain tensor in the flat block, and the
 * formats the forward, backward-data and backward-weights primitives chose,
 * with the reorders between them (none when a primitive takes plain). */
struct cpu_weights {
    struct cpu_buf plain, gplain;    /* external: params / grads */
    struct cpu_buf fwd_own, bwd_own, grad_own;
    struct cpu_buf *fwd, *bwd, *grad;
    struct cpu_prim to_fwd, to_bwd, from_grad;
    struct cpu_buf bias, dbias;      /* external, plain; bias.data NULL if none */
};
int cpu_weights_init(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *plain,
                     size_t w_off, size_t b_off, size_t b_count, char *err, size_t errlen);
/* md: the format a primitive wants for weights (fwd/bwd) or diff weights. */
int cpu_weights_fwd(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                    char *err, size_t errlen);
int cpu_weights_bwd(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                    char *err, size_t errlen);
int cpu_weights_grad(struct cpu_net *net, struct cpu_weights *w, const dnnl_memory_desc_t *md,
                     char *err, size_t errlen);
void cpu_weights_destroy(struct cpu_weights *w);
/* Re-point an external buffer's memory at new data. */
void cpu_buf_rebind(struct cpu_buf *buf, float *data);
/* Record that node net->cur_node runs enevo's own loops for `op` (a static
 * string), for enevo_net_kernels. */
void cpu_own_kernel(struct cpu_net *net, const char *op);
/* True when oneDNN picked a reference (non-JIT) implementation. */
bool cpu_pd_is_reference(const_dnnl_primitive_desc_t pd);
/* True for an implementation name oneDNN gives its reference kernels. */
bool cpu_impl_is_reference(const char *impl);
/* The first implementation of op descriptor d that is not a reference one
 * (oneDNN lists them best first): dnnl_success and *pd, or
 * dnnl_unimplemented when only reference kernels take these formats. */
dnnl_status_t cpu_pd_create_fast(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t d,
                                 const_dnnl_primitive_attr_t attr, dnnl_engine_t eng,
                                 const_dnnl_primitive_desc_t hint);
/* A plain (row-major: nchw, nc, a) f32 descriptor with like's dimensions. */
void cpu_md_plain_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like);
int cpu_check(dnnl_status_t st, const char *what, char *err, size_t errlen);

/* Layers with weights (conv, fc): shapes and the three op descriptors. */
union cpu_op_desc {
    dnnl_convolution_desc_t conv;
    dnnl_inner_product_desc_t ip;
};
struct cpu_wshape {
    const struct enevo_plan_node *pn;
    enum enevo_act act; /* fused into the forward */
    bool bias;
    bool try_producer_format; /* read the producer's format if a JIT kernel takes it */
    /* Try plain formats (weights as the flat block keeps them) first: a
     * training fc with more outputs than the batch reorders its weights
     * twice a step otherwise, which costs more than reordering its input. */
    bool prefer_plain;
    dnnl_memory_desc_t src_any, w_any, w_plain, b_md, dst;
};
struct cpu_wkind {
    dnnl_status_t (*fwd)(union cpu_op_desc *d, dnnl_prop_kind_t prop,
                         const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *w,
                         const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *dst,
                         const struct cpu_wshape *s);
    dnnl_status_t (*bwd_weights)(union cpu_op_desc *d, const dnnl_memory_desc_t *src,
                                 const dnnl_memory_desc_t *dw, const dnnl_memory_desc_t *db,
                                 const dnnl_memory_desc_t *ddst, const struct cpu_wshape *s);
    dnnl_status_t (*bwd_data)(union cpu_op_desc *d, const dnnl_memory_desc_t *dsrc,
                              const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *ddst,
                              const struct cpu_wshape *s);
    const char *what_fwd, *what_bwd_weights, *what_bwd_data;
};
int cpu_wlayer_setup(struct cpu_net *net, struct cpu_node *node, const struct cpu_wkind *k,
                     const struct cpu_wshape *s, char *err, size_t errlen);
void cpu_wlayer_forward(struct cpu_net *net, struct cpu_node *node, bool train);
void cpu_wlayer_backward(struct cpu_net *net, struct cpu_node *node);
void cpu_wlayer_destroy(struct cpu_node *node);

extern const struct cpu_layer_ops cpu_conv_ops, cpu_fc_ops, cpu_pool_ops, cpu_bn_ops,
    cpu_dropout_ops;

#endif
