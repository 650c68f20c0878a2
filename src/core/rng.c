#include "enevo/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void enevo_rng_seed3(enevo_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    h ^= a * 0xd6e8feb86659fd93ULL;
    x = h;
    h = splitmix64(&x) ^ (b * 0xa0761d6478bd642fULL);
    x = h;
    h = splitmix64(&x) ^ (c * 0xe7037ed1a0b428dbULL);
    x = h;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

void enevo_rng_seed(enevo_rng *r, uint64_t seed, uint64_t stream)
{
    enevo_rng_seed3(r, seed, stream, 0, 0);
}

uint64_t enevo_rng_u64(enevo_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float enevo_rng_uniform(enevo_rng *r)
{
    return (float)(enevo_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

double enevo_rng_double(enevo_rng *r)
{
    return (double)(enevo_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t enevo_rng_below(enevo_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t m = (uint64_t)(uint32_t)(enevo_rng_u64(r) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(enevo_rng_u64(r) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float enevo_rng_normal(enevo_rng *r)
{
    double u1 = enevo_rng_double(r);
    double u2 = enevo_rng_double(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void enevo_rng_shuffle(enevo_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)enevo_rng_below(r, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
