/* w4a16_gemm: argument checks, then the dispatcher. Nothing here allocates
 * or synchronizes; the checks are a few comparisons (host time matters at
 * decode, where a kernel takes ~10 us). */
#include <limits.h>
#include <stdint.h>

#include "common/error.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "gpu/dispatch.h"
#include "packed/packed_layout.h"

/* The header's fields agree with one another and with layout version 1. */
static w4a16_status check_weight(const w4a16_weight *w) {
    W4A16_FAIL_IF(w == NULL, W4A16_ERR_ARG, "w is NULL");
    W4A16_FAIL_IF(w->version != W4A16_PACKED_VERSION, W4A16_ERR_UNSUPPORTED,
                  "packed layout version %d; this library reads version %d", (int)w->version,
                  W4A16_PACKED_VERSION);
    W4A16_FAIL_IF(w->act_dtype != W4A16_F16 && w->act_dtype != W4A16_BF16, W4A16_ERR_ARG,
                  "w->act_dtype %s is not F16 or BF16", w4a16_dtype_name(w->act_dtype));
    W4A16_FAIL_IF(w->scales_dtype != W4A16_F16 && w->scales_dtype != W4A16_BF16 &&
                      w->scales_dtype != W4A16_F32,
                  W4A16_ERR_ARG, "w->scales_dtype %s is not F16, BF16 or F32",
                  w4a16_dtype_name(w->scales_dtype));
    W4A16_FAIL_IF(w->n <= 0 || w->k <= 0 || w->n_padded != w4a16_round_up(w->n, W4A16_ROW_PAD) ||
                      w->k_padded != w4a16_round_up(w->k, W4A16_COL_PAD),
                  W4A16_ERR_ARG, "w's shape n=%lld (padded %lld), k=%lld (padded %lld) is inconsistent",
                  (long long)w->n, (long long)w->n_padded, (long long)w->k, (long long)w->k_padded);
    W4A16_FAIL_IF(w->group_size == 0 || w->group_size < -1 ||
                      (w->group_size > 0 && w->k % w->group_size != 0) ||
                      w->groups != w->k / w4a16_group_cols(w->group_size, w->k) ||
                      w->groups_padded != w4a16_packed_groups(w->group_size, w->k),
                  W4A16_ERR_ARG, "w's groups (group_size=%lld, groups=%lld, padded %lld) do not fit k=%lld",
                  (long long)w->group_size, (long long)w->groups, (long long)w->groups_padded,
                  (long long)w->k);
    W4A16_FAIL_IF(w->qweight == NULL, W4A16_ERR_ARG, "w->qweight is NULL");
    W4A16_FAIL_IF(w->scales == NULL, W4A16_ERR_ARG, "w->scales is NULL");
    return W4A16_OK;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Whether two row-strided views of 16-bit elements share an element: x
 * (rows_x rows of cols_x, pitch ld_x) and y, y - x = delta elements. Views
 * that only interleave (columns of one buffer) do not overlap. Only called
 * when their byte spans intersect, so the loop over y's rows is rare. */
static int views_overlap(int64_t delta, int64_t rows_x, int64_t cols_x, int64_t ld_x,
                         int64_t rows_y, int64_t cols_y, int64_t ld_y) {
    const int64_t x_end = (rows_x - 1) * ld_x + cols_x;
    for (int64_t r = 0; r < rows_y; r++) {
        const int64_t y0 = delta + r * ld_y, y1 = y0 + cols_y;
        if (y1 <= 0 || y0 >= x_end) continue;
        int64_t first = floor_div(y0, ld_x), last = floor_div(y1 - 1, ld_x);
        if (first < 0) first = 0;
        if (last > rows_x - 1) last = rows_x - 1;
        if (last - first >= 2) return 1; /* a whole row of x lies inside */
        for (int64_t xr = first; xr <= last; xr++) {
            const int64_t lo = y0 > xr * ld_x ? y0 : xr * ld_x;
            const int64_t hi = y1 < xr * ld_x + cols_x ? y1 : xr * ld_x + cols_x;
            if (lo < hi) return 1;
        }
    }
    return 0;
}

static int overlaps(const void *x, int64_t rows_x, int64_t cols_x, int64_t ld_x, const void *y,
                    int64_t rows_y, int64_t cols_y, int64_t ld_y) {
    const intptr_t xb = (intptr_t)x, yb = (intptr_t)y;
    const intptr_t x_end = xb + 2 * ((rows_x - 1) * ld_x + cols_x);
    const intptr_t y_end = yb + 2 * ((rows_y - 1) * ld_y + cols_y);
    if (x_end <= yb || y_end <= xb) return 0;
    return views_overlap((int64_t)(yb - xb) / 2, rows_x, cols_x, ld_x, rows_y, cols_y, ld_y);
}

static w4a16_status check_call(const w4a16_gemm_call *c) {
    const w4a16_weight *w = c->w;
    W4A16_FAIL_IF(c->A == NULL, W4A16_ERR_ARG, "A is NULL (M=%lld)", (long long)c->M);
    W4A16_FAIL_IF(c->C == NULL, W4A16_ERR_ARG, "C is NULL (M=%lld)", (long long)c->M);
    W4A16_FAIL_IF((uintptr_t)c->A % 2 != 0, W4A16_ERR_ARG, "A=%p is not 2-byte aligned", c->A);
    W4A16_FAIL_IF((uintptr_t)c->C % 2 != 0, W4A16_ERR_ARG, "C=%p is not 2-byte aligned", c->C);
    W4A16_FAIL_IF((uintptr_t)c->bias % 2 != 0, W4A16_ERR_ARG, "bias=%p is not 2-byte aligned",
                  c->bias);
    W4A16_FAIL_IF(c->lda < w->k, W4A16_ERR_ARG, "lda=%lld is less than k=%lld",
                  (long long)c->lda, (long long)w->k);
    W4A16_FAIL_IF(c->ldc < w->n, W4A16_ERR_ARG, "ldc=%lld is less than n=%lld",
                  (long long)c->ldc, (long long)w->n);
    /* cuBLAS takes int sizes. */
    W4A16_FAIL_IF(c->M > INT_MAX || c->lda > INT_MAX || c->ldc > INT_MAX, W4A16_ERR_UNSUPPORTED,
                  "M=%lld, lda=%lld or ldc=%lld exceeds 2^31 - 1", (long long)c->M,
                  (long long)c->lda, (long long)c->ldc);
    W4A16_FAIL_IF(overlaps(c->A, c->M, w->k, c->lda, c->C, c->M, w->n, c->ldc), W4A16_ERR_ARG,
                  "C overlaps A: C=%p (M=%lld rows of n=%lld, ldc=%lld), A=%p (k=%lld, lda=%lld)",
                  c->C, (long long)c->M, (long long)w->n, (long long)c->ldc, c->A,
                  (long long)w->k, (long long)c->lda);
    W4A16_FAIL_IF(c->bias != NULL && overlaps(c->bias, 1, w->n, w->n, c->C, c->M, w->n, c->ldc),
                  W4A16_ERR_ARG, "C overlaps bias: C=%p (M=%lld rows of n=%lld, ldc=%lld), bias=%p",
                  c->C, (long long)c->M, (long long)w->n, (long long)c->ldc, c->bias);
    int current = -1;
    CUDA_TRY(cudaGetDevice(&current));
    W4A16_FAIL_IF(current != c->ctx->device, W4A16_ERR_ARG,
                  "the ctx is on device %d but device %d is current", c->ctx->device, current);
    return W4A16_OK;
}

w4a16_status w4a16_gemm(w4a16_ctx *ctx, const w4a16_weight *w, const void *A, int64_t lda,
                        void *C, int64_t ldc, int64_t M, const void *bias, w4a16_stream stream) {
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    W4A16_TRY(check_weight(w));
    W4A16_FAIL_IF(M < 0, W4A16_ERR_ARG, "M=%lld is negative", (long long)M);
    if (M == 0) return W4A16_OK;
    w4a16_gemm_call call = {ctx, w, A, lda, C, ldc, M, bias, (cudaStream_t)stream};
    W4A16_TRY(check_call(&call));
    return w4a16_dispatch_run(&call);
}

const char *w4a16_gemm_kernel_name(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M) {
    if (ctx == NULL || check_weight(w) != W4A16_OK || M < 0) return "none";
    w4a16_gemm_call call = {ctx, w, NULL, w->k, NULL, w->n, M, NULL, NULL};
    w4a16_kernel kernel;
    if (w4a16_dispatch_choose(&call, &kernel) != W4A16_OK) return "none";
    return w4a16_kernel_name(kernel);
}
