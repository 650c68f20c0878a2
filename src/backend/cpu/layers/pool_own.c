/* enevo's own pooling kernels, for the layouts the executor keeps between
 * layers: plain nchw and channel-blocked nChw8c / nChw16c (oneDNN's
 * aBcd8b / aBcd16b). oneDNN's pooling on AVX2 runs 5-8x slower than on
 * AVX-512 for the same bytes (bench/medium, 64x64x28x28 max-pool training:
 * 4.9 ms forward and 3.3 ms backward against 0.6 and 1.1 ms); these loops
 * vectorise over the channel block and are memory-bound on every ISA.
 *
 * Semantics as oneDNN's pooling_max / pooling_avg_exclude_padding:
 * windows start at oh * stride - pad_l; cells outside the input do not
 * count (max over the valid cells, mean over the valid cells). Max keeps
 * the first maximum in row-major window order; its position within the
 * window (< 49 cells for kernels up to 7) is the uint8 workspace, one per
 * output element, that the backward pass scatters to. Each (image,
 * channel block) slice is one unit of OpenMP work: the scatter never
 * writes another thread's slice, so results do not depend on the thread
 * count. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/layers/pool_own.h"

/* The block size of md when it is one of the layouts these kernels take
 * (1 = plain nchw), or 0. */
int pool_own_block(const dnnl_memory_desc_t *md)
{
    static const struct {
        dnnl_format_tag_t tag;
        int block;
    } layouts[] = {{dnnl_abcd, 1}, {dnnl_aBcd8b, 8}, {dnnl_aBcd16b, 16}};
    if (md->ndims != 4 || md->data_type != dnnl_f32)
        return 0;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        dnnl_memory_desc_t want;
        dnnl_memory_desc_init_by_tag(&want, 4, md->dims, dnnl_f32, layouts[i].tag);
        if (dnnl_memory_desc_equal(&want, md))
            return layouts[i].block;
    }
    return 0;
}

void pool_own_dst_md(dnnl_memory_desc_t *dst, int block, int n, int c, int h, int w)
{
    dnnl_dims_t d = {n, c, h, w};
    dnnl_format_tag_t tag = block == 16 ? dnnl_aBcd16b : block == 8 ? dnnl_aBcd8b : dnnl_abcd;
    dnnl_memory_desc_init_by_tag(dst, 4, d, dnnl_f32, tag);
}

/* Window bounds of output position o along one axis. */
static inline void span(const struct pool_geom *g, int o, int in, int *lo, int *hi)
{
    int s = o * g->stride - g->pad_l;
    *lo = s < 0 ? 0 : s;
    *hi = s + g->k > in ? in : s + g->k;
}

/* Slices (image, channel block): in and out point at the slice's first
 * element; B floats per spatial position. Each kernel is stamped out per
 * block size (a compile-time constant, so the lane loops vectorise), and
 * compiled twice: for AVX2 (+FMA) and for baseline x86-64, picked at load
 * time by the CPU (GCC's target_clones). AVX2 rather than AVX-512: these
 * loops are memory-bound, and an AVX-512 machine capped with
 * ONEDNN_MAX_CPU_ISA=AVX2 then measures what an AVX2 machine gets. */
#define CLONES __attribute__((target_clones("avx2", "default")))

#define POOL_KERNELS(B)                                                                          \
    CLONES static void max_fwd_##B(const struct pool_geom *g, const float *in, float *out,       \
                                   uint8_t *ws)                                                  \
    {                                                                                            \
        for (int oh = 0; oh < g->oh; oh++) {                                                     \
            int h0, h1;                                                                          \
            span(g, oh, g->ih, &h0, &h1);                                                        \
            int wh0 = oh * g->stride - g->pad_l;                                                 \
            for (int ow = 0; ow < g->ow; ow++) {                                                 \
                int w0, w1;                                                                      \
                span(g, ow, g->iw, &w0, &w1);                                                    \
                int ww0 = ow * g->stride - g->pad_l;                                             \
                float best[B], arg[B];                                                           \
                for (int l = 0; l < B; l++)                                                      \
                    best[l] = -FLT_MAX, arg[l] = 0;                                              \
                for (int h = h0; h < h1; h++)                                                    \
                    for (int w = w0; w < w1; w++) {                                              \
                        const float *x = in + ((size_t)h * g->iw + w) * B;                       \
                        float pos = (float)((h - wh0) * g->k + (w - ww0));                       \
                        _Pragma("omp simd") for (int l = 0; l < B; l++)                          \
                        {                                                                        \
                            float v = x[l];                                                      \
                            arg[l] = v > best[l] ? pos : arg[l];                                 \
                            best[l] = v > best[l] ? v : best[l];                                 \
                        }                                                                        \
                    }                                                                            \
                size_t o = ((size_t)oh * g->ow + ow) * B;                                        \
                for (int l = 0; l < B; l++)                                                      \
                    out[o + l] = best[l];                                                        \
                if (ws)                                                                          \
                    for (int l = 0; l < B; l++)                                                  \
                        ws[o + l] = (uint8_t)arg[l];                                             \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    CLONES static void max_bwd_##B(const struct pool_geom *g, const float *dy,                   \
                                   const uint8_t *ws, float *dx)                                 \
    {                                                                                            \
        memset(dx, 0, sizeof(float) * (size_t)g->ih * g->iw * B);                                \
        for (int oh = 0; oh < g->oh; oh++) {                                                     \
            int wh0 = oh * g->stride - g->pad_l;                                                 \
            for (int ow = 0; ow < g->ow; ow++) {                                                 \
                int ww0 = ow * g->stride - g->pad_l;                                             \
                size_t o = ((size_t)oh * g->ow + ow) * B;                                        \
                for (int l = 0; l < B; l++) {                                                    \
                    int pos = ws[o + l];                                                         \
                    int h = wh0 + pos / g->k, w = ww0 + pos % g->k;                              \
                    dx[((size_t)h * g->iw + w) * B + l] += dy[o + l];                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    CLONES static void avg_fwd_##B(const struct pool_geom *g, const float *in, float *out)       \
    {                                                                                            \
        for (int oh = 0; oh < g->oh; oh++) {                                                     \
            int h0, h1;                                                                          \
            span(g, oh, g->ih, &h0, &h1);                                                        \
            for (int ow = 0; ow < g->ow; ow++) {                                                 \
                int w0, w1;                                                                      \
                span(g, ow, g->iw, &w0, &w1);                                                    \
                float sum[B];                                                                    \
                for (int l = 0; l < B; l++)                                                      \
                    sum[l] = 0;                                                                  \
                for (int h = h0; h < h1; h++)                                                    \
                    for (int w = w0; w < w1; w++) {                                              \
                        const float *x = in + ((size_t)h * g->iw + w) * B;                       \
                        _Pragma("omp simd") for (int l = 0; l < B; l++) sum[l] += x[l];          \
                    }                                                                            \
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));                               \
                float *y = out + ((size_t)oh * g->ow + ow) * B;                                  \
                for (int l = 0; l < B; l++)                                                      \
                    y[l] = sum[l] * inv;                                                         \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    CLONES static void avg_bwd_##B(const struct pool_geom *g, const float *dy, float *dx)        \
    {                                                                                            \
        memset(dx, 0, sizeof(float) * (size_t)g->ih * g->iw * B);                                \
        for (int oh = 0; oh < g->oh; oh++) {                                                     \
            int h0, h1;                                                                          \
            span(g, oh, g->ih, &h0, &h1);                                                        \
            for (int ow = 0; ow < g->ow; ow++) {                                                 \
                int w0, w1;                                                                      \
                span(g, ow, g->iw, &w0, &w1);                                                    \
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));                               \
                const float *d = dy + ((size_t)oh * g->ow + ow) * B;                             \
                for (int h = h0; h < h1; h++)                                                    \
                    for (int w = w0; w < w1; w++) {                                              \
                        float *x = dx + ((size_t)h * g->iw + w) * B;                             \
                        _Pragma("omp simd") for (int l = 0; l < B; l++) x[l] += d[l] * inv;      \
                    }                                                                            \
            }                                                                                    \
        }                                                                                        \
    }

POOL_KERNELS(1)
POOL_KERNELS(8)
POOL_KERNELS(16)

/* Every (image, channel block) slice, in parallel, through the kernel
 * stamped out for the layout's block size. */
#define FOR_SLICES(g, call)                                                                  \
    do {                                                                                     \
        long slices_ = (long)(g)->n * (g)->cb;                                               \
        size_t in_sz_ = (size_t)(g)->ih * (g)->iw * (g)->block;                              \
        size_t out_sz_ = (size_t)(g)->oh * (g)->ow * (g)->block;                             \
        _Pragma("omp parallel for schedule(static)") for (long s_ = 0; s_ < slices_; s_++)  \
        {                                                                                    \
            size_t io_ = (size_t)s_ * in_sz_, oo_ = (size_t)s_ * out_sz_;                    \
            (void)io_;                                                                       \
            (void)oo_;                                                                       \
            call;                                                                            \
        }                                                                                    \
    } while (0)

#define BY_BLOCK(g, name, ...)                                 \
    do {                                                       \
        if ((g)->block == 16)                                  \
            FOR_SLICES(g, name##_16(g, __VA_ARGS__));          \
        else if ((g)->block == 8)                              \
            FOR_SLICES(g, name##_8(g, __VA_ARGS__));           \
        else                                                   \
            FOR_SLICES(g, name##_1(g, __VA_ARGS__));           \
    } while (0)

void pool_own_forward(const struct pool_geom *g, const float *in, float *out, uint8_t *ws)
{
    if (g->max)
        BY_BLOCK(g, max_fwd, in + io_, out + oo_, ws ? ws + oo_ : NULL);
    else
        BY_BLOCK(g, avg_fwd, in + io_, out + oo_);
}

void pool_own_backward(const struct pool_geom *g, const float *dy, const uint8_t *ws, float *dx)
{
    if (g->max)
        BY_BLOCK(g, max_bwd, dy + oo_, ws + oo_, dx + io_);
    else
        BY_BLOCK(g, avg_bwd, dy + oo_, dx + io_);
}
