/* The fallback GEMM (see fallback.h).
 *
 * Each W chunk's GEMM is one cuBLASLt call (cublaslt_gemm.c) that writes its
 * columns of C once, with the bias added in fp32 by its epilogue, so a call
 * that fails before its first GEMM leaves C untouched. A call that runs in
 * several pieces (W in chunks, or act-order's A in M-passes) writes C piece
 * by piece: if piece i fails, the C columns (and rows) of pieces < i hold
 * their results and the rest is untouched.
 *
 * Workspace: when W whole (and act-order's permuted A, all M rows) fits, one
 * piece: W first, A after it. Otherwise act-order first takes room for the
 * permuted A (whole M, or M-passes when it does not fit in half), the rest
 * holds two W buffers. Chunk i+1 is dequantized on the side stream while
 * chunk i's GEMM runs on the caller's stream; events join the two, all
 * capturable in a CUDA graph. */
#include "gpu/fallback.h"

#include <stdio.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cublaslt_gemm.h"
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
static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Bytes of one dequantized W row, and of one permuted A row. */
static int64_t w_row_bytes(const w4a16_weight *w) { return w->k_padded * 2; }
static int64_t a_row_bytes(const w4a16_weight *w) { return w4a16_round_up(w->k, 8) * 2; }

/* W whole, then (act-order) the permuted A of all M rows. */
static size_t one_piece_bytes(const w4a16_weight *w, int64_t M) {
    const size_t a_bytes = w->perm != NULL ? align_up((size_t)(M * a_row_bytes(w))) : 0;
    return align_up((size_t)(w->n_padded * w_row_bytes(w))) + a_bytes;
}

/* Enough workspace to run in chunks: two 64-row W buffers (and, for
 * act-order, as much again, since A takes at most half). */
static size_t chunked_bytes(const w4a16_weight *w) {
    const size_t buffers = 2 * (size_t)(CHUNK_ROWS * w_row_bytes(w)) + 2 * ALIGN;
    return w->perm != NULL ? 2 * buffers + ALIGN : buffers;
}

static const char *too_small(const w4a16_ctx *ctx, const w4a16_weight *w, int64_t M, char *why,
                             size_t why_size) {
    snprintf(why, why_size,
             "the workspace of %zu bytes is too small at n=%lld, k=%lld, M=%lld: the fallback "
             "needs %zu bytes to run in one piece (%zu are enough to run in chunks)",
             ctx->workspace_bytes, (long long)w->n, (long long)w->k, (long long)M,
             one_piece_bytes(w, M), chunked_bytes(w));
    return why;
}

/* Fills the plan; returns NULL, or why the workspace cannot hold it. */
static const char *make_plan(const w4a16_ctx *ctx, const w4a16_weight *w, int64_t M,
                             fallback_plan *p, char *why, size_t why_size) {
    const int64_t row_bytes = w_row_bytes(w);
    size_t w_bytes = ctx->workspace_bytes;
    p->ldw = w->k_padded;
    p->a_perm = NULL;
    p->lda_perm = w4a16_round_up(w->k, 8);
    p->m_chunk = M;
    p->w_buffer[0] = ctx->workspace;
    p->w_buffer[1] = NULL;
    const int want_overlap = ctx->fallback_split != W4A16_SPLIT_NONE && M >= OVERLAP_MIN_M &&
                             w->n_padded >= OVERLAP_MIN_ROWS;
    if (!want_overlap && one_piece_bytes(w, M) <= ctx->workspace_bytes) {
        /* W first, then act-order's A, all M rows of it. */
        p->head_rows = p->body_rows = w->n_padded;
        p->n_chunks = 1;
        if (w->perm != NULL)
            p->a_perm = (char *)ctx->workspace + align_up((size_t)(w->n_padded * row_bytes));
        return NULL;
    }
    if (w->perm != NULL) {
        const int64_t a_rows = min64(M, (int64_t)(ctx->workspace_bytes / 2) / a_row_bytes(w));
        if (a_rows < 1) return too_small(ctx, w, M, why, why_size);
        /* The permuted A sits at the end; the W buffers take what is left before it. */
        w_bytes = align_down(ctx->workspace_bytes - (size_t)(a_rows * a_row_bytes(w)));
        p->a_perm = (char *)ctx->workspace + w_bytes;
        p->m_chunk = a_rows;
    }
    if (!want_overlap && w->n_padded * row_bytes <= (int64_t)w_bytes) {
        /* W whole in buffer 0, dequantized once for every M-pass of A. */
        p->head_rows = p->body_rows = w->n_padded;
        p->n_chunks = 1;
        return NULL;
    }
    const size_t buffer_bytes = align_down(w_bytes / 2);
    const int64_t max_rows = (int64_t)buffer_bytes / row_bytes / CHUNK_ROWS * CHUNK_ROWS;
    if (max_rows < CHUNK_ROWS) return too_small(ctx, w, M, why, why_size);
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
    (void)call;
    return NULL;
}

size_t w4a16_fallback_workspace_bytes(const w4a16_gemm_call *call) {
    return one_piece_bytes(call->w, call->M);
}

static w4a16_status launch_dequantize(const w4a16_gemm_call *c, const fallback_plan *p,
                                      int64_t n0, int64_t rows, int b, cudaStream_t stream) {
    CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_FALLBACK_DEQUANTIZE, cudaErrorLaunchOutOfResources,
                            w4a16_launch_dequantize(c->w, n0, rows, p->w_buffer[b], p->ldw, stream)));
    return W4A16_OK;
}

/* Chunk `chunk` of W into buffer b: on the caller's stream when there is one
 * chunk, else on the side stream between the two events. */
static w4a16_status dequantize_chunk(const w4a16_gemm_call *c, const fallback_plan *p,
                                     int64_t chunk, int b, int64_t uses, int overlap) {
    w4a16_ctx *ctx = c->ctx;
    const int64_t n0 = chunk_start(p, chunk);
    const int64_t rows = chunk_rows(p, chunk, c->w->n_padded);
    if (!overlap) return launch_dequantize(c, p, n0, rows, b, c->stream);
    if (uses >= 2) CUDA_TRY(cudaStreamWaitEvent(ctx->side_stream, ctx->chunk_used[b], 0));
    W4A16_TRY(launch_dequantize(c, p, n0, rows, b, ctx->side_stream));
    CUDA_TRY(cudaEventRecord(ctx->chunk_ready[b], ctx->side_stream));
    CUDA_TRY(cudaStreamWaitEvent(c->stream, ctx->chunk_ready[b], 0));
    return W4A16_OK;
}

/* Rows [m0, m0 + mc) of A and C against all of W. `uses` counts W buffer
 * fills across the call, so a buffer is refilled only after its GEMM. */
static w4a16_status run_rows(const w4a16_gemm_call *c, const fallback_plan *p, int64_t m0,
                             int64_t mc, int64_t *uses) {
    const int overlap = p->n_chunks > 1;
    w4a16_lt_gemm g;
    g.dtype = c->w->act_dtype;
    g.k = c->w->k;
    g.ldw = p->ldw;
    g.A = (const char *)c->A + m0 * c->lda * 2;
    g.M = mc;
    g.lda = c->lda;
    g.ldc = c->ldc;
    if (p->a_perm != NULL) {
        CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_FALLBACK_PERMUTE, cudaErrorLaunchOutOfResources,
                                w4a16_launch_permute_columns(g.A, c->lda, mc, c->w->k, c->w->perm,
                                                             p->a_perm, p->lda_perm, c->stream)));
        g.A = p->a_perm;
        g.lda = p->lda_perm;
    }
    for (int64_t chunk = 0; chunk < p->n_chunks; chunk++) {
        const int b = overlap ? (int)(*uses % 2) : 0;
        /* One chunk: W stays in buffer 0 across M passes. */
        if (overlap || *uses == 0) W4A16_TRY(dequantize_chunk(c, p, chunk, b, *uses, overlap));
        const int64_t n0 = chunk_start(p, chunk);
        g.W = p->w_buffer[b];
        g.rows = chunk_rows(p, chunk, c->w->n);
        g.C = (char *)c->C + (m0 * c->ldc + n0) * 2;
        g.bias = c->bias != NULL ? (const char *)c->bias + n0 * 2 : NULL;
        W4A16_TRY(w4a16_cublaslt_gemm(c->ctx->cublaslt, &c->ctx->lt_algos,
                                      c->ctx->cublas_workspace, W4A16_CUBLAS_WORKSPACE_BYTES, &g,
                                      c->stream));
        if (overlap) CUDA_TRY(cudaEventRecord(c->ctx->chunk_used[b], c->stream));
        (*uses)++;
    }
    return W4A16_OK;
}

w4a16_status w4a16_fallback_run(const w4a16_gemm_call *c) {
    w4a16_ctx *ctx = c->ctx;
    fallback_plan p = {0};
    char why[320];
    W4A16_FAIL_IF(make_plan(ctx, c->w, c->M, &p, why, sizeof why) != NULL, W4A16_ERR_NOMEM,
                  "fallback: %s", why);
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
