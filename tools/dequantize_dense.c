/* Dense weights from quantized rows (see dequantize_dense.h). */
#include "dequantize_dense.h"

#include <math.h>
#include <string.h>

#include "common/dtype.h"
#include "quantize/unpacked.h"

/* d rounded to float with "round to odd": truncate, then set the last bit
 * when inexact. Rounding that float to a 16-bit type (11 or 8 bits, at least
 * two fewer than float's 24) then gives the same result as rounding d once,
 * with no double rounding. */
static float round_to_odd_float(double d) {
    float f = (float)d;
    if ((double)f == d || isnan(d)) return f;
    if (fabs((double)f) > fabs(d)) f = nextafterf(f, 0.0f);
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= 1u;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Stores value (a float from which one rounding to dtype gives the exact
 * product's rounding) at out[i]; 0, or -1 when it overflows. */
static int store(float value, w4a16_dtype dtype, void *out, int64_t i) {
    if (dtype == W4A16_F32) {
        ((float *)out)[i] = value;
        return isinf(value) ? -1 : 0;
    }
    uint16_t bits = dtype == W4A16_F16 ? w4a16_float_to_f16(value) : w4a16_float_to_bf16(value);
    ((uint16_t *)out)[i] = bits;
    uint16_t exponent = dtype == W4A16_F16 ? 0x7c00 : 0x7f80;
    return (bits & exponent) == exponent ? -1 : 0;
}

int64_t dequantize_rows(const w4a16_unpacked *w, w4a16_dtype dtype, int64_t row_begin,
                        int64_t row_end, void *out) {
    int64_t groups = w4a16_unpacked_groups(w), group_size = w->k / groups;
    /* (q - z) is 5 bits at most: times an F16 or BF16 scale it is exact in float. */
    int exact_in_float = w->scales_dtype != W4A16_F32;
    for (int64_t n = row_begin; n < row_end; n++) {
        int overflow = 0;
        for (int64_t k = 0; k < w->k; k++) {
            int64_t g = w->g_idx != NULL ? w->g_idx[k] : k / group_size;
            int32_t level = (int32_t)w->q[n * w->k + k] - w4a16_unpacked_zero(w, n, g);
            float scale = w->scales[n * groups + g];
            float value = exact_in_float ? (float)level * scale
                          : dtype == W4A16_F32 ? (float)((double)level * scale)
                                               : round_to_odd_float((double)level * scale);
            overflow |= store(value, dtype, out, n * w->k + k);
        }
        if (overflow) return n;
    }
    return -1;
}
