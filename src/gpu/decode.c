/* The decode GEMM's host side (see decode.h): what it takes, and its launch. */
#include "gpu/decode.h"

#include <stdint.h>
#include <stdio.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "packed/packed_layout.h"

const char *w4a16_decode_cannot_run(const w4a16_gemm_call *call) {
    /* Thread-local: the message outlives the call that made it. */
    static _Thread_local char why[160];
    const w4a16_weight *w = call->w;
    if (call->ctx->sm_major < 8) {
        snprintf(why, sizeof why, "it needs compute capability 8.0 or newer (the device is %d.%d)",
                 call->ctx->sm_major, call->ctx->sm_minor);
        return why;
    }
    if (call->M > W4A16_DECODE_MAX_M) {
        snprintf(why, sizeof why, "M=%lld is more than %d", (long long)call->M,
                 W4A16_DECODE_MAX_M);
        return why;
    }
    /* The scale is applied on the accumulators once per group, so a group
     * must hold whole k16 steps, and a 64-wide k-tile at most two groups. */
    if (w->group_size > 0 && (w->group_size % 16 != 0 || w->group_size < 32)) {
        snprintf(why, sizeof why, "group_size=%lld is not a multiple of 16 of at least 32",
                 (long long)w->group_size);
        return why;
    }
    /* column / G is a multiply-high, exact for columns below 2^32 / G. */
    if (w->group_size > 0 && w->k_padded * w->group_size >= ((int64_t)1 << 32)) {
        snprintf(why, sizeof why, "k_padded=%lld times group_size=%lld reaches 2^32",
                 (long long)w->k_padded, (long long)w->group_size);
        return why;
    }
    if (w->n > INT32_MAX || w->k_padded > INT32_MAX || call->M > INT32_MAX) {
        snprintf(why, sizeof why, "n=%lld or k=%lld exceeds 2^31 - 1", (long long)w->n,
                 (long long)w->k);
        return why;
    }
    return NULL;
}

w4a16_status w4a16_decode_run(const w4a16_gemm_call *call) {
    /* One launch: the only step that writes C, and the last that can fail. */
    CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_DECODE_LAUNCH, cudaErrorLaunchOutOfResources,
                            w4a16_launch_decode(call->w, call->A, call->lda, call->C, call->ldc,
                                                call->M, call->bias, call->stream)));
    return W4A16_OK;
}
