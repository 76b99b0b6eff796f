/*
 * graph/include/graph/random.h — the seeded random generator behind initializers,
 * dropout masks and the gradient checker (private to the library).
 *
 * xoshiro256** for streams, splitmix64 for seeding and for the stateless
 * hash that dropout uses (a mask bit is a pure function of its inputs).
 */
#ifndef RECUR_GRAPH_RANDOM_H
#define RECUR_GRAPH_RANDOM_H

#include <stdint.h>

typedef struct recur_rng {
    uint64_t s[4];
} recur_rng;

/* Seeds a generator; every seed (0 included) gives a good stream. */
void recur_rng_seed(recur_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t recur_rng_next(recur_rng *r);

/* Uniform in [0, 1). */
double recur_rng_uniform(recur_rng *r);

/* Standard normal (Box-Muller). */
double recur_rng_normal(recur_rng *r);

/* splitmix64's finaliser: a well-mixed 64-bit hash of x. */
uint64_t recur_hash64(uint64_t x);

#endif
