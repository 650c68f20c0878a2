/* src/backend/cuda/cuda_kernels.cuh — the CUDA backend's own kernels:
 * bias + activation, pooling with any (asymmetric) padding, batch norm,
 * dropout, sums, padding copies, batch gathers and the fused softmax +
 * cross-entropy. Every reduction runs in a fixed order (one block, a fixed
 * tree), never with float atomics, so results are deterministic.
 * Included by cuda_net.cu only. Internal. */
#ifndef ENEVO_CUDA_KERNELS_CUH
#define ENEVO_CUDA_KERNELS_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "backend/dropout_mask.h"
#include "backend/softmax_ce.h"

#define CU_THREADS 256

/* Per-device control block: the graph's step counter, the optimiser's step
 * number and this step's dropout key live on the device, so one captured
 * graph serves every step. */
struct cu_ctl {
    int step;
    int pad_;
    long long t;
    unsigned long long key;
};

/* Accumulators of the loss kernel (double, fixed order). */
enum { ACC_WEIGHTED, ACC_LOSS0, ACC_LOSS1, ACC_HITS0, ACC_HITS1, ACC_NONFINITE, ACC_N };

enum { CU_ACT_LINEAR, CU_ACT_RELU, CU_ACT_SIGMOID };

static inline unsigned cu_blocks(size_t n)
{
    size_t b = (n + CU_THREADS - 1) / CU_THREADS;
    return (unsigned)(b < 1 ? 1 : (b > 65535u * 8 ? 65535u * 8 : b));
}

#define CU_LOOP(i, n)                                                                             \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                     \
         i += (size_t)blockDim.x * gridDim.x)

/* y = act(y + b[c]), c = (i / hw) % c_count; b may be NULL. */
__global__ void k_bias_act(float *y, const float *b, size_t n, int hw, int c_count, int act)
{
    CU_LOOP(i, n)
    {
        float v = y[i];
        if (b)
            v += b[(i / (size_t)hw) % (size_t)c_count];
        if (act == CU_ACT_RELU)
            v = v > 0.0f ? v : 0.0f;
        else if (act == CU_ACT_SIGMOID)
            v = 1.0f / (1.0f + expf(-v));
        y[i] = v;
    }
}

/* dy *= act'(y), in place. */
__global__ void k_act_back(float *dy, const float *y, size_t n, int act)
{
    CU_LOOP(i, n)
    {
        if (act == CU_ACT_RELU)
            dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        else
            dy[i] = dy[i] * y[i] * (1.0f - y[i]);
    }
}

/* Block-wide sum of one double per thread (blockDim.x == CU_THREADS);
 * the result is valid in thread 0. */
__device__ double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* Per-channel reductions over the batch and the map, in two kernels: each
 * (slice, channel) block sums its slice of the channel's batch*hw elements
 * in double with a fixed tree, then one thread per channel adds the slices
 * in order. Deterministic, and enough blocks to keep the GPU busy (one
 * block per channel was latency-bound: ~64 blocks for 50,000 elements).
 * Modes: CHAN_SUM: s0 = sum a. CHAN_MOMENTS: s0 = sum a, s1 = sum a^2.
 * CHAN_BN_BWD: s0 = sum b, s1 = sum b * (a - mean[c]) * invstd[c]. */
enum { CHAN_SUM, CHAN_MOMENTS, CHAN_BN_BWD };
#define CHAN_SLICE 2048
#define CHAN_MAX_SLICES 64

static inline int chan_slices(size_t m)
{
    size_t s = (m + CHAN_SLICE - 1) / CHAN_SLICE;
    return (int)(s < 1 ? 1 : s > CHAN_MAX_SLICES ? CHAN_MAX_SLICES : s);
}

__global__ void k_chan_partial(const float *a, const float *b, const float *mean,
                               const float *invstd, int batch, int c_count, int hw, int mode,
                               double *part)
{
    __shared__ double sh[CU_THREADS];
    int c = blockIdx.y, sl = blockIdx.x, slices = gridDim.x;
    size_t m = (size_t)batch * hw, per = (m + slices - 1) / slices;
    size_t j0 = (size_t)sl * per, j1 = j0 + per < m ? j0 + per : m;
    float mu = mode == CHAN_BN_BWD ? mean[c] : 0.0f, is = mode == CHAN_BN_BWD ? invstd[c] : 0.0f;
    double s0 = 0, s1 = 0;
    for (size_t j = j0 + threadIdx.x; j < j1; j += CU_THREADS) {
        size_t k = ((j / (size_t)hw) * c_count + c) * hw + j % (size_t)hw;
        if (mode == CHAN_SUM) {
            s0 += a[k];
        } else if (mode == CHAN_MOMENTS) {
            double v = a[k];
            s0 += v;
            s1 += v * v;
        } else {
            double d = b[k];
            s0 += d;
            s1 += d * (double)((a[k] - mu) * is);
        }
    }
    s0 = block_sum(s0, sh);
    s1 = block_sum(s1, sh);
    if (threadIdx.x == 0) {
        part[((size_t)c * slices + sl) * 2] = s0;
        part[((size_t)c * slices + sl) * 2 + 1] = s1;
    }
}

/* The channel's sums over its slices, in slice order. */
__device__ void sum_slices(const double *part, int slices, int c, double *s0, double *s1)
{
    double a = 0, b = 0;
    for (int k = 0; k < slices; k++) {
        a += part[((size_t)c * slices + k) * 2];
        b += part[((size_t)c * slices + k) * 2 + 1];
    }
    *s0 = a;
    *s1 = b;
}

/* out[c] = the channel's s0 (a bias gradient). */
__global__ void k_chan_sum_finish(const double *part, int slices, int c_count, float *out)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= c_count)
        return;
    double s0, s1;
    sum_slices(part, slices, c, &s0, &s1);
    out[c] = (float)s0;
}
/* Pooling over [batch, c, hi, wi] -> [batch, c, ho, wo] with kernel k,
 * stride s and padding pl (top/left); padding never counts: max ignores
 * it and the average divides by the valid elements only. */
struct cu_pool_geo {
    int c, hi, wi, ho, wo, k, s, pl;
};

__global__ void k_pool_fwd(const float *x, float *y, int *arg, size_t n, cu_pool_geo g, int is_max)
{
    CU_LOOP(i, n)
    {
        int ow = (int)(i % (size_t)g.wo), oh = (int)((i / (size_t)g.wo) % (size_t)g.ho);
        size_t plane = i / ((size_t)g.wo * g.ho);
        const float *xp = x + plane * (size_t)g.hi * g.wi;
        int h0 = oh * g.s - g.pl, w0 = ow * g.s - g.pl;
        float best = -INFINITY, sum = 0.0f;
        int where = -1, count = 0;
        for (int a = 0; a < g.k; a++) {
            int h = h0 + a;
            if (h < 0 || h >= g.hi)
                continue;
            for (int b = 0; b < g.k; b++) {
                int w = w0 + b;
                if (w < 0 || w >= g.wi)
                    continue;
                float v = xp[h * g.wi + w];
                if (is_max) {
                    if (where < 0 || v > best) {
                        best = v;
                        where = h * g.wi + w;
                    }
                } else {
                    sum += v;
                    count++;
                }
            }
        }
        y[i] = is_max ? best : (count ? sum / (float)count : 0.0f);
        if (arg)
            arg[i] = where;
    }
}

/* One thread per input element: gathers the gradient of every window that
 * covers it (deterministic, no atomics). */
__global__ void k_pool_bwd(const float *dy, const int *arg, float *dx, size_t n, cu_pool_geo g,
                           int is_max)
{
    CU_LOOP(i, n)
    {
        int w = (int)(i % (size_t)g.wi), h = (int)((i / (size_t)g.wi) % (size_t)g.hi);
        size_t plane = i / ((size_t)g.wi * g.hi);
        const float *dyp = dy + plane * (size_t)g.ho * g.wo;
        const int *ap = arg ? arg + plane * (size_t)g.ho * g.wo : NULL;
        int lo_h = h + g.pl - g.k + 1, lo_w = w + g.pl - g.k + 1;
        int oh0 = lo_h <= 0 ? 0 : (lo_h + g.s - 1) / g.s, ow0 = lo_w <= 0 ? 0 : (lo_w + g.s - 1) / g.s;
        int oh1 = (h + g.pl) / g.s, ow1 = (w + g.pl) / g.s;
        if (oh1 > g.ho - 1)
            oh1 = g.ho - 1;
        if (ow1 > g.wo - 1)
            ow1 = g.wo - 1;
        float s = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                int o = oh * g.wo + ow;
                if (is_max) {
                    if (ap[o] == h * g.wi + w)
                        s += dyp[o];
                } else {
                    int ha = oh * g.s - g.pl, wa = ow * g.s - g.pl;
                    int hb = ha + g.k, wb = wa + g.k;
                    ha = ha < 0 ? 0 : ha;
                    wa = wa < 0 ? 0 : wa;
                    hb = hb > g.hi ? g.hi : hb;
                    wb = wb > g.wi ? g.wi : wb;
                    s += dyp[o] / (float)((hb - ha) * (wb - wa));
                }
            }
        dx[i] = s;
    }
}

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* Batch statistics from the CHAN_MOMENTS partials (sums in double, so
 * E[x^2] - mean^2 keeps ~12 digits): the saved mean and 1/sqrt(var + eps),
 * and PyTorch's running-statistics update (momentum 0.1, unbiased). */
__global__ void k_bn_stats_finish(const double *part, int slices, int c_count, size_t m,
                                  float *mean_out, float *invstd_out, float *run_mean,
                                  float *run_var)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= c_count)
        return;
    double s0, s1;
    sum_slices(part, slices, c, &s0, &s1);
    double mean = s0 / (double)m, var = s1 / (double)m - mean * mean;
    var = var > 0 ? var : 0;
    mean_out[c] = (float)mean;
    invstd_out[c] = (float)(1.0 / sqrt(var + BN_EPS));
    double unbias = m > 1 ? (double)m / (double)(m - 1) : 1.0;
    run_mean[c] = (float)((1 - BN_MOMENTUM) * run_mean[c] + BN_MOMENTUM * mean);
    run_var[c] = (float)((1 - BN_MOMENTUM) * run_var[c] + BN_MOMENTUM * var * unbias);
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]. With `running`, mean
 * and invstd are the running mean and variance (inference). */
__global__ void k_bn_apply(const float *x, float *y, const float *mean, const float *invstd,
                           const float *gamma, const float *beta, size_t n, int hw, int c_count,
                           int running)
{
    CU_LOOP(i, n)
    {
        int c = (int)((i / (size_t)hw) % (size_t)c_count);
        float is = running ? rsqrtf(invstd[c] + (float)BN_EPS) : invstd[c];
        y[i] = (x[i] - mean[c]) * is * gamma[c] + beta[c];
    }
}

/* dgamma[c] = sum dy * xhat, dbeta[c] = sum dy, from the CHAN_BN_BWD partials. */
__global__ void k_bn_bwd_finish(const double *part, int slices, int c_count, float *dgamma,
                                float *dbeta)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= c_count)
        return;
    double s0, s1;
    sum_slices(part, slices, c, &s0, &s1);
    dgamma[c] = (float)s1;
    dbeta[c] = (float)s0;
}

/* dx = gamma * invstd * (dy - dbeta / m - xhat * dgamma / m). */
__global__ void k_bn_bwd_dx(const float *x, const float *dy, const float *mean, const float *invstd,
                            const float *gamma, const float *dgamma, const float *dbeta, float *dx,
                            size_t n, int hw, int c_count, float inv_m)
{
    CU_LOOP(i, n)
    {
        int c = (int)((i / (size_t)hw) % (size_t)c_count);
        float xhat = (x[i] - mean[c]) * invstd[c];
        dx[i] = gamma[c] * invstd[c] * (dy[i] - dbeta[c] * inv_m - xhat * dgamma[c] * inv_m);
    }
}

/* Inverted dropout, the mask of backend/dropout_mask.h (as on the CPU). */
__global__ void k_dropout(const float *src, float *dst, size_t n, const cu_ctl *ctl, uint64_t salt,
                          uint32_t threshold, float scale)
{
    uint64_t k = ctl->key ^ salt;
    CU_LOOP(i, n) dst[i] = src[i] * enevo_dropout_keep(k, i, threshold, scale);
}

struct cu_ptrs {
    const float *p[8];
};

/* y = sum of the n inputs (a sum-merge). */
__global__ void k_sum(cu_ptrs in, int count, float *y, size_t n)
{
    CU_LOOP(i, n)
    {
        float s = in.p[0][i];
        for (int k = 1; k < count; k++)
            s += in.p[k][i];
        y[i] = s;
    }
}

/* dst = src (acc 0) or dst += src (acc 1). */
__global__ void k_put(float *dst, const float *src, size_t n, int acc)
{
    CU_LOOP(i, n) dst[i] = acc ? dst[i] + src[i] : src[i];
}

/* Zero-padded copy [b, c, h, w] -> [b, c, h + pl + pr, w + pl + pr] and
 * its adjoint, the crop. */
__global__ void k_pad(const float *x, float *xp, size_t n, int h, int w, int hp, int wp, int pl)
{
    CU_LOOP(i, n)
    {
        int b = (int)(i % (size_t)wp) - pl, a = (int)((i / (size_t)wp) % (size_t)hp) - pl;
        size_t plane = i / ((size_t)wp * hp);
        xp[i] = a >= 0 && a < h && b >= 0 && b < w ? x[(plane * h + a) * w + b] : 0.0f;
    }
}

__global__ void k_crop(const float *xp, float *x, size_t n, int h, int w, int hp, int wp, int pl)
{
    CU_LOOP(i, n)
    {
        int b = (int)(i % (size_t)w), a = (int)((i / (size_t)w) % (size_t)h);
        size_t plane = i / ((size_t)w * h);
        x[i] = xp[(plane * hp + a + pl) * wp + b + pl];
    }
}

/* The training batch of step ctl->step: images order[step*batch + i]. */
__global__ void k_gather(const float *X, const uint8_t *Y, const int *order, const cu_ctl *ctl,
                         int batch, size_t img, float *x, uint8_t *y)
{
    const int *o = order + (size_t)ctl->step * batch;
    size_t n = (size_t)batch * img;
    CU_LOOP(i, n)
    {
        size_t r = i / img;
        x[i] = X[(size_t)o[r] * img + i % img];
        if (i % img == 0)
            y[r] = Y[o[r]];
    }
}

/* Images first .. first+count-1, the rest of the batch zero. */
__global__ void k_gather_range(const float *X, const uint8_t *Y, int first, int count, int batch,
                               size_t img, float *x, uint8_t *y)
{
    size_t n = (size_t)batch * img;
    CU_LOOP(i, n)
    {
        size_t r = i / img;
        bool have = (int)r < count;
        x[i] = have ? X[(size_t)(first + (int)r) * img + i % img] : 0.0f;
        if (i % img == 0)
            y[r] = have ? Y[first + (int)r] : 0;
    }
}

/* Step bookkeeping inside the graph. */
__global__ void k_step_begin(cu_ctl *ctl, const unsigned long long *keys)
{
    ctl->t += 1;
    ctl->key = keys[ctl->step];
}
__global__ void k_step_end(cu_ctl *ctl) { ctl->step += 1; }
__global__ void k_set_key(cu_ctl *ctl, unsigned long long key) { ctl->key = key; }
__global__ void k_reset_step(cu_ctl *ctl, long long t)
{
    ctl->step = 0;
    ctl->t = t;
}

/* Stable softmax + cross-entropy of the first n rows of one or two heads,
 * one block. Training: d logits (scaled by 1/n, and w1 for head 1) and the
 * step's weighted mean loss into acc[ACC_WEIGHTED] (+ a non-finite count).
 * Evaluation: per-row sums of each head's loss and hits. */
__global__ void k_loss(const float *z0, const float *z1, float *d0, float *d1, const uint8_t *labels,
                       int batch, int k, int n, double w1, int train, double *acc)
{
    __shared__ double sh[CU_THREADS];
    double l0 = 0, l1 = 0, h0 = 0, h1 = 0;
    for (int r = threadIdx.x; r < batch; r += CU_THREADS) {
        const float *heads[2] = {z0, z1};
        float *grads[2] = {d0, d1};
        for (int h = 0; h < (z1 ? 2 : 1); h++) {
            const float *z = heads[h] + (size_t)r * k;
            float *dz = train ? grads[h] + (size_t)r * k : NULL;
            if (r >= n) {
                if (dz)
                    for (int j = 0; j < k; j++)
                        dz[j] = 0.0f;
                continue;
            }
            int arg;
            double lse = enevo_row_lse(z, k, &arg), l = lse - z[labels[r]];
            if (h == 0) {
                l0 += l;
                h0 += arg == labels[r];
            } else {
                l1 += l;
                h1 += arg == labels[r];
            }
            if (dz)
                enevo_row_ce_grad(z, k, labels[r], lse, h == 0 ? 1.0 : w1, n, dz);
        }
    }
    l0 = block_sum(l0, sh);
    l1 = block_sum(l1, sh);
    h0 = block_sum(h0, sh);
    h1 = block_sum(h1, sh);
    if (threadIdx.x == 0) {
        if (train) {
            double total = l0 / n + (z1 ? w1 * l1 / n : 0.0);
            acc[ACC_WEIGHTED] += total;
            if (!isfinite(total))
                acc[ACC_NONFINITE] += 1;
        } else {
            acc[ACC_WEIGHTED] += l0 + (z1 ? w1 * l1 : 0.0);
            acc[ACC_LOSS0] += l0;
            acc[ACC_LOSS1] += l1;
            acc[ACC_HITS0] += h0;
            acc[ACC_HITS1] += h1;
        }
    }
}

#endif
