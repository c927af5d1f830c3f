/* The decode kernel v2's host side (see decode.h): GPUs from Ampere on. */
#include "gpu/decode.h"

#include <stdio.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"

const char *w4a16_decode_v2_cannot_run(const w4a16_gemm_call *call) {
    static _Thread_local char why[160];
    if (call->ctx->sm_major < 8) {
        snprintf(why, sizeof why, "it needs compute capability 8.0 or newer (the device is %d.%d)",
                 call->ctx->sm_major, call->ctx->sm_minor);
        return why;
    }
    return w4a16_decode_shape_cannot_run(call);
}

w4a16_status w4a16_decode_v2_run(const w4a16_gemm_call *call) {
    /* One launch: the only step that writes C, and the last that can fail. */
    CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_DECODE_V2_LAUNCH, cudaErrorLaunchOutOfResources,
                            w4a16_launch_decode_v2(call->w, call->A, call->lda, call->C,
                                                   call->ldc, call->M, call->bias,
                                                   call->stream)));
    return W4A16_OK;
}
