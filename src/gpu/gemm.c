/* w4a16_gemm: argument checks (the weight's in packed/weight_view.c), an
 * error pending from the caller's earlier work, then the dispatcher.
 * Nothing here allocates or synchronizes; the checks are a few comparisons
 * (host time matters at decode, where a kernel takes ~10 us). */
#include <limits.h>
#include <stdint.h>

#include "common/error.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "gpu/dispatch.h"
#include "packed/packed_layout.h"
#include "packed/weight_view.h"

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
    /* Bounds that keep M x lda and M x ldc inside int64 (and the kernels' row
     * counts inside int). */
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
    return W4A16_OK;
}

/* The ctx is usable on the current device. */
static w4a16_status check_ctx(const w4a16_ctx *ctx) {
    int current = -1;
    CUDA_TRY(cudaGetDevice(&current));
    W4A16_FAIL_IF(current != ctx->device, W4A16_ERR_ARG,
                  "the ctx is on device %d but device %d is current", ctx->device, current);
    return W4A16_OK;
}

w4a16_status w4a16_gemm(w4a16_ctx *ctx, const w4a16_weight *w, const void *A, int64_t lda,
                        void *C, int64_t ldc, int64_t M, const void *bias, w4a16_stream stream) {
    /* The weight first: its checks need no ctx and no device, so they hold
     * (and are tested) everywhere. */
    W4A16_TRY(w4a16_weight_check(w));
    W4A16_FAIL_IF(M < 0, W4A16_ERR_ARG, "M=%lld is negative", (long long)M);
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    if (M == 0) return W4A16_OK;
    w4a16_gemm_call call = {ctx, w, A, lda, C, ldc, M, bias, (cudaStream_t)stream};
    W4A16_TRY(check_call(&call));
    W4A16_TRY(check_ctx(ctx));
    W4A16_TRY(w4a16_cuda_check_pending("w4a16_gemm"));
    return w4a16_dispatch_run(&call);
}

w4a16_status w4a16_workspace_size(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M,
                                  size_t *bytes) {
    W4A16_TRY(w4a16_weight_check(w));
    W4A16_FAIL_IF(M < 0, W4A16_ERR_ARG, "M=%lld is negative", (long long)M);
    W4A16_FAIL_IF(bytes == NULL, W4A16_ERR_ARG, "bytes is NULL");
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    if (M == 0) {
        *bytes = 0;
        return W4A16_OK;
    }
    w4a16_gemm_call call = {ctx, w, NULL, w->k, NULL, w->n, M, NULL, NULL};
    return w4a16_dispatch_workspace_bytes(&call, bytes);
}

const char *w4a16_gemm_kernel_name(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M) {
    if (ctx == NULL || w4a16_weight_check(w) != W4A16_OK || M < 0) return "none";
    w4a16_gemm_call call = {ctx, w, NULL, w->k, NULL, w->n, M, NULL, NULL};
    w4a16_kernel kernel;
    if (w4a16_dispatch_choose(&call, &kernel) != W4A16_OK) return "none";
    return w4a16_kernel_name(kernel);
}
