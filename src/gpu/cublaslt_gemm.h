/* One 16-bit GEMM of the fallback through cuBLASLt: fp32 compute, the bias
 * added in fp32 by the epilogue, one rounding to 16 bits, written once. */
#ifndef W4A16_GPU_CUBLASLT_GEMM_H
#define W4A16_GPU_CUBLASLT_GEMM_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "gpu/lt_algo_cache.h"
#include "w4a16.h"

/* C[m, r] = sum_j A[m, j] · W[r, j] (+ bias[r]) for m < M, r < rows, j < k:
 * W row-major [rows][ldw], A row-major [M][lda], C row-major [M][ldc], all
 * of `dtype` (F16 or BF16); bias [rows] or NULL. Sizes are 64-bit all the way
 * to cuBLASLt. */
typedef struct {
    w4a16_dtype dtype;
    const void *W;
    int64_t rows, k, ldw;
    const void *A;
    int64_t M, lda;
    void *C;
    int64_t ldc;
    const void *bias;
} w4a16_lt_gemm;

/* Runs it on `stream` with cuBLAS's workspace. Split-K reductions are kept
 * to fp32 partials (never 16-bit ones), so C is rounded once. `algos`
 * remembers the algorithms cuBLASLt chose on `handle` (the ctx's, beside
 * it): one cache per handle, since an algorithm is valid for its device. */
w4a16_status w4a16_cublaslt_gemm(cublasLtHandle_t handle, w4a16_lt_algo_cache *algos,
                                 void *workspace, size_t workspace_bytes, const w4a16_lt_gemm *g,
                                 cudaStream_t stream);

#endif
