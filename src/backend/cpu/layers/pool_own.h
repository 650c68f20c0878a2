/* src/backend/cpu/layers/pool_own.h — enevo's own max/avg pooling loops for
 * plain nchw and channel-blocked (8, 16) layouts (pool_own.c). Internal. */
#ifndef ENEVO_POOL_OWN_H
#define ENEVO_POOL_OWN_H

#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stdint.h>

struct pool_geom {
    int n, cb;       /* images; channel blocks (channels when block is 1) */
    int block;       /* 1 (nchw), 8 (nChw8c) or 16 (nChw16c) */
    int ih, iw, oh, ow;
    int k, stride, pad_l;
    bool max;        /* else average, padding excluded */
};

/* 1, 8 or 16 when md is nchw, nChw8c or nChw16c f32 (what these loops
 * take), else 0. */
int pool_own_block(const dnnl_memory_desc_t *md);
/* The output descriptor in the same layout. */
void pool_own_dst_md(dnnl_memory_desc_t *dst, int block, int n, int c, int h, int w);
/* ws: the argmax workspace of max pooling (one byte per output element,
 * padding lanes included), or NULL in inference. */
void pool_own_forward(const struct pool_geom *g, const float *in, float *out, uint8_t *ws);
void pool_own_backward(const struct pool_geom *g, const float *dy, const uint8_t *ws, float *dx);

#endif
