/* The fallback's GEMM through cuBLASLt (see cublaslt_gemm.h).
 *
 * Row-major C [M, rows] is, to column-major cuBLAS, C' [rows, M] with ld =
 * ldc; the W chunk row-major [rows, ldw] is W' [k, rows] and A is A' [k, M]:
 * C' = W'ᵀ A' (transa = T). cuBLASLt rather than cublasGemmEx because its
 * bias epilogue adds the bias in fp32 in the same kernel that writes C:
 * nothing is written to C before the call that can fail, and the result is
 * rounded once. Descriptors live on the stack (the Init forms): no
 * allocation per call. */
#include "gpu/cublaslt_gemm.h"

#include <stdint.h>

#include "common/fault.h"
#include "gpu/cuda_check.h"

/* The base address's alignment, up to the 256 bytes cuBLASLt assumes when
 * told nothing: its heuristic then only offers kernels that can take it. */
static uint32_t alignment_of(const void *p) {
    uint32_t align = 256;
    while (align > 1 && (uintptr_t)p % align != 0) align /= 2;
    return align;
}

#define SET_DESC(desc, attribute, value)                                                   \
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute((desc), (attribute), &(value), sizeof(value)))
#define SET_PREF(pref, attribute, value)                                                   \
    CUBLAS_TRY(cublasLtMatmulPreferenceSetAttribute((pref), (attribute), &(value), sizeof(value)))

static w4a16_status describe(const w4a16_lt_gemm *g, cublasLtMatmulDesc_t desc) {
    CUBLAS_TRY(cublasLtMatmulDescInit(desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const int32_t transpose = CUBLAS_OP_T, as_is = CUBLAS_OP_N;
    SET_DESC(desc, CUBLASLT_MATMUL_DESC_TRANSA, transpose);
    SET_DESC(desc, CUBLASLT_MATMUL_DESC_TRANSB, as_is);
    if (g->bias != NULL) {
        /* The bias has C's dtype (the default) and is added in fp32 before the rounding. */
        const uint32_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        const void *bias = g->bias;
        SET_DESC(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
        SET_DESC(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    }
    return W4A16_OK;
}

static w4a16_status prefer(const w4a16_lt_gemm *g, size_t workspace_bytes,
                           cublasLtMatmulPreference_t pref) {
    CUBLAS_TRY(cublasLtMatmulPreferenceInit(pref));
    const uint64_t max_workspace = workspace_bytes;
    /* Split-K partials in fp32 only: INPLACE and OUTPUT_TYPE reduce through
     * 16-bit values, a rounding per split. */
    const uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    const uint32_t align_w = alignment_of(g->W), align_a = alignment_of(g->A),
                   align_c = alignment_of(g->C);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_workspace);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, reductions);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_w);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_a);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_c);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_c);
    return W4A16_OK;
}

w4a16_status w4a16_cublaslt_gemm(cublasLtHandle_t handle, void *workspace, size_t workspace_bytes,
                                 const w4a16_lt_gemm *g, cudaStream_t stream) {
    const cudaDataType t = g->dtype == W4A16_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    cublasLtMatmulDescOpaque_t desc_storage;
    cublasLtMatrixLayoutOpaque_t w_storage, a_storage, c_storage;
    cublasLtMatmulPreferenceOpaque_t pref_storage;
    cublasLtMatmulDesc_t desc = &desc_storage;
    cublasLtMatrixLayout_t w_layout = &w_storage, a_layout = &a_storage, c_layout = &c_storage;
    cublasLtMatmulPreference_t pref = &pref_storage;
    W4A16_TRY(describe(g, desc));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(w_layout, t, (uint64_t)g->k, (uint64_t)g->rows, g->ldw));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(a_layout, t, (uint64_t)g->k, (uint64_t)g->M, g->lda));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(c_layout, t, (uint64_t)g->rows, (uint64_t)g->M, g->ldc));
    W4A16_TRY(prefer(g, workspace_bytes, pref));

    /* cuBLASLt caches its heuristic's answers, so asking each call is cheap. */
    cublasLtMatmulHeuristicResult_t choice;
    int found = 0;
    CUBLAS_TRY(cublasLtMatmulAlgoGetHeuristic(handle, desc, w_layout, a_layout, c_layout, c_layout,
                                              pref, 1, &choice, &found));
    W4A16_FAIL_IF(found < 1, W4A16_ERR_UNSUPPORTED,
                  "cuBLASLt has no algorithm for rows=%lld, M=%lld, k=%lld (ldw=%lld, lda=%lld, "
                  "ldc=%lld)",
                  (long long)g->rows, (long long)g->M, (long long)g->k, (long long)g->ldw,
                  (long long)g->lda, (long long)g->ldc);
    const float alpha = 1.0f, beta = 0.0f; /* beta = 0: C is only written */
    CUBLAS_TRY(W4A16_FAULT_OR(W4A16_FAULT_FALLBACK_GEMM, CUBLAS_STATUS_EXECUTION_FAILED,
                              cublasLtMatmul(handle, desc, &alpha, g->W, w_layout, g->A, a_layout,
                                             &beta, g->C, c_layout, g->C, c_layout, &choice.algo,
                                             workspace, workspace_bytes, stream)));
    return W4A16_OK;
}
