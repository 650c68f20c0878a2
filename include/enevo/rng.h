/* enevo/rng.h — explicit, seedable random streams (no global RNG).
 *
 *     enevo_rng r;
 *     enevo_rng_seed(&r, 42, ENEVO_STREAM_INIT);   // one stream per purpose
 *     float u = enevo_rng_uniform(&r);              // [0, 1)
 *     uint32_t k = enevo_rng_below(&r, 10);         // unbiased 0..9
 *
 * xoshiro256** seeded through splitmix64. The state is a plain struct, so it
 * can be copied into checkpoints byte for byte.
 */
#ifndef ENEVO_RNG_H
#define ENEVO_RNG_H

#include "enevo/api.h"

#include <stdint.h>

typedef struct enevo_rng {
    uint64_t s[4];
} enevo_rng;

/* Stream ids, so that one user seed gives independent streams per purpose. */
enum {
    ENEVO_STREAM_SPLIT = 1,
    ENEVO_STREAM_INIT = 2,
    ENEVO_STREAM_SHUFFLE = 3,
    ENEVO_STREAM_DROPOUT = 4,
    ENEVO_STREAM_SUBSET = 5,
    ENEVO_STREAM_EVO = 6,
};

/* Seed from (seed, stream); different streams never share a sequence start. */
ENEVO_API void enevo_rng_seed(enevo_rng *r, uint64_t seed, uint64_t stream);
/* Derive a stream from a seed and up to three integers (e.g. generation, index). */
ENEVO_API void enevo_rng_seed3(enevo_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
ENEVO_API uint64_t enevo_rng_u64(enevo_rng *r);
/* Uniform float in [0, 1) with 24 random bits. */
ENEVO_API float enevo_rng_uniform(enevo_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
ENEVO_API double enevo_rng_double(enevo_rng *r);
/* Unbiased integer in [0, n); n > 0. */
ENEVO_API uint32_t enevo_rng_below(enevo_rng *r, uint32_t n);
/* Standard normal (Box-Muller, no cached second value so the state says it all). */
ENEVO_API float enevo_rng_normal(enevo_rng *r);
/* Fisher-Yates shuffle of an int array. */
ENEVO_API void enevo_rng_shuffle(enevo_rng *r, int *a, int n);

#endif
