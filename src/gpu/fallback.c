/* The fallback GEMM (see fallback.h).
 *
 * C row-major [M, N] is, to column-major cuBLAS, C' [N, M] with ld = ldc;
 * a W chunk row-major [rows, k_padded] is W' [k, rows] and A is A' [k, M]:
 * C'[n0 .. n0 + rows) = W'ᵀ A', i.e. GemmEx(op_W = T, op_A = N, m = rows,
 * n = M, k = K) writing C + n0. The bias is broadcast into C first and the
 * GEMM runs with beta = 1, so it is added in fp32 with a single rounding.
 *
 * Workspace: act-order first takes room for the permuted A (whole M, or
 * M-chunks when it does not fit in half), the rest holds two W buffers.
 * Chunk i+1 is dequantized on the side stream while chunk i's GEMM runs on
 * the caller's stream; events join the two, all capturable in a CUDA graph. */
#include "gpu/fallback.h"

#include <stdio.h>

#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "packed/packed_layout.h"

enum {
    ALIGN = 256,     /* workspace regions start on cuBLAS-friendly boundaries */
    CHUNK_ROWS = 64, /* chunk boundaries: whole packed row blocks */
};

/* Chunking policy (measured on the H100: bench/NOTES.md, "fallback chunking").
 * - default ("none"): W that fits the workspace is dequantized in one piece,
 *   so the GEMM is exactly the dense baseline's. Splitting it to overlap the
 *   dequantize with a GEMM measured slower at every M from 512 to 8192: the
 *   cuBLAS kernel holds every SM, so the side stream's blocks mostly wait,
 *   and the narrower GEMMs lose more than the hidden dequantize saves.
 * - W larger than the workspace (gate_up: 100 MB of f16 against 64 MiB) is
 *   split into as few equal chunks as the two half-workspace buffers allow;
 *   each chunk after the first is dequantized on the side stream while the
 *   previous chunk's GEMM runs.
 * - W4A16_FALLBACK_SPLIT=none|even|head (read at ctx creation) chooses the
 *   split for A/B runs at M >= OVERLAP_MIN_M: even splits into at least two
 *   equal chunks; head makes a small first chunk (1/HEAD_FRACTION of the
 *   rows), the only dequantize not hidden, then chunks as large as fit.
 * Chunk boundaries are multiples of 64 rows (whole packed row blocks). */
static const int64_t OVERLAP_MIN_M = 512;
static const int64_t OVERLAP_MIN_ROWS = 1024;
enum { HEAD_FRACTION = 8 };

typedef struct {
    int64_t ldw;        /* row pitch of a W chunk, elements: k_padded (128-byte rows) */
    int64_t head_rows;  /* rows of chunk 0, a multiple of 64 */
    int64_t body_rows;  /* rows of every later chunk, a multiple of 64 */
    int64_t n_chunks;
    void *w_buffer[2];
    void *a_perm;       /* act-order: the permuted A rows; NULL otherwise */
    int64_t lda_perm;   /* round_up(k, 8): 16-byte rows */
    int64_t m_chunk;    /* rows of A per pass (M unless act-order's A does not fit) */
} fallback_plan;

static size_t align_down(size_t x) { return x / ALIGN * ALIGN; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Fills the plan; returns NULL, or why the workspace cannot hold it. */
static const char *make_plan(const w4a16_ctx *ctx, const w4a16_weight *w, int64_t M,
                             fallback_plan *p, char *why, size_t why_size) {
    const int64_t row_bytes = w->k_padded * 2;
    size_t w_bytes = ctx->workspace_bytes;
    p->ldw = w->k_padded;
    p->a_perm = NULL;
    p->lda_perm = w4a16_round_up(w->k, 8);
    p->m_chunk = M > 0 ? M : 1;
    if (w->perm != NULL && M > 0) {
        const int64_t a_row_bytes = p->lda_perm * 2;
        int64_t a_rows = min64(M, (int64_t)(ctx->workspace_bytes / 2) / a_row_bytes);
        if (a_rows < 1) {
            snprintf(why, why_size, "workspace of %zu bytes cannot hold one permuted row of A (k=%lld)",
                     ctx->workspace_bytes, (long long)w->k);
            return why;
        }
        /* The permuted A sits at the end; the W buffers take what is left before it. */
        w_bytes = align_down(ctx->workspace_bytes - (size_t)(a_rows * a_row_bytes));
        p->a_perm = (char *)ctx->workspace + w_bytes;
        p->m_chunk = a_rows;
    }
    const int want_overlap = ctx->fallback_split != W4A16_SPLIT_NONE && M >= OVERLAP_MIN_M &&
                             w->n_padded >= OVERLAP_MIN_ROWS;
    p->w_buffer[0] = ctx->workspace;
    if (!want_overlap && w->n_padded * row_bytes <= (int64_t)w_bytes) {
        p->head_rows = p->body_rows = w->n_padded;
        p->n_chunks = 1;
        p->w_buffer[1] = NULL;
        return NULL;
    }
    const size_t buffer_bytes = align_down(w_bytes / 2);
    const int64_t max_rows = (int64_t)buffer_bytes / row_bytes / CHUNK_ROWS * CHUNK_ROWS;
    if (max_rows < CHUNK_ROWS) {
        snprintf(why, why_size,
                 "workspace of %zu bytes is too small for the fallback at k=%lld: it needs %lld",
                 ctx->workspace_bytes, (long long)w->k,
                 (long long)(2 * CHUNK_ROWS * row_bytes + 2 * ALIGN) * (w->perm != NULL ? 2 : 1));
        return why;
    }
    p->w_buffer[1] = (char *)ctx->workspace + buffer_bytes;
    int64_t head = 0, rest = w->n_padded;
    if (want_overlap && ctx->fallback_split == W4A16_SPLIT_HEAD) {
        head = min64(max_rows, w4a16_round_up(w->n_padded / HEAD_FRACTION, CHUNK_ROWS));
        rest -= head;
    }
    int64_t body_chunks = ceil_div(rest, max_rows);
    if (want_overlap && head == 0 && body_chunks < 2) body_chunks = 2;
    p->body_rows = w4a16_round_up(ceil_div(rest, body_chunks), CHUNK_ROWS);
    body_chunks = ceil_div(rest, p->body_rows);
    p->head_rows = head > 0 ? head : p->body_rows;
    p->n_chunks = head > 0 ? 1 + body_chunks : body_chunks;
    return NULL;
}

/* First row and row count of chunk i. */
static int64_t chunk_start(const fallback_plan *p, int64_t i) {
    return i == 0 ? 0 : p->head_rows + (i - 1) * p->body_rows;
}

static int64_t chunk_rows(const fallback_plan *p, int64_t i, int64_t n) {
    return min64(i == 0 ? p->head_rows : p->body_rows, n - chunk_start(p, i));
}

const char *w4a16_fallback_cannot_run(const w4a16_gemm_call *call) {
    /* Thread-local: the message outlives the call that made it. */
    static _Thread_local char why[256];
    fallback_plan plan;
    return make_plan(call->ctx, call->w, call->M, &plan, why, sizeof why);
}

static cudaDataType cuda_type(w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

static w4a16_status gemm_chunk(const w4a16_gemm_call *c, const fallback_plan *p,
                               const void *w_chunk, int64_t rows, int64_t M, const void *A,
                               int64_t lda, void *C) {
    const float alpha = 1.0f, beta = c->bias != NULL ? 1.0f : 0.0f;
    const cudaDataType t = cuda_type(c->w->act_dtype);
    CUBLAS_TRY(cublasGemmEx(c->ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)rows, (int)M,
                            (int)c->w->k, &alpha, w_chunk, t, (int)p->ldw, A, t, (int)lda, &beta,
                            C, t, (int)c->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return W4A16_OK;
}

/* Chunk `chunk` of W into buffer b: on the caller's stream when there is one
 * chunk, else on the side stream between the two events. */
static w4a16_status dequantize_chunk(const w4a16_gemm_call *c, const fallback_plan *p,
                                     int64_t chunk, int b, int64_t uses, int overlap) {
    w4a16_ctx *ctx = c->ctx;
    const int64_t n0 = chunk_start(p, chunk);
    const int64_t rows = chunk_rows(p, chunk, c->w->n_padded);
    if (!overlap) {
        CUDA_TRY(w4a16_launch_dequantize(c->w, n0, rows, p->w_buffer[b], p->ldw, c->stream));
        return W4A16_OK;
    }
    if (uses >= 2) CUDA_TRY(cudaStreamWaitEvent(ctx->side_stream, ctx->chunk_used[b], 0));
    CUDA_TRY(w4a16_launch_dequantize(c->w, n0, rows, p->w_buffer[b], p->ldw, ctx->side_stream));
    CUDA_TRY(cudaEventRecord(ctx->chunk_ready[b], ctx->side_stream));
    CUDA_TRY(cudaStreamWaitEvent(c->stream, ctx->chunk_ready[b], 0));
    return W4A16_OK;
}

/* Rows [m0, m0 + mc) of A and C against all of W. `uses` counts W buffer
 * fills across the call, so a buffer is refilled only after its GEMM. */
static w4a16_status run_rows(const w4a16_gemm_call *c, const fallback_plan *p, int64_t m0,
                             int64_t mc, int64_t *uses) {
    const int overlap = p->n_chunks > 1;
    const char *A = (const char *)c->A + m0 * c->lda * 2;
    int64_t lda = c->lda;
    char *C = (char *)c->C + m0 * c->ldc * 2;
    if (p->a_perm != NULL) {
        CUDA_TRY(w4a16_launch_permute_columns(A, c->lda, mc, c->w->k, c->w->perm, p->a_perm,
                                              p->lda_perm, c->stream));
        A = p->a_perm;
        lda = p->lda_perm;
    }
    if (c->bias != NULL)
        CUDA_TRY(w4a16_launch_fill_rows(c->bias, c->w->n, mc, C, c->ldc, c->stream));
    for (int64_t chunk = 0; chunk < p->n_chunks; chunk++) {
        const int b = overlap ? (int)(*uses % 2) : 0;
        /* One chunk: W stays in buffer 0 across M passes. */
        if (overlap || *uses == 0) W4A16_TRY(dequantize_chunk(c, p, chunk, b, *uses, overlap));
        const int64_t n0 = chunk_start(p, chunk);
        const int64_t rows = chunk_rows(p, chunk, c->w->n);
        W4A16_TRY(gemm_chunk(c, p, p->w_buffer[b], rows, mc, A, lda, C + n0 * 2));
        if (overlap) CUDA_TRY(cudaEventRecord(c->ctx->chunk_used[b], c->stream));
        (*uses)++;
    }
    return W4A16_OK;
}

w4a16_status w4a16_fallback_run(const w4a16_gemm_call *c) {
    w4a16_ctx *ctx = c->ctx;
    fallback_plan p;
    char why[256];
    W4A16_FAIL_IF(make_plan(ctx, c->w, c->M, &p, why, sizeof why) != NULL,
                  W4A16_ERR_UNSUPPORTED, "fallback: %s", why);
    /* cublasSetStream resets the workspace to cuBLAS's pool: set ours after it.
     * The handle is the ctx's own, so both hold until the stream changes. */
    if (!ctx->cublas_stream_set || ctx->cublas_stream != c->stream) {
        CUBLAS_TRY(cublasSetStream(ctx->cublas, c->stream));
        CUBLAS_TRY(cublasSetWorkspace(ctx->cublas, ctx->cublas_workspace,
                                      W4A16_CUBLAS_WORKSPACE_BYTES));
        ctx->cublas_stream = c->stream;
        ctx->cublas_stream_set = 1;
    }
    if (p.n_chunks > 1) {
        /* Fork: the side stream starts after everything already on the caller's. */
        CUDA_TRY(cudaEventRecord(ctx->fork, c->stream));
        CUDA_TRY(cudaStreamWaitEvent(ctx->side_stream, ctx->fork, 0));
    }
    int64_t uses = 0;
    for (int64_t m0 = 0; m0 < c->M; m0 += p.m_chunk)
        W4A16_TRY(run_rows(c, &p, m0, min64(p.m_chunk, c->M - m0), &uses));
    /* Join: the side stream's last work (a dequantize) was waited on by the last GEMM. */
    return W4A16_OK;
}
