/* Seeded random numbers for the program's random inputs and for the tests:
 * reproducible from a seed on every machine. Internal: not part of w4a16.h. */
#ifndef W4A16_COMMON_RNG_H
#define W4A16_COMMON_RNG_H

#include <stdint.h>

#include "w4a16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* splitmix64: a tiny generator whose every seed gives a good stream. */
uint64_t w4a16_rng_next(uint64_t *state);
/* Uniform in [lo, hi), on a 2^-53 grid. */
double w4a16_rng_uniform(uint64_t *state, double lo, double hi);
/* Fills an F16, BF16 or F32 array (any other dtype is taken as F32) with
 * uniform values in [lo, hi), each rounded to the dtype. */
void w4a16_rng_fill(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
                    uint64_t *state);

#ifdef __cplusplus
}
#endif
#endif
