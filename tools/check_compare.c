/* Row sampling and error measures of `w4a16 check`. */
#include "check_compare.h"

#include <math.h>

#include "common/dtype.h"
#include "common/rng.h"

int check_sample_rows(int64_t m, uint64_t *rng, int64_t *rows) {
    if (m <= CHECK_MAX_ROWS) {
        for (int64_t r = 0; r < m; r++) rows[r] = r;
        return (int)m;
    }
    for (int i = 0; i < CHECK_MAX_ROWS; i++) {
        int64_t lo = i * m / CHECK_MAX_ROWS, hi = (i + 1) * m / CHECK_MAX_ROWS;
        rows[i] = lo + (int64_t)(w4a16_rng_next(rng) % (uint64_t)(hi - lo));
    }
    rows[0] = 0;
    rows[CHECK_MAX_ROWS - 1] = m - 1;
    return CHECK_MAX_ROWS;
}

static double load16(uint16_t bits, w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? w4a16_bf16_to_float(bits) : w4a16_f16_to_float(bits);
}

double check_relative_error(const uint16_t *C_rows, w4a16_dtype dtype, const double *ref,
                            int64_t n_rows, int64_t n) {
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < n_rows * n; i++) {
        double value = load16(C_rows[i], dtype);
        if (!isfinite(value)) return NAN;
        double diff = fabs(value - ref[i]);
        if (diff > max_diff) max_diff = diff;
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

int64_t check_count_nonfinite(const uint16_t *C, w4a16_dtype dtype, int64_t count) {
    /* All exponent bits set means Inf or NaN: 5 bits in F16, 8 in BF16. */
    uint16_t exponent = dtype == W4A16_BF16 ? 0x7F80u : 0x7C00u;
    int64_t bad = 0;
    for (int64_t i = 0; i < count; i++) bad += (C[i] & exponent) == exponent;
    return bad;
}

double check_limit(double cublas_error, w4a16_dtype dtype) {
    double floor = dtype == W4A16_BF16 ? 8e-3 : 1e-3;
    double scaled = 1.5 * cublas_error;
    return scaled > floor ? scaled : floor;
}
