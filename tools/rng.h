/* Seeded random numbers for the GPU commands: reproducible inputs, never zeros. */
#ifndef W4A16_TOOLS_RNG_H
#define W4A16_TOOLS_RNG_H

#include <stdint.h>

#include "w4a16.h"

/* splitmix64: a tiny generator whose every seed gives a good stream. */
uint64_t rng_next(uint64_t *state);
/* Uniform in [lo, hi). */
double rng_uniform(uint64_t *state, double lo, double hi);
/* Fills a F16, BF16 or F32 array with uniform values in [lo, hi), each rounded to the dtype. */
void rng_fill(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
              uint64_t *state);

#endif
