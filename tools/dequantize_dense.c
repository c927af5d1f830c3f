/* Dense weights from quantized rows (see dequantize_dense.h). */
#include "dequantize_dense.h"

#include <math.h>
#include <stdlib.h>
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

/* (q - z) * s rounded once to dtype, as the bits stored: F32 bits, or F16 /
 * BF16 bits in the low half. -1 when it overflows the dtype. */
static int64_t rounded_bits(int32_t level, float scale, w4a16_dtype scales_dtype, w4a16_dtype dtype) {
    /* (q - z) is 5 bits at most: times an F16 or BF16 scale it is exact in float. */
    float value = scales_dtype != W4A16_F32 ? (float)level * scale
                  : dtype == W4A16_F32     ? (float)((double)level * scale)
                                           : round_to_odd_float((double)level * scale);
    if (dtype == W4A16_F32) {
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        return isinf(value) ? -1 : (int64_t)bits;
    }
    uint16_t bits = dtype == W4A16_F16 ? w4a16_float_to_f16(value) : w4a16_float_to_bf16(value);
    uint16_t exponent = dtype == W4A16_F16 ? 0x7c00 : 0x7f80;
    return (bits & exponent) == exponent ? -1 : (int64_t)bits;
}

/* A table entry for a level beyond the dtype's range: no finite product has
 * these bits (F32: a NaN; F16 and BF16 fit in 16 bits). */
#define OVERFLOW_ENTRY UINT32_C(0xffffffff)

/* Stores row n's values from its table; 1 when one of them overflows. */
static int store_row(const w4a16_unpacked *w, int64_t n, const uint32_t *table, w4a16_dtype dtype,
                     void *out) {
    int64_t groups = w4a16_unpacked_groups(w), group_size = w->k / groups;
    const uint8_t *q = w->q + n * w->k;
    uint32_t *out32 = (uint32_t *)out + n * w->k;
    uint16_t *out16 = (uint16_t *)out + n * w->k;
    int overflow = 0;
    for (int64_t g = 0; g < groups; g++) {
        int64_t begin = w->g_idx != NULL ? 0 : g * group_size;
        int64_t end = w->g_idx != NULL ? w->k : begin + group_size;
        for (int64_t k = begin; k < end; k++) {
            int64_t group = w->g_idx != NULL ? w->g_idx[k] : g;
            uint32_t bits = table[group * 16 + q[k]];
            overflow |= bits == OVERFLOW_ENTRY;
            if (dtype == W4A16_F32) out32[k] = bits;
            else out16[k] = (uint16_t)bits;
        }
        if (w->g_idx != NULL) break; /* act-order: every column done at once */
    }
    return overflow;
}

int64_t dequantize_rows(const w4a16_unpacked *w, w4a16_dtype dtype, int64_t row_begin,
                        int64_t row_end, void *out) {
    int64_t groups = w4a16_unpacked_groups(w);
    /* A row's values come from 16 levels per group: round each once into a
     * table, then look every value up. */
    uint32_t *table = malloc((size_t)groups * 16 * sizeof *table);
    if (table == NULL) return row_begin; /* reported as a row beyond range: no memory */
    int64_t failed = -1;
    for (int64_t n = row_begin; n < row_end && failed < 0; n++) {
        for (int64_t g = 0; g < groups; g++)
            for (int32_t q = 0; q < 16; q++) {
                int64_t bits = rounded_bits(q - w4a16_unpacked_zero(w, n, g),
                                            w->scales[n * groups + g], w->scales_dtype, dtype);
                table[g * 16 + q] = bits < 0 ? OVERFLOW_ENTRY : (uint32_t)bits;
            }
        if (store_row(w, n, table, dtype, out)) failed = n;
    }
    free(table);
    return failed;
}
