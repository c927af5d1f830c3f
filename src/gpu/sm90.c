/* The Hopper GEMM's host side (see sm90.h).
 *
 * Workspace, when the call uses it: act-order's permuted rows of A first
 * (16-byte rows, so the tensor map can read them), then the fp32 parts of
 * tiles when K is split or shared out (the plan chooses; they fit what is
 * left). The arrival counters of those tiles are the ctx's own (zeroed once
 * at creation; the kernel leaves them zero).
 * When the permuted A does not fit whole, the call runs in M-chunks. */
#include "gpu/sm90.h"

#include <stdint.h>
#include <stdio.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "gpu/group_limits.h"
#include "kernel_plan/sm90_plan.h"
#include "packed/packed_layout.h"

enum { ALIGN = 256 };

/* Programmatic dependent launch (W4A16_PDL) up to this many rows. Measured
 * (H100, bench/NOTES.md "decode v4"): at M = 16, 11-17% faster on qkv,
 * gate_up and down (o_proj even); at M = 64, 10-34% slower: the next grid's
 * CTAs take the SMs' free slots early and land where the plan did not put
 * them. */
enum { PDL_MAX_ROWS = 16 };

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

/* Bytes of one permuted row of A (0 without act-order). */
static size_t perm_row_bytes(const w4a16_weight *w) {
    return w->perm != NULL ? (size_t)w4a16_round_up(w->k, 8) * 2 : 0;
}

typedef struct {
    int64_t m_chunk;          /* rows of A per launch */
    w4a16_sm90_plan plan;     /* for a full chunk */
    size_t perm_bytes;        /* workspace taken by the permuted A */
} sm90_layout;

/* The plan for `rows` tokens; batch-invariant mode fixes one for every M:
 * the same token tile, no K split, so a row is summed the same way. */
static w4a16_sm90_plan plan_for(const w4a16_ctx *ctx, int64_t rows, const w4a16_weight *w,
                                size_t workspace_bytes) {
    if (ctx->sm90_block_m > 0) /* W4A16_SM90_PLAN; block_m 0 when the shape cannot take it */
        return w4a16_sm90_plan_make(rows, w->n_padded, w->k_padded, ctx->sm_count,
                                    ctx->sm90_block_m, ctx->sm90_splits,
                                    (w4a16_sm90_mode)ctx->sm90_mode);
    if (!ctx->batch_invariant)
        return w4a16_sm90_plan_choose(rows, w->n_padded, w->k_padded, ctx->sm_count,
                                      workspace_bytes);
    w4a16_sm90_plan plan = {W4A16_SM90_INVARIANT_BLOCK_M, 1, 0, 0, 0, 0.0, 0};
    plan.units = (w->n_padded + W4A16_SM90_ROWS - 1) / W4A16_SM90_ROWS *
                 ((rows + plan.block_m - 1) / plan.block_m);
    plan.grid = w4a16_sm90_grid(plan.units, plan.block_m, ctx->sm_count);
    return plan;
}

/* The split or mode of a W4A16_SM90_PLAN, as it was written: "3", "sk", "hy". */
static const char *forced_plan_mode(const w4a16_ctx *ctx) {
    static _Thread_local char splits[16];
    if (ctx->sm90_mode == W4A16_SM90_STREAMK) return "sk";
    if (ctx->sm90_mode == W4A16_SM90_HYBRID) return "hy";
    snprintf(splits, sizeof splits, "%d", ctx->sm90_splits);
    return splits;
}

/* Fills the layout for `workspace_bytes` of workspace; returns 0 when not even
 * one permuted row of A fits. */
static int make_layout(const w4a16_gemm_call *call, size_t workspace_bytes, sm90_layout *out) {
    const w4a16_weight *w = call->w;
    const size_t row = perm_row_bytes(w);
    out->m_chunk = call->M;
    out->perm_bytes = 0;
    if (row > 0) {
        int64_t rows = (int64_t)(workspace_bytes / row);
        if (rows < 1) return 0;
        if (rows < out->m_chunk) out->m_chunk = rows;
        out->perm_bytes = align_up((size_t)out->m_chunk * row);
    }
    const size_t left = workspace_bytes > out->perm_bytes ? workspace_bytes - out->perm_bytes : 0;
    out->plan = plan_for(call->ctx, out->m_chunk, w, left);
    return 1;
}

const char *w4a16_sm90_cannot_run(const w4a16_gemm_call *call) {
    static _Thread_local char why[200];
    const w4a16_ctx *ctx = call->ctx;
    const w4a16_weight *w = call->w;
    if (ctx->sm_major != 9) {
        snprintf(why, sizeof why, "it needs a Hopper GPU (compute capability 9.0; the device is %d.%d)",
                 ctx->sm_major, ctx->sm_minor);
        return why;
    }
    if (w4a16_group_limits_refusal(w, why, sizeof why) != NULL) return why;
    /* The tile count is an int in the kernel: keep it well inside. */
    if (w->n_padded > INT32_MAX / 2 || w->k_padded > INT32_MAX / 2 || call->M > INT32_MAX / 2 ||
        (w->n_padded / W4A16_SM90_ROWS + 1) * (call->M / 32 + 1) * W4A16_SM90_MAX_SPLITS >= INT32_MAX) {
        snprintf(why, sizeof why, "n=%lld, k=%lld or M=%lld is too large for its tile counts",
                 (long long)w->n, (long long)w->k, (long long)call->M);
        return why;
    }
    /* The tensor map reads A in 16-byte rows; act-order reads the permuted copy instead. */
    if (w->perm == NULL && call->A != NULL && (uintptr_t)call->A % 16 != 0) {
        snprintf(why, sizeof why, "A=%p is not 16-byte aligned (the tensor map needs it)", call->A);
        return why;
    }
    if (w->perm == NULL && call->lda % 8 != 0) {
        snprintf(why, sizeof why, "lda=%lld is not a multiple of 8 (rows of A must be 16-byte aligned)",
                 (long long)call->lda);
        return why;
    }
    /* A workspace too small is the run's W4A16_ERR_NOMEM, not a reason to
     * decline (docs/DESIGN.md §4, "Workspace and forced kernels"). */
    return NULL;
}

int w4a16_sm90_fits_workspace(const w4a16_gemm_call *call) {
    /* Without act-order the plan splits K only as far as the workspace allows. */
    return perm_row_bytes(call->w) <= call->ctx->workspace_bytes;
}

size_t w4a16_sm90_workspace_bytes(const w4a16_gemm_call *call) {
    sm90_layout layout;
    if (!make_layout(call, SIZE_MAX / 4, &layout)) return 0;
    return layout.perm_bytes +
           w4a16_sm90_partial_bytes(&layout.plan, layout.m_chunk, call->w->n_padded);
}

w4a16_status w4a16_sm90_run(const w4a16_gemm_call *call) {
    w4a16_ctx *ctx = call->ctx;
    const w4a16_weight *w = call->w;
    sm90_layout layout;
    W4A16_FAIL_IF(!make_layout(call, ctx->workspace_bytes, &layout), W4A16_ERR_NOMEM,
                  "sm90_prefill: the workspace of %zu bytes cannot hold one permuted row of A "
                  "(%zu bytes); it needs %zu bytes to run in one piece",
                  ctx->workspace_bytes, perm_row_bytes(w), w4a16_sm90_workspace_bytes(call));
    char *workspace = (char *)ctx->workspace;
    const int64_t lda_perm = w4a16_round_up(w->k, 8);
    for (int64_t m0 = 0; m0 < call->M; m0 += layout.m_chunk) {
        const int64_t rows = call->M - m0 < layout.m_chunk ? call->M - m0 : layout.m_chunk;
        /* A last, shorter chunk gets its own plan (fewer tokens may split differently). */
        const size_t partials_room = ctx->workspace_bytes - layout.perm_bytes;
        const w4a16_sm90_plan plan =
            rows == layout.m_chunk ? layout.plan : plan_for(ctx, rows, w, partials_room);
        W4A16_FAIL_IF(plan.block_m == 0, W4A16_ERR_ARG,
                      "sm90_prefill: W4A16_SM90_PLAN='%d,%s' cannot run M=%lld (token tiles 32, "
                      "64, 128, 160, 192, 224, 256; stream-K needs 2 k-blocks a CTA, the hybrid a "
                      "whole round and tiles left over, tiles in parts are at most %d)",
                      ctx->sm90_block_m, forced_plan_mode(ctx), (long long)rows,
                      (int)W4A16_SM90_MAX_COUNTED_TILES);
        const size_t partial_bytes = w4a16_sm90_partial_bytes(&plan, rows, w->n_padded);
        W4A16_FAIL_IF(partial_bytes > partials_room, W4A16_ERR_NOMEM,
                      "sm90_prefill: the plan's partial sums need %zu bytes of workspace; %zu "
                      "are left",
                      partial_bytes, partials_room);
        w4a16_sm90_args args;
        args.w = w;
        args.A = (const char *)call->A + m0 * call->lda * 2;
        args.lda = call->lda;
        if (w->perm != NULL) {
            CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_SM90_PERMUTE, cudaErrorLaunchOutOfResources,
                                    w4a16_launch_permute_columns(args.A, call->lda, rows, w->k,
                                                                 w->perm, workspace, lda_perm,
                                                                 call->stream)));
            args.A = workspace;
            args.lda = lda_perm;
        }
        args.C = (char *)call->C + m0 * call->ldc * 2;
        args.ldc = call->ldc;
        args.M = rows;
        args.bias = call->bias;
        args.block_m = plan.block_m;
        args.splits = plan.splits;
        args.partials = (float *)(workspace + layout.perm_bytes);
        args.streamk = plan.streamk;
        args.dp_tiles = plan.dp_tiles;
        args.grid = plan.grid;
        args.counters = ctx->tile_counters;
        args.pdl = ctx->pdl && rows <= PDL_MAX_ROWS;
        CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_SM90_LAUNCH, cudaErrorLaunchOutOfResources,
                                w4a16_launch_sm90_prefill(&args, call->stream)));
    }
    return W4A16_OK;
}
