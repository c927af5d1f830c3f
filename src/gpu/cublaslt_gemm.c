/* The fallback's GEMM through cuBLASLt (see cublaslt_gemm.h).
 *
 * Row-major C [M, rows] is, to column-major cuBLAS, C' [rows, M] with ld =
 * ldc; the W chunk row-major [rows, ldw] is W' [k, rows] and A is A' [k, M]:
 * C' = W'ᵀ A' (transa = T). cuBLASLt rather than cublasGemmEx because its
 * bias epilogue adds the bias in fp32 in the same kernel that writes C:
 * nothing is written to C before the call that can fail, and the result is
 * rounded once. Descriptors live on the stack (the Init forms): no
 * allocation per call. The heuristic is asked once per key and its answer
 * remembered in the ctx (lt_algo_cache.h): a repeated call skips it. */
#include "gpu/cublaslt_gemm.h"

#include <stdint.h>
#include <string.h>

#include "common/fault.h"
#include "gpu/cuda_check.h"

_Static_assert(sizeof(w4a16_lt_algo) == sizeof(cublasLtMatmulAlgo_t),
               "w4a16_lt_algo holds a copy of cublasLtMatmulAlgo_t");

/* The base address's alignment, up to the 256 bytes cuBLASLt assumes when
 * told nothing: its heuristic then only offers kernels that can take it. */
static uint32_t alignment_of(const void *p) {
    uint32_t align = 256;
    while (align > 1 && (uintptr_t)p % align != 0) align /= 2;
    return align;
}

/* Everything the heuristic is told about the call; the descriptors below
 * are built from it (and the bias pointer), so the key cannot miss a part of
 * the question. */
static w4a16_lt_algo_key key_of(const w4a16_lt_gemm *g, size_t workspace_bytes) {
    const w4a16_lt_algo_key key = {
        .dtype = g->dtype,
        .rows = g->rows,
        .k = g->k,
        .ldw = g->ldw,
        .M = g->M,
        .lda = g->lda,
        .ldc = g->ldc,
        .w_align = alignment_of(g->W),
        .a_align = alignment_of(g->A),
        .c_align = alignment_of(g->C),
        .bias_align = g->bias != NULL ? alignment_of(g->bias) : 0,
        .workspace_bytes = workspace_bytes,
    };
    return key;
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

static w4a16_status prefer(const w4a16_lt_algo_key *key, cublasLtMatmulPreference_t pref) {
    CUBLAS_TRY(cublasLtMatmulPreferenceInit(pref));
    const uint64_t max_workspace = key->workspace_bytes;
    /* Split-K partials in fp32 only: INPLACE and OUTPUT_TYPE reduce through
     * 16-bit values, a rounding per split. */
    const uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_workspace);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, reductions);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key->w_align);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key->a_align);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key->c_align);
    SET_PREF(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key->c_align);
    return W4A16_OK;
}

/* The heuristic's first choice for the call; an error (not remembered) when it has none. */
static w4a16_status ask_heuristic(cublasLtHandle_t handle, const w4a16_lt_algo_key *key,
                                  cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t w_layout,
                                  cublasLtMatrixLayout_t a_layout, cublasLtMatrixLayout_t c_layout,
                                  cublasLtMatmulAlgo_t *algo) {
    cublasLtMatmulPreferenceOpaque_t pref_storage;
    cublasLtMatmulPreference_t pref = &pref_storage;
    W4A16_TRY(prefer(key, pref));
    cublasLtMatmulHeuristicResult_t choice;
    int found = 0;
    CUBLAS_TRY(cublasLtMatmulAlgoGetHeuristic(handle, desc, w_layout, a_layout, c_layout, c_layout,
                                              pref, 1, &choice, &found));
    W4A16_FAIL_IF(found < 1, W4A16_ERR_UNSUPPORTED,
                  "cuBLASLt has no algorithm for rows=%lld, M=%lld, k=%lld (ldw=%lld, lda=%lld, "
                  "ldc=%lld)",
                  (long long)key->rows, (long long)key->M, (long long)key->k,
                  (long long)key->ldw, (long long)key->lda, (long long)key->ldc);
    *algo = choice.algo;
    return W4A16_OK;
}

w4a16_status w4a16_cublaslt_gemm(cublasLtHandle_t handle, w4a16_lt_algo_cache *algos,
                                 void *workspace, size_t workspace_bytes, const w4a16_lt_gemm *g,
                                 cudaStream_t stream) {
    const w4a16_lt_algo_key key = key_of(g, workspace_bytes);
    const cudaDataType t = key.dtype == W4A16_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    cublasLtMatmulDescOpaque_t desc_storage;
    cublasLtMatrixLayoutOpaque_t w_storage, a_storage, c_storage;
    cublasLtMatmulDesc_t desc = &desc_storage;
    cublasLtMatrixLayout_t w_layout = &w_storage, a_layout = &a_storage, c_layout = &c_storage;
    W4A16_TRY(describe(g, desc));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(w_layout, t, (uint64_t)key.k, (uint64_t)key.rows, key.ldw));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(a_layout, t, (uint64_t)key.k, (uint64_t)key.M, key.lda));
    CUBLAS_TRY(cublasLtMatrixLayoutInit(c_layout, t, (uint64_t)key.rows, (uint64_t)key.M, key.ldc));

    /* A remembered algorithm is the one the heuristic would answer again for
     * the same key on the same handle: the same kernel, so C's bits do not
     * change; only the host time of asking is saved. */
    cublasLtMatmulAlgo_t algo;
    w4a16_lt_algo remembered;
    if (w4a16_lt_algo_lookup(algos, &key, &remembered)) {
        memcpy(&algo, &remembered, sizeof algo);
    } else {
        W4A16_TRY(ask_heuristic(handle, &key, desc, w_layout, a_layout, c_layout, &algo));
        memcpy(&remembered, &algo, sizeof algo);
        w4a16_lt_algo_remember(algos, &key, &remembered);
    }
    const float alpha = 1.0f, beta = 0.0f; /* beta = 0: C is only written */
    CUBLAS_TRY(W4A16_FAULT_OR(W4A16_FAULT_FALLBACK_GEMM, CUBLAS_STATUS_EXECUTION_FAILED,
                              cublasLtMatmul(handle, desc, &alpha, g->W, w_layout, g->A, a_layout,
                                             &beta, g->C, c_layout, g->C, c_layout, &algo,
                                             workspace, workspace_bytes, stream)));
    return W4A16_OK;
}
