/* The CUDA executor: cuDNN convolutions, cuBLAS fully connected layers and
 * the own kernels of cuda_kernels.cuh, in plain NCHW device buffers.
 *
 * - Parameters, gradients and statistics have one flat device block each,
 *   laid out like the host blocks (src/nn/plan.h), so a push or a pull is
 *   one copy.
 * - Host mode (forward/backward of the backend interface): the host blocks
 *   are the reference; inputs, logits, gradients and running statistics are
 *   copied per call. Used by tests and gradient checks.
 * - Device mode (bind_data/train_steps/evaluate): data sets live in device
 *   memory, and one training step (gather, forward, loss, backward,
 *   optimiser update, step bookkeeping) is captured once as a CUDA graph and
 *   replayed, so a small net costs one launch per step instead of ~50.
 * - Deterministic: cuDNN algorithms chosen by heuristics (not timing) among
 *   the deterministic ones, cuBLAS on one stream with a fixed workspace, and
 *   our reductions in a fixed order. Strict fp32 unless opts->tf32.
 * - Input gradients flow by "first writer copies, later writers add": in
 *   reverse topological order the first consumer of a tensor writes its
 *   gradient (directly into the producer's buffer when it has one input),
 *   later consumers add theirs. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "backend/backend.h"
#include "enevo/error.h"
}
#include "backend/cuda/cuda_kernels.cuh"
#include "backend/cuda/cuda_optim.h"

extern "C" int enevo__cuda_index(const char *device);

#define CONV_WS_LIMIT ((size_t)512 << 20)

struct cnode {
    const struct enevo_plan_node *pn;
    int index;
    int c, h, w;    /* output */
    int ci, hi, wi; /* input */
    size_t out_n, in_n;
    float *y, *dy;
    float *x;      /* the input: a producer's y, the image, or x_own (merge) */
    float *x_own;
    float *dx;     /* d input: a producer's dy (direct) or dx_own */
    float *dx_own;
    bool need_dx;  /* some input needs a gradient */
    bool direct;   /* dx is the single producer's dy (first writer) */
    bool acc[ENEVO_MAX_INPUTS];
    int act;
    /* conv */
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t fa;
    cudnnConvolutionBwdDataAlgo_t da;
    cudnnConvolutionBwdFilterAlgo_t wa;
    int pl, pr, hp, wp; /* explicit padding when top/left != bottom/right */
    float *xp, *dxp;
    /* pool */
    int *arg;
    /* batch norm */
    float *mean, *invstd;
};

struct cu_net {
    const struct enevo_plan *plan;
    struct enevo_net_opts opts;
    int dev, batch, n;
    float *h_params, *h_grads, *h_stats; /* the caller's host blocks */
    float *params, *grads, *stats;       /* device */
    struct cnode *nodes;
    float *input;    /* [batch, img] */
    uint8_t *labels; /* [batch] */
    size_t img;
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws, *blas_ws;
    size_t ws_bytes;
    cu_ctl *ctl;
    double *acc;
    double *part;      /* per-channel reduction partials (k_chan_partial) */
    size_t part_count;
    size_t bytes; /* device memory held */
    bool last_train;
    /* bound data sets */
    float *dx_set[3];
    uint8_t *dy_set[3];
    int dn[3];
    /* device training */
    int *order;
    unsigned long long *keys;
    int order_cap, keys_cap;
    struct cuda_optim *co;
    const struct enevo_optim *co_host;
    long long co_t_seen; /* o->t when the device state was last in step with it */
    long long t_dev;     /* the optimiser's step count on the device */
    cudaGraphExec_t graph;
    double graph_w1;     /* the head weight baked into the graph */
    cudaGraphExec_t infer_graph; /* forward_again: one inference pass */
    bool infer_graph_failed;
    bool graph_failed;
};

static int cu_report(const char *what, const char *why)
{
    fprintf(stderr, "enevo: CUDA backend: %s failed: %s\n", what, why);
    return ENEVO_EBACKEND;
}

#define CK(call)                                                                                  \
    do {                                                                                          \
        cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess)                                                                    \
            return cu_report(#call, cudaGetErrorString(e_));                                      \
    } while (0)
#define CKDNN(call)                                                                               \
    do {                                                                                          \
        cudnnStatus_t s_ = (call);                                                                \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                           \
            return cu_report(#call, cudnnGetErrorString(s_));                                     \
    } while (0)
#define CKBLAS(call)                                                                              \
    do {                                                                                          \
        cublasStatus_t s_ = (call);                                                               \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                          \
            return cu_report(#call, cublasGetStatusString(s_));                                   \
    } while (0)
#define LAUNCHED() CK(cudaGetLastError())

static int dalloc(struct cu_net *n, void **p, size_t bytes)
{
    *p = NULL;
    if (!bytes)
        return 0;
    CK(cudaMalloc(p, bytes));
    n->bytes += bytes;
    return 0;
}
#define DALLOC(n, p, count) dalloc((n), (void **)&(p), sizeof(*(p)) * (size_t)(count))

/* First half of a per-channel reduction into n->part; returns the slices. */
static int chan_reduce(struct cu_net *n, const float *a, const float *b, const float *mean,
                       const float *invstd, int channels, int hw, int mode, int *slices)
{
    *slices = chan_slices((size_t)n->batch * hw);
    k_chan_partial<<<dim3((unsigned)*slices, (unsigned)channels), CU_THREADS, 0, n->stream>>>(
        a, b, mean, invstd, n->batch, channels, hw, mode, n->part);
    LAUNCHED();
    return 0;
}

static unsigned per_channel_blocks(int channels) { return (unsigned)((channels + 255) / 256); }

/* Bias gradient: the per-channel sum of dz. */
static int bias_grad(struct cu_net *n, const float *dz, float *db, int channels, int hw)
{
    int sl, rc = chan_reduce(n, dz, NULL, NULL, NULL, channels, hw, CHAN_SUM, &sl);
    if (rc)
        return rc;
    k_chan_sum_finish<<<per_channel_blocks(channels), 256, 0, n->stream>>>(n->part, sl, channels,
                                                                          db);
    LAUNCHED();
    return 0;
}

static int act_of(const struct enevo_plan_node *pn)
{
    if (pn->spec.kind != ENEVO_LAYER_CONV && pn->spec.kind != ENEVO_LAYER_FC)
        return CU_ACT_LINEAR;
    switch (pn->spec.act) {
    case ENEVO_ACT_RELU:
        return CU_ACT_RELU;
    case ENEVO_ACT_SIGMOID:
        return CU_ACT_SIGMOID;
    default: /* softmax is fused into the loss */
        return CU_ACT_LINEAR;
    }
}

/* ---- convolution set-up: descriptors and deterministic algorithms ---- */

/* The first of cuDNN's heuristic ranking (perf[0..got)) that works, fits
 * the workspace limit and is deterministic; in strict mode an FMA (no
 * tensor core) one if there is one. -1 if none. The three perf struct
 * types share these fields, hence a macro. */
#define PICK_ALGO(perf, got, strict, pick)                                                        \
    do {                                                                                          \
        (pick) = -1;                                                                              \
        for (int pass_ = 0; pass_ < 2 && (pick) < 0; pass_++)                                     \
            for (int i_ = 0; i_ < (got) && (pick) < 0; i_++)                                      \
                if ((perf)[i_].status == CUDNN_STATUS_SUCCESS &&                                  \
                    (perf)[i_].memory <= CONV_WS_LIMIT &&                                         \
                    (perf)[i_].determinism == CUDNN_DETERMINISTIC &&                              \
                    (pass_ || !(strict) || (perf)[i_].mathType == CUDNN_FMA_MATH))                \
                    (pick) = i_;                                                                  \
    } while (0)

static int conv_setup(struct cu_net *n, struct cnode *c, char *err, size_t errlen)
{
    const struct enevo_plan_node *pn = c->pn;
    int k = pn->spec.kernel_size, s = pn->stride;
    c->pl = pn->pad_l;
    c->pr = pn->pad_r;
    bool explicit_pad = c->pl != c->pr;
    c->hp = explicit_pad ? c->hi + c->pl + c->pr : c->hi;
    c->wp = explicit_pad ? c->wi + c->pl + c->pr : c->wi;
    int pad = explicit_pad ? 0 : c->pl;
    CKDNN(cudnnCreateTensorDescriptor(&c->xd));
    CKDNN(cudnnCreateTensorDescriptor(&c->yd));
    CKDNN(cudnnCreateFilterDescriptor(&c->wd));
    CKDNN(cudnnCreateConvolutionDescriptor(&c->cd));
    CKDNN(cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n->batch, c->ci,
                                     c->hp, c->wp));
    CKDNN(cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n->batch, c->c,
                                     c->h, c->w));
    CKDNN(cudnnSetFilter4dDescriptor(c->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c->c, c->ci, k, k));
    CKDNN(cudnnSetConvolution2dDescriptor(c->cd, pad, pad, s, s, 1, 1, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT));
    cudnnMathType_t math = n->opts.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    CKDNN(cudnnSetConvolutionMathType(c->cd, math));
    int on, oc, oh, ow;
    CKDNN(cudnnGetConvolution2dForwardOutputDim(c->cd, c->xd, c->wd, &on, &oc, &oh, &ow));
    if (on != n->batch || oc != c->c || oh != c->h || ow != c->w)
        return enevo_errf(err, errlen, ENEVO_EBACKEND,
                          "CUDA backend: convolution output %dx%dx%d, the plan says %dx%dx%d", oc,
                          oh, ow, c->c, c->h, c->w);
    if (explicit_pad) {
        size_t np = (size_t)n->batch * c->ci * c->hp * c->wp;
        if (DALLOC(n, c->xp, np) || (n->opts.training && DALLOC(n, c->dxp, np)))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
    }
    /* Heuristic choice (no timing, so the same every run), deterministic
     * algorithms only, within the workspace limit. */
    bool strict = !n->opts.tf32;
    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    CKDNN(cudnnGetConvolutionForwardAlgorithm_v7(n->dnn, c->xd, c->wd, c->cd, c->yd,
                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, fp));
    int pick;
    PICK_ALGO(fp, got, strict, pick);
    if (pick < 0)
        return enevo_errf(err, errlen, ENEVO_EBACKEND,
                          "cuDNN has no deterministic forward algorithm for layer %d", c->index);
    c->fa = fp[pick].algo;
    size_t need = fp[pick].memory;
    if (!n->opts.training)
        goto done;
    {
        cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CKDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            n->dnn, c->wd, c->yd, c->cd, c->xd, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, dp));
        PICK_ALGO(dp, got, strict, pick);
        if (pick < 0)
            return enevo_errf(err, errlen, ENEVO_EBACKEND,
                              "cuDNN has no deterministic backward-data algorithm for layer %d",
                              c->index);
        c->da = dp[pick].algo;
        need = need > dp[pick].memory ? need : dp[pick].memory;
        cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        CKDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            n->dnn, c->xd, c->yd, c->cd, c->wd, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, wp));
        PICK_ALGO(wp, got, strict, pick);
        if (pick < 0)
            return enevo_errf(err, errlen, ENEVO_EBACKEND,
                              "cuDNN has no deterministic backward-filter algorithm for layer %d",
                              c->index);
        c->wa = wp[pick].algo;
        need = need > wp[pick].memory ? need : wp[pick].memory;
    }
done:
    if (need > n->ws_bytes)
        n->ws_bytes = need;
    return 0;
}

/* ---- forward and backward of one node ---- */

static const float one = 1.0f, zero = 0.0f;

/* dst = src * the step's mask (masked: training) or a plain copy. The
 * backward pass calls it on the gradients with the same key, so it applies
 * the forward's mask. */
static int dropout_apply(struct cu_net *n, struct cnode *c, const float *src, float *dst,
                         bool masked)
{
    double rate = c->pn->spec.rate;
    if (masked && rate > 0) {
        k_dropout<<<cu_blocks(c->out_n), CU_THREADS, 0, n->stream>>>(
            src, dst, c->out_n, n->ctl, (uint64_t)c->index * ENEVO_DROPOUT_SALT,
            enevo_dropout_threshold(rate), enevo_dropout_scale(rate));
        LAUNCHED();
    } else {
        CK(cudaMemcpyAsync(dst, src, sizeof(float) * c->out_n, cudaMemcpyDeviceToDevice,
                           n->stream));
    }
    return 0;
}

static int node_forward(struct cu_net *n, struct cnode *c, bool train)
{
    const struct enevo_plan_node *pn = c->pn;
    cudaStream_t st = n->stream;
    if (pn->n_in > 1) {
        cu_ptrs in;
        for (int k = 0; k < pn->n_in; k++)
            in.p[k] = pn->in[k] < 0 ? n->input : n->nodes[pn->in[k]].y;
        k_sum<<<cu_blocks(c->in_n), CU_THREADS, 0, st>>>(in, pn->n_in, c->x_own, c->in_n);
        LAUNCHED();
    }
    int hw = c->h * c->w;
    switch (pn->spec.kind) {
    case ENEVO_LAYER_CONV: {
        const float *x = c->x;
        if (c->xp) {
            size_t np = (size_t)n->batch * c->ci * c->hp * c->wp;
            k_pad<<<cu_blocks(np), CU_THREADS, 0, st>>>(c->x, c->xp, np, c->hi, c->wi, c->hp,
                                                          c->wp, c->pl);
            LAUNCHED();
            x = c->xp;
        }
        CKDNN(cudnnConvolutionForward(n->dnn, &one, c->xd, x, c->wd, n->params + pn->w_off, c->cd,
                                      c->fa, n->ws, n->ws_bytes, &zero, c->yd, c->y));
        if (pn->b_count || c->act != CU_ACT_LINEAR) {
            k_bias_act<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(
                c->y, pn->b_count ? n->params + pn->b_off : NULL, c->out_n, hw, c->c, c->act);
            LAUNCHED();
        }
        return 0;
    }
    case ENEVO_LAYER_FC: {
        int K = c->ci * c->hi * c->wi, O = c->c;
        CKBLAS(cublasSgemm(n->blas, CUBLAS_OP_T, CUBLAS_OP_N, O, n->batch, K, &one,
                           n->params + pn->w_off, K, c->x, K, &zero, c->y, O));
        if (pn->b_count || c->act != CU_ACT_LINEAR) {
            k_bias_act<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(
                c->y, pn->b_count ? n->params + pn->b_off : NULL, c->out_n, 1, O, c->act);
            LAUNCHED();
        }
        return 0;
    }
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG: {
        cu_pool_geo g = {c->c, c->hi, c->wi, c->h, c->w, pn->spec.kernel_size, pn->stride, c->pl};
        bool is_max = pn->spec.kind == ENEVO_LAYER_POOL_MAX;
        k_pool_fwd<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(
            c->x, c->y, is_max && train ? c->arg : NULL, c->out_n, g, is_max);
        LAUNCHED();
        return 0;
    }
    case ENEVO_LAYER_BATCH_NORM: {
        float *gamma = n->params + pn->w_off, *beta = n->params + pn->b_off;
        float *rm = n->stats + pn->s_off, *rv = rm + c->c;
        if (train) {
            int sl, rc = chan_reduce(n, c->x, NULL, NULL, NULL, c->c, hw, CHAN_MOMENTS, &sl);
            if (rc)
                return rc;
            k_bn_stats_finish<<<per_channel_blocks(c->c), 256, 0, st>>>(
                n->part, sl, c->c, (size_t)n->batch * hw, c->mean, c->invstd, rm, rv);
            LAUNCHED();
            k_bn_apply<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(
                c->x, c->y, c->mean, c->invstd, gamma, beta, c->out_n, hw, c->c, 0);
        } else {
            k_bn_apply<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(c->x, c->y, rm, rv, gamma, beta,
                                                                    c->out_n, hw, c->c, 1);
        }
        LAUNCHED();
        return 0;
    }
    case ENEVO_LAYER_DROPOUT: {
        return dropout_apply(n, c, c->x, c->y, train);
    }
    default:
        return cu_report("forward", "unknown layer kind");
    }
}

/* After c->dx holds d input: hand it to each producer (copy or add). */
static int scatter(struct cu_net *n, struct cnode *c)
{
    if (c->direct)
        return 0;
    for (int k = 0; k < c->pn->n_in; k++) {
        int p = c->pn->in[k];
        if (p < 0)
            continue;
        k_put<<<cu_blocks(c->in_n), CU_THREADS, 0, n->stream>>>(n->nodes[p].dy, c->dx, c->in_n,
                                                               c->acc[k]);
        LAUNCHED();
    }
    return 0;
}

static int node_backward(struct cu_net *n, struct cnode *c)
{
    const struct enevo_plan_node *pn = c->pn;
    cudaStream_t st = n->stream;
    int hw = c->h * c->w;
    switch (pn->spec.kind) {
    case ENEVO_LAYER_CONV: {
        if (c->act != CU_ACT_LINEAR) {
            k_act_back<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(c->dy, c->y, c->out_n, c->act);
            LAUNCHED();
        }
        int rc;
        if (pn->b_count && (rc = bias_grad(n, c->dy, n->grads + pn->b_off, c->c, hw)))
            return rc;
        const float *x = c->xp ? c->xp : c->x;
        CKDNN(cudnnConvolutionBackwardFilter(n->dnn, &one, c->xd, x, c->yd, c->dy, c->cd, c->wa,
                                             n->ws, n->ws_bytes, &zero, c->wd,
                                             n->grads + pn->w_off));
        if (!c->need_dx)
            return 0;
        CKDNN(cudnnConvolutionBackwardData(n->dnn, &one, c->wd, n->params + pn->w_off, c->yd,
                                           c->dy, c->cd, c->da, n->ws, n->ws_bytes, &zero, c->xd,
                                           c->dxp ? c->dxp : c->dx));
        if (c->dxp) {
            k_crop<<<cu_blocks(c->in_n), CU_THREADS, 0, st>>>(c->dxp, c->dx, c->in_n, c->hi, c->wi,
                                                              c->hp, c->wp, c->pl);
            LAUNCHED();
        }
        return scatter(n, c);
    }
    case ENEVO_LAYER_FC: {
        int K = c->ci * c->hi * c->wi, O = c->c;
        if (c->act != CU_ACT_LINEAR) {
            k_act_back<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(c->dy, c->y, c->out_n, c->act);
            LAUNCHED();
        }
        int rc;
        if (pn->b_count && (rc = bias_grad(n, c->dy, n->grads + pn->b_off, O, 1)))
            return rc;
        CKBLAS(cublasSgemm(n->blas, CUBLAS_OP_N, CUBLAS_OP_T, K, O, n->batch, &one, c->x, K, c->dy,
                           O, &zero, n->grads + pn->w_off, K));
        if (!c->need_dx)
            return 0;
        CKBLAS(cublasSgemm(n->blas, CUBLAS_OP_N, CUBLAS_OP_N, K, n->batch, O, &one,
                           n->params + pn->w_off, K, c->dy, O, &zero, c->dx, K));
        return scatter(n, c);
    }
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG: {
        if (!c->need_dx)
            return 0;
        cu_pool_geo g = {c->c, c->hi, c->wi, c->h, c->w, pn->spec.kernel_size, pn->stride, c->pl};
        bool is_max = pn->spec.kind == ENEVO_LAYER_POOL_MAX;
        k_pool_bwd<<<cu_blocks(c->in_n), CU_THREADS, 0, st>>>(c->dy, c->arg, c->dx, c->in_n, g,
                                                              is_max);
        LAUNCHED();
        return scatter(n, c);
    }
    case ENEVO_LAYER_BATCH_NORM: {
        float *dgamma = n->grads + pn->w_off, *dbeta = n->grads + pn->b_off;
        int sl, rc = chan_reduce(n, c->x, c->dy, c->mean, c->invstd, c->c, hw, CHAN_BN_BWD, &sl);
        if (rc)
            return rc;
        k_bn_bwd_finish<<<per_channel_blocks(c->c), 256, 0, st>>>(n->part, sl, c->c, dgamma,
                                                                   dbeta);
        LAUNCHED();
        if (!c->need_dx)
            return 0;
        k_bn_bwd_dx<<<cu_blocks(c->out_n), CU_THREADS, 0, st>>>(
            c->x, c->dy, c->mean, c->invstd, n->params + pn->w_off, dgamma, dbeta, c->dx, c->out_n,
            hw, c->c, 1.0f / (float)((size_t)n->batch * hw));
        LAUNCHED();
        return scatter(n, c);
    }
    case ENEVO_LAYER_DROPOUT: {
        if (!c->need_dx)
            return 0;
        int rc = dropout_apply(n, c, c->dy, c->dx, true);
        return rc ? rc : scatter(n, c);
    }
    default:
        return cu_report("backward", "unknown layer kind");
    }
}

static int run_forward(struct cu_net *n, bool train)
{
    int rc;
    for (int i = 0; i < n->n; i++)
        if ((rc = node_forward(n, &n->nodes[i], train)))
            return rc;
    n->last_train = train;
    return 0;
}

static int run_backward(struct cu_net *n)
{
    int rc;
    for (int i = n->n - 1; i >= 0; i--)
        if ((rc = node_backward(n, &n->nodes[i])))
            return rc;
    return 0;
}

static int run_loss(struct cu_net *n, int count, double w1, bool train)
{
    const struct enevo_plan *p = n->plan;
    struct cnode *o0 = &n->nodes[p->output], *o1 = p->output2 >= 0 ? &n->nodes[p->output2] : NULL;
    k_loss<<<1, CU_THREADS, 0, n->stream>>>(o0->y, o1 ? o1->y : NULL, train ? o0->dy : NULL,
                                            train && o1 ? o1->dy : NULL, n->labels, n->batch,
                                            p->n_classes, count, w1, train, n->acc);
    LAUNCHED();
    return 0;
}

/* ---- create / destroy ---- */

static void cu_destroy(void *impl)
{
    struct cu_net *n = (struct cu_net *)impl;
    if (!n)
        return;
    cudaSetDevice(n->dev);
    if (n->stream)
        cudaStreamSynchronize(n->stream);
    if (n->graph)
        cudaGraphExecDestroy(n->graph);
    if (n->infer_graph)
        cudaGraphExecDestroy(n->infer_graph);
    if (n->co)
        cuda_optim_free(n->co);
    for (int i = 0; n->nodes && i < n->n; i++) {
        struct cnode *c = &n->nodes[i];
        if (c->xd)
            cudnnDestroyTensorDescriptor(c->xd);
        if (c->yd)
            cudnnDestroyTensorDescriptor(c->yd);
        if (c->wd)
            cudnnDestroyFilterDescriptor(c->wd);
        if (c->cd)
            cudnnDestroyConvolutionDescriptor(c->cd);
        cudaFree(c->y);
        cudaFree(c->dy);
        cudaFree(c->x_own);
        cudaFree(c->dx_own);
        cudaFree(c->xp);
        cudaFree(c->dxp);
        cudaFree(c->arg);
        cudaFree(c->mean);
        cudaFree(c->invstd);
    }
    free(n->nodes);
    for (int s = 0; s < 3; s++) {
        cudaFree(n->dx_set[s]);
        cudaFree(n->dy_set[s]);
    }
    cudaFree(n->params);
    cudaFree(n->grads);
    cudaFree(n->stats);
    cudaFree(n->input);
    cudaFree(n->labels);
    cudaFree(n->ws);
    cudaFree(n->blas_ws);
    cudaFree(n->ctl);
    cudaFree(n->acc);
    cudaFree(n->part);
    cudaFree(n->order);
    cudaFree(n->keys);
    if (n->blas)
        cublasDestroy(n->blas);
    if (n->dnn)
        cudnnDestroy(n->dnn);
    if (n->stream)
        cudaStreamDestroy(n->stream);
    free(n);
}

static int cu_push(void *impl);

static int cu_create_inner(struct cu_net *n, char *err, size_t errlen)
{
    const struct enevo_plan *p = n->plan;
    size_t np = p->n_params, ns = p->n_stats;
    bool tr = n->opts.training;
    if (cudaSetDevice(n->dev) != cudaSuccess || cudaStreamCreateWithFlags(&n->stream,
                                                                          cudaStreamNonBlocking))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "CUDA: cannot use device %d", n->dev);
    if (cudnnCreate(&n->dnn) != CUDNN_STATUS_SUCCESS || cudnnSetStream(n->dnn, n->stream))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "cuDNN: cannot create a handle");
    if (cublasCreate(&n->blas) != CUBLAS_STATUS_SUCCESS || cublasSetStream(n->blas, n->stream) ||
        cublasSetMathMode(n->blas, n->opts.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "cuBLAS: cannot create a handle");
    /* A fixed workspace keeps cuBLAS off cudaMalloc during graph capture. */
    size_t blas_ws = (size_t)32 << 20;
    if (dalloc(n, &n->blas_ws, blas_ws) || cublasSetWorkspace(n->blas, n->blas_ws, blas_ws))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "cuBLAS: cannot set a workspace");
    n->img = (size_t)p->input.c * p->input.h * p->input.w;
    if (DALLOC(n, n->params, np ? np : 1) || (tr && DALLOC(n, n->grads, np ? np : 1)) ||
        DALLOC(n, n->stats, ns ? ns : 1) || DALLOC(n, n->input, (size_t)n->batch * n->img) ||
        DALLOC(n, n->labels, n->batch) || DALLOC(n, n->ctl, 1) || DALLOC(n, n->acc, ACC_N))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
    CK(cudaMemset(n->ctl, 0, sizeof *n->ctl));
    n->nodes = (struct cnode *)calloc((size_t)p->n, sizeof *n->nodes);
    if (!n->nodes)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    n->n = p->n;
    /* Pass 1: shapes and outputs. */
    for (int i = 0; i < p->n; i++) {
        struct cnode *c = &n->nodes[i];
        const struct enevo_plan_node *pn = &p->nodes[i];
        c->pn = pn;
        c->index = i;
        c->c = pn->out_shape.c;
        c->h = pn->out_shape.h;
        c->w = pn->out_shape.w;
        c->ci = pn->in_shape.c;
        c->hi = pn->in_shape.h;
        c->wi = pn->in_shape.w;
        c->pl = pn->pad_l;
        c->act = act_of(pn);
        c->out_n = (size_t)n->batch * c->c * c->h * c->w;
        c->in_n = (size_t)n->batch * c->ci * c->hi * c->wi;
        if (DALLOC(n, c->y, c->out_n) || (tr && DALLOC(n, c->dy, c->out_n)))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
        if (pn->n_in > 1) {
            if (DALLOC(n, c->x_own, c->in_n))
                return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
            c->x = c->x_own;
        } else {
            c->x = pn->in[0] < 0 ? n->input : n->nodes[pn->in[0]].y;
        }
        if (pn->spec.kind == ENEVO_LAYER_POOL_MAX && tr && DALLOC(n, c->arg, c->out_n))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
        if (pn->spec.kind == ENEVO_LAYER_BATCH_NORM &&
            (DALLOC(n, c->mean, c->c) || DALLOC(n, c->invstd, c->c)))
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
        int rc;
        if (pn->spec.kind == ENEVO_LAYER_CONV && (rc = conv_setup(n, c, err, errlen)))
            return rc;
        /* Scratch of the per-channel reductions (bias gradients, batch norm). */
        bool reduces = pn->spec.kind == ENEVO_LAYER_BATCH_NORM ||
                       (tr && pn->b_count && (pn->spec.kind == ENEVO_LAYER_CONV ||
                                              pn->spec.kind == ENEVO_LAYER_FC));
        int hw = pn->spec.kind == ENEVO_LAYER_FC ? 1 : c->h * c->w;
        size_t need = reduces ? 2 * (size_t)c->c * chan_slices((size_t)n->batch * hw) : 0;
        if (need > n->part_count)
            n->part_count = need;
    }
    if (n->part_count && DALLOC(n, n->part, n->part_count))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
    /* Pass 2 (reverse order, the backward order): who writes and who adds
     * each input gradient. */
    if (tr) {
        bool *written = (bool *)calloc((size_t)p->n, sizeof(bool));
        if (!written)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        for (int i = p->n - 1; i >= 0; i--) {
            struct cnode *c = &n->nodes[i];
            const struct enevo_plan_node *pn = c->pn;
            for (int k = 0; k < pn->n_in; k++) {
                int src = pn->in[k];
                if (src < 0)
                    continue;
                c->need_dx = true;
                c->acc[k] = written[src];
                written[src] = true;
            }
            if (!c->need_dx)
                continue;
            if (pn->n_in == 1 && !c->acc[0]) {
                c->direct = true;
                c->dx = n->nodes[pn->in[0]].dy;
            } else if (DALLOC(n, c->dx_own, c->in_n)) {
                free(written);
                return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory");
            } else {
                c->dx = c->dx_own;
            }
        }
        free(written);
    }
    if (n->ws_bytes && dalloc(n, &n->ws, n->ws_bytes))
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of GPU memory (convolution workspace)");
    if (cu_push(n))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "CUDA: cannot copy the parameters");
    return 0;
}

static int cu_create(const struct enevo_plan *plan, const struct enevo_net_opts *opts,
                     float *params, float *grads, float *stats, void **impl, char *err,
                     size_t errlen)
{
    *impl = NULL;
    struct cu_net *n = (struct cu_net *)calloc(1, sizeof *n);
    if (!n)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    n->plan = plan;
    n->opts = *opts;
    n->dev = enevo__cuda_index(opts->device);
    n->batch = opts->batch;
    n->h_params = params;
    n->h_grads = grads;
    n->h_stats = stats;
    if (n->dev < 0) {
        free(n);
        return enevo_errf(err, errlen, ENEVO_EINVAL, "not a CUDA device: '%s'",
                          opts->device ? opts->device : "");
    }
    int rc = cu_create_inner(n, err, errlen);
    if (rc) {
        cu_destroy(n);
        return rc;
    }
    *impl = n;
    return 0;
}

/* ---- host mode ---- */

static int cu_push(void *impl)
{
    struct cu_net *n = (struct cu_net *)impl;
    const struct enevo_plan *p = n->plan;
    CK(cudaSetDevice(n->dev));
    if (p->n_params)
        CK(cudaMemcpyAsync(n->params, n->h_params, sizeof(float) * p->n_params,
                           cudaMemcpyHostToDevice, n->stream));
    if (p->n_stats)
        CK(cudaMemcpyAsync(n->stats, n->h_stats, sizeof(float) * p->n_stats,
                           cudaMemcpyHostToDevice, n->stream));
    CK(cudaStreamSynchronize(n->stream));
    return 0;
}

static int cu_pull(void *impl)
{
    struct cu_net *n = (struct cu_net *)impl;
    const struct enevo_plan *p = n->plan;
    CK(cudaSetDevice(n->dev));
    if (p->n_params)
        CK(cudaMemcpyAsync(n->h_params, n->params, sizeof(float) * p->n_params,
                           cudaMemcpyDeviceToHost, n->stream));
    if (p->n_stats)
        CK(cudaMemcpyAsync(n->h_stats, n->stats, sizeof(float) * p->n_stats,
                           cudaMemcpyDeviceToHost, n->stream));
    CK(cudaStreamSynchronize(n->stream));
    return 0;
}

static int cu_forward(void *impl, const float *x, bool train, uint64_t key, bool params_changed,
                      float *logits, float *logits2)
{
    struct cu_net *n = (struct cu_net *)impl;
    const struct enevo_plan *p = n->plan;
    int rc;
    CK(cudaSetDevice(n->dev));
    if (params_changed && (rc = cu_push(n)))
        return rc;
    if (x)
        CK(cudaMemcpyAsync(n->input, x, sizeof(float) * n->img * n->batch, cudaMemcpyHostToDevice,
                           n->stream));
    if (train) {
        k_set_key<<<1, 1, 0, n->stream>>>(n->ctl, key);
        LAUNCHED();
    }
    if ((rc = run_forward(n, train)))
        return rc;
    size_t nl = sizeof(float) * (size_t)n->batch * p->n_classes;
    if (logits)
        CK(cudaMemcpyAsync(logits, n->nodes[p->output].y, nl, cudaMemcpyDeviceToHost, n->stream));
    if (logits2 && p->output2 >= 0)
        CK(cudaMemcpyAsync(logits2, n->nodes[p->output2].y, nl, cudaMemcpyDeviceToHost,
                           n->stream));
    /* In host mode the host holds the statistics: bring the updated ones. */
    if (train && p->n_stats)
        CK(cudaMemcpyAsync(n->h_stats, n->stats, sizeof(float) * p->n_stats,
                           cudaMemcpyDeviceToHost, n->stream));
    if (logits)
        CK(cudaStreamSynchronize(n->stream));
    return 0;
}

/* Measurement windows: one inference pass per graph launch, so the GPU is
 * busy back to back instead of waiting on a dozen launches per pass. */
static int cu_forward_again(void *impl)
{
    struct cu_net *n = (struct cu_net *)impl;
    CK(cudaSetDevice(n->dev));
    if (!n->infer_graph && !n->infer_graph_failed) {
        cudaGraph_t g = NULL;
        CK(cudaStreamBeginCapture(n->stream, cudaStreamCaptureModeThreadLocal));
        int rc = run_forward(n, false);
        cudaError_t e = cudaStreamEndCapture(n->stream, &g);
        if (!rc && e == cudaSuccess)
            e = cudaGraphInstantiate(&n->infer_graph, g, 0);
        if (g)
            cudaGraphDestroy(g);
        if (rc || e != cudaSuccess) {
            cudaGetLastError();
            n->infer_graph = NULL;
            n->infer_graph_failed = true;
            fprintf(stderr, "enevo: CUDA graph capture of inference failed (%s); launching "
                            "kernels one by one\n",
                    rc ? "a kernel failed" : cudaGetErrorString(e));
        }
    }
    n->last_train = false;
    if (!n->infer_graph)
        return run_forward(n, false);
    CK(cudaGraphLaunch(n->infer_graph, n->stream));
    return 0;
}

static int cu_sync(void *impl)
{
    struct cu_net *n = (struct cu_net *)impl;
    CK(cudaSetDevice(n->dev));
    CK(cudaStreamSynchronize(n->stream));
    return 0;
}

static int cu_backward(void *impl, const float *dlogits, const float *dlogits2)
{
    struct cu_net *n = (struct cu_net *)impl;
    const struct enevo_plan *p = n->plan;
    if (!n->opts.training || !n->last_train)
        return cu_report("backward", "no training forward pass to differentiate");
    CK(cudaSetDevice(n->dev));
    size_t nl = sizeof(float) * (size_t)n->batch * p->n_classes;
    CK(cudaMemcpyAsync(n->nodes[p->output].dy, dlogits, nl, cudaMemcpyHostToDevice, n->stream));
    if (p->output2 >= 0)
        CK(cudaMemcpyAsync(n->nodes[p->output2].dy, dlogits2, nl, cudaMemcpyHostToDevice,
                           n->stream));
    int rc = run_backward(n);
    if (rc)
        return rc;
    if (p->n_params)
        CK(cudaMemcpyAsync(n->h_grads, n->grads, sizeof(float) * p->n_params,
                           cudaMemcpyDeviceToHost, n->stream));
    CK(cudaStreamSynchronize(n->stream));
    return 0;
}

static size_t cu_arena_bytes(void *impl)
{
    const struct cu_net *n = (const struct cu_net *)impl;
    return n->bytes + (n->co ? cuda_optim_bytes(n->co) : 0);
}

/* ---- device mode ---- */

static int cu_bind_data(void *impl, int slot, const float *x, const uint8_t *y, int count,
                        char *err, size_t errlen)
{
    struct cu_net *n = (struct cu_net *)impl;
    if (cudaSetDevice(n->dev) != cudaSuccess)
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "CUDA: cannot use device %d", n->dev);
    if (count != n->dn[slot] || !n->dx_set[slot]) {
        if (slot == 0 && n->graph) { /* it holds the old pointers */
            cudaGraphExecDestroy(n->graph);
            n->graph = NULL;
        }
        cudaFree(n->dx_set[slot]);
        cudaFree(n->dy_set[slot]);
        n->dx_set[slot] = NULL;
        n->dy_set[slot] = NULL;
        n->dn[slot] = 0;
        if (DALLOC(n, n->dx_set[slot], (size_t)count * n->img) ||
            DALLOC(n, n->dy_set[slot], count ? count : 1))
            return enevo_errf(err, errlen, ENEVO_ENOMEM,
                              "out of GPU memory for a data set of %d images", count);
    }
    n->dn[slot] = count;
    if (count && (cudaMemcpy(n->dx_set[slot], x, sizeof(float) * n->img * count,
                             cudaMemcpyHostToDevice) != cudaSuccess ||
                  cudaMemcpy(n->dy_set[slot], y, (size_t)count, cudaMemcpyHostToDevice) !=
                      cudaSuccess))
        return enevo_errf(err, errlen, ENEVO_EBACKEND, "CUDA: copying %d images failed", count);
    return 0;
}

/* One training step on the device (what the graph holds). */
static int enqueue_step(struct cu_net *n, double w1)
{
    cudaStream_t st = n->stream;
    k_step_begin<<<1, 1, 0, st>>>(n->ctl, n->keys);
    LAUNCHED();
    k_gather<<<cu_blocks((size_t)n->batch * n->img), CU_THREADS, 0, st>>>(
        n->dx_set[0], n->dy_set[0], n->order, n->ctl, n->batch, n->img, n->input, n->labels);
    LAUNCHED();
    int rc;
    if ((rc = run_forward(n, true)) || (rc = run_loss(n, n->batch, w1, true)) ||
        (rc = run_backward(n)))
        return rc;
    cuda_optim_step(n->co, n->params, n->grads, &n->ctl->t, st);
    LAUNCHED();
    k_step_end<<<1, 1, 0, st>>>(n->ctl);
    LAUNCHED();
    return 0;
}

static int capture(struct cu_net *n, double w1)
{
    cudaGraph_t g = NULL;
    CK(cudaStreamBeginCapture(n->stream, cudaStreamCaptureModeThreadLocal));
    int rc = enqueue_step(n, w1);
    cudaError_t e = cudaStreamEndCapture(n->stream, &g);
    if (rc || e != cudaSuccess) {
        if (g)
            cudaGraphDestroy(g);
        cudaGetLastError();
        return rc ? rc : cu_report("graph capture", cudaGetErrorString(e));
    }
    e = cudaGraphInstantiate(&n->graph, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        n->graph = NULL;
        return cu_report("cudaGraphInstantiate", cudaGetErrorString(e));
    }
    return 0;
}

static int grow(struct cu_net *n, void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    /* The graph holds the old pointer: it must be captured again. */
    if (n->graph) {
        cudaGraphExecDestroy(n->graph);
        n->graph = NULL;
    }
    cudaFree(*p);
    *p = NULL;
    *cap = 0;
    if (dalloc(n, p, elem * (size_t)need))
        return ENEVO_ENOMEM;
    *cap = need;
    return 0;
}

static int cu_train_steps(void *impl, struct enevo_optim *o, const int *order,
                          const uint64_t *keys, int steps, double w1, double *loss_sum)
{
    struct cu_net *n = (struct cu_net *)impl;
    char err[ENEVO_ERR_LEN];
    int rc;
    if (steps <= 0)
        return 0;
    CK(cudaSetDevice(n->dev));
    if (!n->dx_set[0] || !n->opts.training)
        return cu_report("train_steps", "no training data bound");
    for (int i = 0; i < steps * n->batch; i++)
        if (order[i] < 0 || order[i] >= n->dn[0])
            return cu_report("train_steps", "image index out of range");
    /* The optimiser: bound once, its state re-sent when the host changed it. */
    if (o != n->co_host) {
        if (n->graph) {
            cudaGraphExecDestroy(n->graph);
            n->graph = NULL;
        }
        if (n->co)
            cuda_optim_free(n->co);
        n->co = NULL;
        if ((rc = cuda_optim_create(o, &n->co, err, sizeof err))) {
            n->co_host = NULL;
            return cu_report("optimiser", err);
        }
        n->co_host = o;
        n->co_t_seen = n->t_dev = o->t;
    } else if (o->t != n->co_t_seen) {
        /* The host stepped the optimiser itself since. */
        if ((rc = cuda_optim_upload(n->co, o, err, sizeof err)))
            return cu_report("optimiser", err);
        n->co_t_seen = n->t_dev = o->t;
    }
    if (n->graph && n->graph_w1 != w1) {
        cudaGraphExecDestroy(n->graph);
        n->graph = NULL;
    }
    if (grow(n, (void **)&n->order, &n->order_cap, steps * n->batch, sizeof(int)) ||
        grow(n, (void **)&n->keys, &n->keys_cap, steps, sizeof(unsigned long long)))
        return cu_report("train_steps", "out of GPU memory");
    CK(cudaMemcpyAsync(n->order, order, sizeof(int) * (size_t)steps * n->batch,
                       cudaMemcpyHostToDevice, n->stream));
    CK(cudaMemcpyAsync(n->keys, keys, sizeof(uint64_t) * (size_t)steps, cudaMemcpyHostToDevice,
                       n->stream));
    k_reset_step<<<1, 1, 0, n->stream>>>(n->ctl, n->t_dev);
    LAUNCHED();
    CK(cudaMemsetAsync(n->acc, 0, sizeof(double) * ACC_N, n->stream));
    static int use_graphs = -1;
    if (use_graphs < 0) {
        const char *e = getenv("ENEVO_CUDA_GRAPHS");
        use_graphs = !(e && !strcmp(e, "0"));
    }
    int s = 0;
    if (use_graphs && !n->graph && !n->graph_failed) {
        /* The first step runs eagerly: cuDNN and cuBLAS load their kernels
         * and settle their internal state outside the capture. */
        if ((rc = enqueue_step(n, w1)))
            return rc;
        s = 1;
        CK(cudaStreamSynchronize(n->stream));
        if (capture(n, w1)) {
            n->graph_failed = true;
            fprintf(stderr, "enevo: CUDA graph capture failed; launching kernels one by one\n");
        }
        n->graph_w1 = w1;
    }
    for (; s < steps; s++) {
        if (n->graph)
            CK(cudaGraphLaunch(n->graph, n->stream));
        else if ((rc = enqueue_step(n, w1)))
            return rc;
    }
    double acc[ACC_N];
    CK(cudaMemcpyAsync(acc, n->acc, sizeof acc, cudaMemcpyDeviceToHost, n->stream));
    CK(cudaStreamSynchronize(n->stream));
    *loss_sum += acc[ACC_WEIGHTED];
    n->t_dev += steps;
    n->last_train = true;
    return acc[ACC_NONFINITE] > 0 ? ENEVO_ENUMERIC : 0;
}

static int cu_pull_optim(void *impl, struct enevo_optim *o)
{
    struct cu_net *n = (struct cu_net *)impl;
    if (!n->co || o != n->co_host)
        return 0;
    char err[ENEVO_ERR_LEN];
    CK(cudaSetDevice(n->dev));
    CK(cudaStreamSynchronize(n->stream));
    if (cuda_optim_download(n->co, o, err, sizeof err))
        return cu_report("optimiser", err);
    o->t = n->t_dev;
    n->co_t_seen = n->t_dev;
    return 0;
}

static int cu_evaluate(void *impl, int slot, double w1, double loss_sum[2], int correct[2],
                       double *weighted_sum)
{
    struct cu_net *n = (struct cu_net *)impl;
    int rc, total = n->dn[slot];
    CK(cudaSetDevice(n->dev));
    CK(cudaMemsetAsync(n->acc, 0, sizeof(double) * ACC_N, n->stream));
    for (int first = 0; first < total; first += n->batch) {
        int count = total - first < n->batch ? total - first : n->batch;
        k_gather_range<<<cu_blocks((size_t)n->batch * n->img), CU_THREADS, 0, n->stream>>>(
            n->dx_set[slot], n->dy_set[slot], first, count, n->batch, n->img, n->input,
            n->labels);
        LAUNCHED();
        if ((rc = run_forward(n, false)) || (rc = run_loss(n, count, w1, false)))
            return rc;
    }
    double acc[ACC_N];
    CK(cudaMemcpyAsync(acc, n->acc, sizeof acc, cudaMemcpyDeviceToHost, n->stream));
    CK(cudaStreamSynchronize(n->stream));
    loss_sum[0] = acc[ACC_LOSS0];
    loss_sum[1] = acc[ACC_LOSS1];
    correct[0] = (int)acc[ACC_HITS0];
    correct[1] = (int)acc[ACC_HITS1];
    *weighted_sum = acc[ACC_WEIGHTED];
    return 0;
}

static int cu_probe(int index, char *desc, size_t desclen, char *err, size_t errlen)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "no CUDA device: no NVIDIA GPU with a driver this CUDA %d.%d runtime "
                          "can use (cudaGetDeviceCount: %s)",
                          CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, cudaGetErrorString(e));
    if (e != cudaSuccess)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED, "no CUDA device: %s",
                          cudaGetErrorString(e));
    if (index >= count)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "cuda:%d: this machine has %d CUDA device(s)", index, count);
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, index)) != cudaSuccess)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED, "cuda:%d: %s", index,
                          cudaGetErrorString(e));
    if (desc && desclen)
        snprintf(desc, desclen, "%s, %.0f MiB, cuDNN %zu", prop.name,
                 (double)prop.totalGlobalMem / 1048576.0, cudnnGetVersion());
    return 0;
}

static int cu_memory(int index, double *free_bytes, double *total_bytes)
{
    int cur = 0;
    size_t f = 0, t = 0;
    if (cudaGetDevice(&cur) != cudaSuccess || cudaSetDevice(index) != cudaSuccess)
        return ENEVO_EUNSUPPORTED;
    cudaError_t e = cudaMemGetInfo(&f, &t);
    cudaSetDevice(cur);
    if (e != cudaSuccess)
        return ENEVO_EUNSUPPORTED;
    *free_bytes = (double)f;
    *total_bytes = (double)t;
    return 0;
}

/* Positional: the order of struct enevo_backend. */
extern "C" const struct enevo_backend enevo_backend_cuda = {
    "cuda",        cu_create,       cu_destroy,   cu_forward,     cu_backward,
    cu_arena_bytes, cu_probe,       cu_push,      cu_pull,        cu_bind_data,
    cu_train_steps, cu_pull_optim,  cu_evaluate,  cu_forward_again, cu_sync,
    NULL, /* kernels: cuDNN picks per call; not reported */
    cu_memory,
};
