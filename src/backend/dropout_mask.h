/* src/backend/dropout_mask.h — the dropout mask of both backends: a
 * counter-based hash of (step key ^ layer salt, element index), so a mask
 * needs no buffer or sequential RNG, is the same on any thread count, and
 * backward recomputes it. Compiled as C (CPU) and as CUDA (device code).
 * Internal. */
#ifndef ENEVO_DROPOUT_MASK_H
#define ENEVO_DROPOUT_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "backend/hostdev.h"

/* Per-layer salt, xored into the step key with the layer's index. */
#define ENEVO_DROPOUT_SALT 0xd6e8feb86659fd93ULL

/* Elements whose hash is below the threshold are dropped: rate * 2^32. */
static inline uint32_t enevo_dropout_threshold(double rate)
{
    double t = rate * 4294967296.0;
    return (uint32_t)(t > 4294967295.0 ? 4294967295.0 : t);
}

/* Inverted dropout: kept values are scaled by 1 / (1 - rate). */
static inline float enevo_dropout_scale(double rate)
{
    return rate < 1.0 ? (float)(1.0 / (1.0 - rate)) : 0.0f;
}

/* The factor of element i: `scale` if kept, 0 if dropped (splitmix64). */
static inline ENEVO_HD float enevo_dropout_keep(uint64_t key, size_t i, uint32_t threshold,
                                                float scale)
{
    uint64_t z = key + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint32_t)(z >> 32) >= threshold ? scale : 0.0f;
}

#endif
