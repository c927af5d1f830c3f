/* splitmix64 and uniform fills of 16/32-bit float arrays. */
#include "rng.h"

#include "dtype.h"

uint64_t w4a16_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double w4a16_rng_uniform(uint64_t *state, double lo, double hi) {
    /* 53 random bits: every double in [0, 1) on a 2^-53 grid. */
    return lo + (hi - lo) * ((double)(w4a16_rng_next(state) >> 11) * 0x1p-53);
}

void w4a16_rng_fill(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
                    uint64_t *state) {
    for (int64_t i = 0; i < count; i++) {
        float value = (float)w4a16_rng_uniform(state, lo, hi);
        if (dtype == W4A16_F16)
            ((uint16_t *)data)[i] = w4a16_float_to_f16(value);
        else if (dtype == W4A16_BF16)
            ((uint16_t *)data)[i] = w4a16_float_to_bf16(value);
        else
            ((float *)data)[i] = value;
    }
}
