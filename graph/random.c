/*
 * graph/random.c — xoshiro256** seeded through splitmix64.
 */
#include <math.h>

#include "graph/random.h"

uint64_t recur_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void recur_rng_seed(recur_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed = recur_hash64(seed);
        r->s[i] = seed;
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t recur_rng_next(recur_rng *r)
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

double recur_rng_uniform(recur_rng *r)
{
    /* 53 random bits into the mantissa of a double in [0, 1). */
    return (double)(recur_rng_next(r) >> 11) * 0x1.0p-53;
}

double recur_rng_normal(recur_rng *r)
{
    /* Box-Muller: sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1]. */
    double u1 = 1.0 - recur_rng_uniform(r);
    double u2 = recur_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
