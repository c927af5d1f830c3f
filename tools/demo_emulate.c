/* The CPU emulation of a 16-bit GEMM (see demo_emulate.h). */
#include "demo_emulate.h"

#include <stdlib.h>

#include "common/dtype.h"

/* Eight running sums, like the lanes of a kernel's accumulators; the
 * products of two 16-bit values are exact in fp32, only the sums round. */
static float dot_fp32(const float *a, const float *w, int64_t k) {
    float lanes[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int j = 0; j < 8; j++) lanes[j] += a[i + j] * w[i + j];
    for (; i < k; i++) lanes[0] += a[i] * w[i];
    float sum = 0;
    for (int j = 0; j < 8; j++) sum += lanes[j];
    return sum;
}

static float to_float(uint16_t bits, w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? w4a16_bf16_to_float(bits) : w4a16_f16_to_float(bits);
}

int demo_emulate_gemm(const uint16_t *W16, int64_t n, int64_t k, const uint16_t *A,
                       w4a16_dtype dtype, const int64_t *rows, int64_t n_rows, uint16_t *C_rows) {
    float *a = malloc((size_t)(n_rows * k) * sizeof *a);
    float *w_row = malloc((size_t)k * sizeof *w_row);
    int rc = a == NULL || w_row == NULL ? -1 : 0;
    if (rc != 0) goto done;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < k; i++) a[r * k + i] = to_float(A[rows[r] * k + i], dtype);
    for (int64_t col = 0; col < n; col++) {
        for (int64_t i = 0; i < k; i++) w_row[i] = to_float(W16[col * k + i], dtype);
        for (int64_t r = 0; r < n_rows; r++) {
            float c = dot_fp32(&a[r * k], w_row, k);
            C_rows[r * n + col] = dtype == W4A16_BF16 ? w4a16_float_to_bf16(c) : w4a16_float_to_f16(c);
        }
    }
done:
    free(a);
    free(w_row);
    return rc;
}
