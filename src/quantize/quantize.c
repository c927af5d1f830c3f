/* Round-to-nearest 4-bit quantization, one group (G consecutive columns of a
 * row) at a time, with the conventions of GPTQ and compressed-tensors:
 *
 *   symmetric (uint4b8):  z = 8,  s = max|w| / 7.5,
 *   asymmetric (uint4):   lo = min(min w, 0), hi = max(max w, 0),
 *                         s = (hi - lo) / 15,  z = clamp(rint(-lo / s), min_zero, 15),
 *   both:                 q = clamp(rint(w / s) + z, 0, 15),  Ŵ = (q - z) * s.
 *
 * Keeping 0 inside [lo, hi] puts z in 0..15 without clamping and makes 0
 * exact. The scale is rounded to the dtype it will be stored in first and q
 * is computed against that rounded scale, so Ŵ's only error is q's rounding:
 * |W - Ŵ| <= s / 2 for every element. Where rounding made the scale a little
 * too small for a group's extremes (they would clamp at 0 or 15 and cost more
 * than s / 2), the scale moves up one ulp at a time until they fit. rint
 * rounds halves to even, as torch.round does. */
#include "quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/source.h"
#include "common/dtype.h"
#include "common/error.h"
#include "unpacked.h"

/* A scale rounded to nearest is at most one ulp short of the ideal scale, and
 * one at or above it always fits: a couple of steps suffice. */
enum { MAX_SCALE_NUDGES = 8 };

/* All-zero groups: any finite nonzero scale gives q = z and Ŵ = 0 exactly. */
static const double ZERO_GROUP_SCALE = 1.0;

static double ideal_scale(double lo, double hi, int symmetric, int32_t min_zero) {
    if (symmetric) return fmax(fabs(lo), fabs(hi)) / 7.5;
    lo = fmin(lo, 0.0);
    hi = fmax(hi, 0.0);
    double scale = (hi - lo) / 15.0;
    /* A zero forced up to min_zero leaves 15.5 - min_zero steps for hi. */
    if (scale > 0 && rint(-lo / scale) < min_zero) scale = fmax(scale, hi / (15.5 - min_zero));
    return scale;
}

static int32_t zero_point(double lo, double scale, int symmetric, int32_t min_zero) {
    if (symmetric) return 8;
    double zero = rint(-fmin(lo, 0.0) / scale);
    return (int32_t)fmin(fmax(zero, (double)min_zero), 15.0);
}

static uint8_t quantize_value(double w, double scale, int32_t zero) {
    double q = rint(w / scale) + zero;
    return (uint8_t)(q < 0 ? 0 : q > 15 ? 15 : q); /* finite: NaN was refused on load */
}

/* |w - Ŵ| <= s / 2; exact in double (w and s are floats, q - z a small integer). */
static int within_half_step(double w, double scale, int32_t zero) {
    return fabs(w - (double)(quantize_value(w, scale, zero) - zero) * scale) <= scale / 2;
}

/* The next value of dtype above a finite, non-negative scale. */
static float next_up(float scale, w4a16_dtype dtype) {
    switch (dtype) {
    case W4A16_F16: return w4a16_f16_to_float((uint16_t)(w4a16_float_to_f16(scale) + 1));
    case W4A16_BF16: return w4a16_bf16_to_float((uint16_t)(w4a16_float_to_bf16(scale) + 1));
    default: return nextafterf(scale, INFINITY);
    }
}

/* The stored scale and zero of a group whose values span [lo, hi]. */
static w4a16_status choose_scale(double lo, double hi, int symmetric, int32_t min_zero,
                                 w4a16_dtype dtype, float *scale_out, int32_t *zero_out) {
    double ideal = ideal_scale(lo, hi, symmetric, min_zero);
    if (ideal == 0) ideal = ZERO_GROUP_SCALE;
    float scale = w4a16_round_to_dtype((float)ideal, dtype);
    for (int step = 0; step <= MAX_SCALE_NUDGES; step++) {
        W4A16_FAIL_IF(!isfinite(scale), W4A16_ERR_ARG,
                      "scale %g overflows %s (values span %g..%g); store the scales as F32", ideal,
                      w4a16_dtype_name(dtype), lo, hi);
        if (scale > 0) {
            int32_t zero = zero_point(lo, scale, symmetric, min_zero);
            if (within_half_step(lo, scale, zero) && within_half_step(hi, scale, zero)) {
                *scale_out = scale;
                *zero_out = zero;
                return W4A16_OK;
            }
        }
        scale = next_up(scale, dtype);
    }
    return w4a16_fail(W4A16_ERR_ARG, "no %s scale near %g holds values %g..%g within s/2",
                      w4a16_dtype_name(dtype), ideal, lo, hi);
}

/* 0x1.8p52: adding and subtracting it rounds a double below 2^51 in magnitude
 * to an integer, halves to even, exactly as rint does in the default
 * rounding mode, in two additions the compiler keeps (no -ffast-math). */
static const double ROUNDING_MAGIC = 6755399441055744.0;

/* Within this of a half step, w * (1 / s) may round the other way than w / s
 * (|w / s| <= 32 here, so the product is off by < 32 * 2^-51 < 2e-14). */
static const double NEAR_A_TIE = 1e-12;

/* q for every value of a group, against a scale that holds the group's
 * extremes within s/2 (choose_scale), so |w / s| stays far below 2^51.
 * Multiplying by the reciprocal rounds the same as dividing everywhere but
 * within NEAR_A_TIE of a half step, where the division decides: the result
 * is rint(w / s) exactly, at a multiply's cost (a divider is shared by the
 * hyperthreads of a core). */
static void quantize_group(const float *values, int64_t count, double scale, int32_t zero,
                           uint8_t *q) {
    double reciprocal = 1.0 / scale;
    for (int64_t i = 0; i < count; i++) {
        double quotient = (double)values[i] * reciprocal;
        double rounded = (quotient + ROUNDING_MAGIC) - ROUNDING_MAGIC;
        if (fabs(fabs(quotient - rounded) - 0.5) < NEAR_A_TIE)
            rounded = ((double)values[i] / scale + ROUNDING_MAGIC) - ROUNDING_MAGIC;
        double level = rounded + zero;
        q[i] = (uint8_t)(level < 0 ? 0 : level > 15 ? 15 : level);
    }
}

/* Whether F16 or BF16 bits hold an infinity or a NaN (exponent all ones). */
static int half_not_finite(uint16_t bits, w4a16_dtype dtype) {
    uint16_t exponent = dtype == W4A16_F16 ? 0x7c00 : 0x7f80;
    return (bits & exponent) == exponent;
}

/* Row n of the weight as floats (every F16, BF16 and F32 value is exact in
 * float), through scratch (k words); the index of the first value that is
 * not finite, or -1. */
static int64_t load_row(const void *weight, w4a16_dtype dtype, int64_t n, int64_t k, float *row,
                        uint32_t *scratch) {
    const unsigned char *bytes = (const unsigned char *)weight; /* any alignment */
    int not_finite = 0;
    if (dtype == W4A16_F32) {
        memcpy(row, bytes + (size_t)(n * k) * 4, (size_t)k * 4);
        for (int64_t c = 0; c < k; c++) not_finite |= !isfinite(row[c]);
        for (int64_t c = 0; not_finite && c < k; c++)
            if (!isfinite(row[c])) return c;
        return -1;
    }
    const unsigned char *in = bytes + (size_t)(n * k) * 2;
    uint16_t exponent = dtype == W4A16_F16 ? 0x7c00 : 0x7f80;
    uint32_t *bits = scratch;
    /* Branch-free loops the compiler vectorizes: the bits of each float,
     * then (F16) one exact scaling. */
    for (int64_t c = 0; c < k; c++) {
        uint16_t h;
        memcpy(&h, in + 2 * c, 2);
        not_finite |= (h & exponent) == exponent;
        bits[c] = h;
    }
    if (dtype == W4A16_BF16) {
        for (int64_t c = 0; c < k; c++) bits[c] <<= 16; /* float's top half */
        memcpy(row, bits, (size_t)k * 4);
    } else {
        /* F16's exponent and mantissa moved into float's place read as the
         * value times 2^-112, subnormals too: scale back exactly. */
        for (int64_t c = 0; c < k; c++) bits[c] = ((bits[c] & 0x7fffu) << 13) | ((bits[c] & 0x8000u) << 16);
        memcpy(row, bits, (size_t)k * 4);
        for (int64_t c = 0; c < k; c++) row[c] *= 0x1p112f;
    }
    for (int64_t c = 0; not_finite && c < k; c++) {
        uint16_t h;
        memcpy(&h, in + 2 * c, 2);
        if (half_not_finite(h, dtype)) return c;
    }
    return -1;
}

/* The smallest and largest of values (count >= 1), four at a time so the
 * comparisons do not wait on each other. Which of 0 and -0 comes out does
 * not matter: both give the same scale and zero. */
static void group_range(const float *values, int64_t count, float *lo_out, float *hi_out) {
    float lo[4] = {values[0], values[0], values[0], values[0]};
    float hi[4] = {values[0], values[0], values[0], values[0]};
    int64_t i = 0;
    for (; i + 4 <= count; i += 4)
        for (int j = 0; j < 4; j++) {
            lo[j] = values[i + j] < lo[j] ? values[i + j] : lo[j];
            hi[j] = values[i + j] > hi[j] ? values[i + j] : hi[j];
        }
    for (; i < count; i++) {
        lo[0] = values[i] < lo[0] ? values[i] : lo[0];
        hi[0] = values[i] > hi[0] ? values[i] : hi[0];
    }
    for (int j = 1; j < 4; j++) {
        lo[0] = lo[j] < lo[0] ? lo[j] : lo[0];
        hi[0] = hi[j] > hi[0] ? hi[j] : hi[0];
    }
    *lo_out = lo[0];
    *hi_out = hi[0];
}

/* Quantizes row n of the weight (already in `row`) into out. */
static w4a16_status quantize_row(const float *row, int64_t n, int32_t min_zero,
                                 w4a16_unpacked *out) {
    int64_t groups = w4a16_unpacked_groups(out);
    int64_t group_size = out->k / groups;
    for (int64_t g = 0; g < groups; g++) {
        const float *values = row + g * group_size;
        float lo, hi;
        group_range(values, group_size, &lo, &hi);
        float scale = 0;
        int32_t zero = 0;
        w4a16_status status =
            choose_scale(lo, hi, out->symmetric, min_zero, out->scales_dtype, &scale, &zero);
        if (status != W4A16_OK)
            return w4a16_fail_context(status, "row %lld group %lld", (long long)n, (long long)g);
        out->scales[n * groups + g] = scale;
        if (!out->symmetric) out->zeros[n * groups + g] = (uint8_t)zero;
        quantize_group(values, group_size, scale, zero, out->q + n * out->k + g * group_size);
    }
    return W4A16_OK;
}

/* The arguments the one-step and the row-range forms both take. */
static w4a16_status check_weight_dtype_and_min_zero(w4a16_dtype weight_dtype, int32_t min_zero) {
    W4A16_FAIL_IF(weight_dtype != W4A16_F32 && weight_dtype != W4A16_F16 &&
                      weight_dtype != W4A16_BF16,
                  W4A16_ERR_UNSUPPORTED, "weight dtype %s is not F32, F16 or BF16",
                  w4a16_dtype_name(weight_dtype));
    W4A16_FAIL_IF(min_zero != 0 && min_zero != 1, W4A16_ERR_ARG, "min_zero=%d is not 0 or 1",
                  (int)min_zero);
    return W4A16_OK;
}

w4a16_status w4a16_quantize_begin(int64_t n, int64_t k, int64_t group_size, int symmetric,
                                  w4a16_dtype scales_dtype, w4a16_unpacked *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_FAIL_IF(group_size != 32 && group_size != 64 && group_size != 128 && group_size != -1,
                  W4A16_ERR_ARG, "group_size=%lld is not 32, 64, 128 or -1 (per-channel)",
                  (long long)group_size);
    W4A16_TRY(w4a16_check_quantized_shape(n, k, group_size));
    W4A16_FAIL_IF(n > INT64_MAX / k, W4A16_ERR_SHAPE, "N=%lld x K=%lld is too large",
                  (long long)n, (long long)k);
    W4A16_TRY(w4a16_check_scales_dtype(scales_dtype));
    w4a16_unpacked result = {.n = n, .k = k, .group_size = group_size,
                             .symmetric = symmetric ? 1 : 0, .scales_dtype = scales_dtype};
    W4A16_TRY(w4a16_unpacked_alloc(&result, 0));
    *out = result;
    return W4A16_OK;
}

w4a16_status w4a16_quantize_rows(const void *weight, w4a16_dtype weight_dtype, int32_t min_zero,
                                 int64_t row_begin, int64_t row_end, w4a16_unpacked *out) {
    W4A16_FAIL_IF(weight == NULL, W4A16_ERR_ARG, "weight is NULL");
    W4A16_FAIL_IF(out == NULL || out->q == NULL, W4A16_ERR_ARG, "out is NULL or not allocated");
    W4A16_TRY(check_weight_dtype_and_min_zero(weight_dtype, min_zero));
    W4A16_FAIL_IF(row_begin < 0 || row_end > out->n || row_begin > row_end, W4A16_ERR_ARG,
                  "rows [%lld, %lld) are outside [0, %lld)", (long long)row_begin,
                  (long long)row_end, (long long)out->n);
    float *row = malloc((size_t)out->k * sizeof *row);
    uint32_t *scratch = malloc((size_t)out->k * sizeof *scratch);
    if (row == NULL || scratch == NULL) {
        free(row);
        free(scratch);
        return w4a16_fail(W4A16_ERR_NOMEM, "cannot allocate a row of K=%lld floats",
                          (long long)out->k);
    }
    w4a16_status status = W4A16_OK;
    for (int64_t r = row_begin; r < row_end && status == W4A16_OK; r++) {
        int64_t bad = load_row(weight, weight_dtype, r, out->k, row, scratch);
        if (bad >= 0)
            status = w4a16_fail(W4A16_ERR_ARG, "weight[%lld, %lld]=%g is not finite", (long long)r,
                                (long long)bad,
                                w4a16_load_as_double(weight, weight_dtype, r * out->k + bad));
        else
            status = quantize_row(row, r, min_zero, out);
    }
    free(row);
    free(scratch);
    return status;
}

w4a16_status w4a16_quantize_min_zero(const void *weight, w4a16_dtype weight_dtype, int64_t n,
                                     int64_t k, int64_t group_size, int symmetric,
                                     w4a16_dtype scales_dtype, int32_t min_zero,
                                     w4a16_unpacked *out) {
    W4A16_FAIL_IF(weight == NULL, W4A16_ERR_ARG, "weight is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_TRY(check_weight_dtype_and_min_zero(weight_dtype, min_zero));
    w4a16_unpacked result;
    W4A16_TRY(w4a16_quantize_begin(n, k, group_size, symmetric, scales_dtype, &result));
    w4a16_status status = w4a16_quantize_rows(weight, weight_dtype, min_zero, 0, n, &result);
    if (status != W4A16_OK) {
        w4a16_unpacked_free(&result);
        return status;
    }
    *out = result;
    return W4A16_OK;
}

w4a16_status w4a16_quantize(const void *weight, w4a16_dtype weight_dtype, int64_t n, int64_t k,
                            int64_t group_size, int symmetric, w4a16_dtype scales_dtype,
                            w4a16_unpacked *out) {
    return w4a16_quantize_min_zero(weight, weight_dtype, n, k, group_size, symmetric,
                                   scales_dtype, 0, out);
}
