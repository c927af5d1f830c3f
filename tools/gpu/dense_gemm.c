/* cuBLAS GemmEx in row-major terms. */
#ifdef W4A16_WITH_CUDA
#include "dense_gemm.h"

#include <limits.h>
#include <string.h>

#include "gpu_tool.h"

/* cuBLAS asks for 32 MiB on Hopper to reach its best kernels. */
#define DENSE_WORKSPACE_BYTES ((size_t)32 << 20)

int dense_gemm_create(dense_gemm *g, cudaStream_t stream) {
    memset(g, 0, sizeof *g);
    g->workspace = gpu_tool_alloc(DENSE_WORKSPACE_BYTES, "the cuBLAS workspace");
    if (g->workspace == NULL) return 0;
    if (!CUBLAS_OK(cublasCreate(&g->handle)) || !CUBLAS_OK(cublasSetStream(g->handle, stream)) ||
        !CUBLAS_OK(cublasSetWorkspace(g->handle, g->workspace, DENSE_WORKSPACE_BYTES))) {
        dense_gemm_destroy(g);
        return 0;
    }
    return 1;
}

void dense_gemm_destroy(dense_gemm *g) {
    if (g->handle) cublasDestroy(g->handle);
    cudaFree(g->workspace);
    memset(g, 0, sizeof *g);
}

int dense_gemm_run(dense_gemm *g, w4a16_dtype dtype, const void *A, int64_t lda, const void *W,
                   int64_t N, int64_t K, void *C, int64_t ldc, int64_t M) {
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldc > INT_MAX) {
        fprintf(stderr, "w4a16 %s: cuBLAS takes 32-bit sizes: M=%lld N=%lld K=%lld\n",
                gpu_tool_command(), (long long)M, (long long)N, (long long)K);
        return 0;
    }
    /* Column-major cuBLAS sees row-major C[M, N] as Cᵀ [N, M]: Cᵀ = W · Aᵀ,
     * with W [N, K] row-major read as a transposed K x N column-major matrix. */
    cudaDataType type = dtype == W4A16_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.0f, beta = 0.0f;
    return CUBLAS_OK(cublasGemmEx(g->handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K,
                                  &alpha, W, type, (int)K, A, type, (int)lda, &beta, C, type,
                                  (int)ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
#endif
