/* The decode kernel v3's host side (see decode.h): what it takes, its plan
 * (remembered per shape on the ctx, so a call costs a few compares), and its
 * launch. */
#include "gpu/decode.h"

#include <stdint.h>
#include <stdio.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "gpu/group_limits.h"
#include "kernel_plan/decode_plan.h"
#include "packed/packed_layout.h"

/* The grid's y dimension counts CTAs of W4A16_DECODE_ROWS rows. */
static const int64_t MAX_CTA_ROWS = 65535;

const char *w4a16_decode_shape_cannot_run(const w4a16_gemm_call *call) {
    /* Thread-local: the message outlives the call that made it. */
    static _Thread_local char why[160];
    const w4a16_weight *w = call->w;
    if (call->M > W4A16_DECODE_MAX_M) {
        snprintf(why, sizeof why, "M=%lld is more than %d", (long long)call->M,
                 W4A16_DECODE_MAX_M);
        return why;
    }
    if (w4a16_group_limits_refusal(w, why, sizeof why) != NULL) return why;
    if (w->n_padded > INT32_MAX || w->k_padded > INT32_MAX || call->M > INT32_MAX) {
        snprintf(why, sizeof why, "n=%lld or k=%lld exceeds 2^31 - 1", (long long)w->n,
                 (long long)w->k);
        return why;
    }
    return NULL;
}

static int same_shape(const w4a16_decode_shape *a, const w4a16_decode_shape *b) {
    return a->M == b->M && a->n_padded == b->n_padded && a->k_padded == b->k_padded &&
           a->group_size == b->group_size && a->scale_bytes == b->scale_bytes &&
           a->asymmetric == b->asymmetric && a->act_order == b->act_order;
}

/* The plan's w4a16_decode_device.max_clusters: the driver's count, asked
 * once per (CTAs an SM, cluster size) and remembered on the ctx. The first
 * plan that asks lends its shared memory size; any size with as many CTAs an
 * SM gives the same count. */
static int max_clusters(void *opaque, int splits, int ctas_per_sm, int64_t smem_bytes) {
    w4a16_ctx *ctx = opaque;
    if (ctas_per_sm < 1 || ctas_per_sm > W4A16_DECODE_CTAS_BY_REGISTERS || splits < 1 ||
        splits > W4A16_DECODE_MAX_SPLITS)
        return -1;
    int *known = &ctx->decode_clusters[ctas_per_sm - 1][splits];
    if (*known == 0) {
        int clusters = 0;
        const cudaError_t e =
            w4a16_decode_max_clusters(splits, smem_bytes, ctx->smem_per_block_optin, &clusters);
        if (e != cudaSuccess) (void)cudaGetLastError(); /* a question, not a failed call */
        *known = e == cudaSuccess && clusters > 0 ? clusters : -1;
    }
    return *known;
}

int w4a16_decode_clusters(w4a16_ctx *ctx, int splits, int ctas_per_sm) {
    /* The most shared memory that still lets ctas_per_sm CTAs share an SM. */
    const int64_t smem = ctx->smem_per_sm / ctas_per_sm - W4A16_DECODE_SMEM_RESERVED;
    const int clusters = max_clusters(ctx, splits, ctas_per_sm, smem);
    return clusters > 0 ? clusters : 0;
}

/* The call's plan: remembered, or chosen and remembered. */
static w4a16_decode_plan plan_call(const w4a16_gemm_call *call) {
    w4a16_ctx *ctx = call->ctx;
    const w4a16_weight *w = call->w;
    const w4a16_decode_shape shape = {call->M,
                                      w->n_padded,
                                      w->k_padded,
                                      w->group_size,
                                      w->scales_dtype == W4A16_F32 ? 4 : 2,
                                      w->zeros != NULL,
                                      w->perm != NULL};
    for (int i = 0; i < ctx->n_decode_plans; i++)
        if (same_shape(&ctx->decode_plans[i].shape, &shape)) return ctx->decode_plans[i].plan;
    const w4a16_decode_device device = {ctx->sm_count, ctx->smem_per_sm,
                                        ctx->smem_per_block_optin, max_clusters, ctx};
    w4a16_decode_plan_entry *entry = &ctx->decode_plans[ctx->next_decode_plan];
    entry->shape = shape;
    entry->plan = w4a16_decode_plan_choose(&shape, &device, ctx->decode_splits);
    ctx->next_decode_plan = (ctx->next_decode_plan + 1) % W4A16_DECODE_PLANS;
    if (ctx->n_decode_plans < W4A16_DECODE_PLANS) ctx->n_decode_plans++;
    return entry->plan;
}

const char *w4a16_decode_cannot_run(const w4a16_gemm_call *call) {
    static _Thread_local char why[200];
    const w4a16_ctx *ctx = call->ctx;
    const w4a16_weight *w = call->w;
    if (ctx->sm_major != 9) {
        snprintf(why, sizeof why,
                 "it needs a Hopper GPU (compute capability 9.0; the device is %d.%d)",
                 ctx->sm_major, ctx->sm_minor);
        return why;
    }
    const char *shape_why = w4a16_decode_shape_cannot_run(call);
    if (shape_why != NULL) return shape_why;
    if (w->n_padded > MAX_CTA_ROWS * W4A16_DECODE_ROWS) {
        snprintf(why, sizeof why, "n=%lld needs more than %lld CTAs of %d rows", (long long)w->n,
                 (long long)MAX_CTA_ROWS, W4A16_DECODE_ROWS);
        return why;
    }
    if (plan_call(call).splits == 0) {
        if (ctx->decode_splits > 0)
            snprintf(why, sizeof why,
                     "M=%lld rows of A over k=%lld do not fit in shared memory split "
                     "W4A16_DECODE_SPLITS=%d ways",
                     (long long)call->M, (long long)w->k, ctx->decode_splits);
        else
            snprintf(why, sizeof why,
                     "M=%lld rows of A over k=%lld do not fit in shared memory even split %d ways",
                     (long long)call->M, (long long)w->k, W4A16_DECODE_MAX_SPLITS);
        return why;
    }
    return NULL;
}

w4a16_status w4a16_decode_run(const w4a16_gemm_call *call) {
    const w4a16_decode_plan plan = plan_call(call);
    W4A16_FAIL_IF(plan.splits == 0, W4A16_ERR_UNSUPPORTED, "decode: %s",
                  w4a16_decode_cannot_run(call));
    const w4a16_decode_args args = {call->w,    call->A,     call->lda, call->C,
                                    call->ldc,  call->M,     call->bias, plan.splits,
                                    plan.smem,  call->ctx->smem_per_block_optin,
                                    call->ctx->pdl};
    /* One launch: the only step that writes C, and the last that can fail. */
    CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_DECODE_LAUNCH, cudaErrorLaunchOutOfResources,
                            w4a16_launch_decode(&args, call->stream)));
    return W4A16_OK;
}
