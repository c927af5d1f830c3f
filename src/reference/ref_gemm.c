/* The fp64 CPU reference GEMM (docs/DESIGN.md §1): C = A[rows] · Ŵᵀ (+ bias),
 * Ŵ exact in double from the checkpoint's own q, z and s.
 *
 * Cost: each row of Ŵ is computed once (not once per A row) into a block of
 * W_BLOCK_ROWS rows, and the selected A rows are converted to double once.
 * The dot products then run four W rows against one A row at a time, so each
 * A value loaded feeds four multiply-adds. */
#include <stdlib.h>

#include "checkpoint/source.h"
#include "common/dtype.h"
#include "common/error.h"

/* 8 rows of K = 2560 doubles is 160 KiB: the block and the A rows stay in L2. */
enum { W_BLOCK_ROWS = 8 };

/* Dot products of one A row with four W rows, two partial sums each so the
 * additions do not wait on one another. */
static void dot4(const double *a, const double *w, int64_t k, double out[4]) {
    const double *w0 = w, *w1 = w + k, *w2 = w + 2 * k, *w3 = w + 3 * k;
    double s0[2] = {0, 0}, s1[2] = {0, 0}, s2[2] = {0, 0}, s3[2] = {0, 0};
    int64_t i = 0;
    for (; i + 1 < k; i += 2)
        for (int lane = 0; lane < 2; lane++) {
            double value = a[i + lane];
            s0[lane] += value * w0[i + lane];
            s1[lane] += value * w1[i + lane];
            s2[lane] += value * w2[i + lane];
            s3[lane] += value * w3[i + lane];
        }
    if (i < k) {
        s0[0] += a[i] * w0[i];
        s1[0] += a[i] * w1[i];
        s2[0] += a[i] * w2[i];
        s3[0] += a[i] * w3[i];
    }
    out[0] = s0[0] + s0[1];
    out[1] = s1[0] + s1[1];
    out[2] = s2[0] + s2[1];
    out[3] = s3[0] + s3[1];
}

static double dot(const double *a, const double *w, int64_t k) {
    double sum = 0;
    for (int64_t i = 0; i < k; i++) sum += a[i] * w[i];
    return sum;
}

static w4a16_status validate(const w4a16_source *w, const void *A, w4a16_dtype a_dtype,
                             int64_t lda, const int64_t *rows, int64_t n_rows, double *C) {
    W4A16_TRY(w4a16_source_validate(w));
    W4A16_FAIL_IF(w->on_device, W4A16_ERR_ARG, "the reference needs a host source (on_device=1)");
    W4A16_FAIL_IF(a_dtype != W4A16_F16 && a_dtype != W4A16_BF16, W4A16_ERR_ARG,
                  "activation dtype %s is not F16 or BF16", w4a16_dtype_name(a_dtype));
    W4A16_FAIL_IF(n_rows < 0, W4A16_ERR_ARG, "n_rows=%lld is negative", (long long)n_rows);
    W4A16_FAIL_IF(lda < w->k, W4A16_ERR_ARG, "lda=%lld is less than K=%lld", (long long)lda,
                  (long long)w->k);
    if (n_rows == 0) return W4A16_OK;
    W4A16_FAIL_IF(A == NULL, W4A16_ERR_ARG, "A is NULL (n_rows=%lld)", (long long)n_rows);
    W4A16_FAIL_IF(C == NULL, W4A16_ERR_ARG, "C is NULL (n_rows=%lld)", (long long)n_rows);
    if (rows != NULL)
        for (int64_t r = 0; r < n_rows; r++)
            W4A16_FAIL_IF(rows[r] < 0 || rows[r] > (INT64_MAX - w->k) / lda, W4A16_ERR_ARG,
                          "rows[%lld]=%lld is not a row of A", (long long)r, (long long)rows[r]);
    W4A16_FAIL_IF(rows == NULL && n_rows - 1 > (INT64_MAX - w->k) / lda, W4A16_ERR_ARG,
                  "n_rows=%lld rows of lda=%lld overflow", (long long)n_rows, (long long)lda);
    return W4A16_OK;
}

w4a16_status w4a16_ref_gemm(const w4a16_source *w, const void *A, w4a16_dtype a_dtype,
                            int64_t lda, const int64_t *rows, int64_t n_rows, const void *bias,
                            double *C) {
    W4A16_TRY(validate(w, A, a_dtype, lda, rows, n_rows, C));
    if (n_rows == 0) return W4A16_OK;
    const int64_t n = w->n, k = w->k;
    double *a = malloc((size_t)(n_rows * k) * sizeof *a);
    double *w_block = malloc((size_t)(W_BLOCK_ROWS * k) * sizeof *w_block);
    if (a == NULL || w_block == NULL) {
        free(a);
        free(w_block);
        return w4a16_fail(W4A16_ERR_NOMEM, "cannot allocate %lld A rows and %d W rows of K=%lld",
                          (long long)n_rows, (int)W_BLOCK_ROWS, (long long)k);
    }
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t row = rows != NULL ? rows[r] : r;
        for (int64_t i = 0; i < k; i++) a[r * k + i] = w4a16_load_as_double(A, a_dtype, row * lda + i);
    }
    for (int64_t n0 = 0; n0 < n; n0 += W_BLOCK_ROWS) {
        int64_t block = n - n0 < W_BLOCK_ROWS ? n - n0 : W_BLOCK_ROWS;
        for (int64_t j = 0; j < block; j++) w4a16_source_row(w, n0 + j, w_block + j * k);
        for (int64_t r = 0; r < n_rows; r++) {
            double *c = C + r * n + n0;
            int64_t j = 0;
            for (; j + 4 <= block; j += 4) dot4(a + r * k, w_block + j * k, k, c + j);
            for (; j < block; j++) c[j] = dot(a + r * k, w_block + j * k, k);
            if (bias != NULL)
                for (j = 0; j < block; j++) c[j] += w4a16_load_as_double(bias, a_dtype, n0 + j);
        }
    }
    free(a);
    free(w_block);
    return W4A16_OK;
}
