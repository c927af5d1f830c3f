/* The cuBLAS baseline: C = A · Wᵀ on a dense 16-bit W with fp32 compute,
 * the GEMM every kernel is measured and checked against (docs/DESIGN.md §1, §6). */
#ifndef W4A16_TOOLS_DENSE_GEMM_H
#define W4A16_TOOLS_DENSE_GEMM_H

#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "w4a16.h"

typedef struct {
    cublasHandle_t handle;
    void *workspace; /* set explicitly so that calls can be captured in a CUDA graph */
} dense_gemm;

/* 1 on success (errors printed). */
int dense_gemm_create(dense_gemm *g, cudaStream_t stream);
void dense_gemm_destroy(dense_gemm *g);

/* Row-major C[M, N] = A[M, K] · W[N, K]ᵀ, all of dtype (F16 or BF16);
 * enqueued on the handle's stream. 1 on success. */
int dense_gemm_run(dense_gemm *g, w4a16_dtype dtype, const void *A, int64_t lda, const void *W,
                   int64_t N, int64_t K, void *C, int64_t ldc, int64_t M);

#endif
