/* Which kernel runs a w4a16_gemm call: a table of kernels, each with a
 * predicate saying whether it can take the call, the workspace it needs to
 * run it in one piece, and its run function, and the auto choice between
 * them (docs/DESIGN.md §5), which follows the measured rule of
 * gpu/dispatch_rules.h. w4a16_ctx_set_kernel, or W4A16_KERNEL read at ctx
 * creation, forces one; forcing one that cannot take the call is an error,
 * never a silent substitute. */
#ifndef W4A16_GPU_DISPATCH_H
#define W4A16_GPU_DISPATCH_H

#include <cuda_runtime_api.h>

#include "gpu/kernel_id.h"
#include "w4a16.h"

/* One w4a16_gemm call, arguments already validated. A and C may be NULL when
 * only asking which kernel would run (w4a16_gemm_kernel_name). */
typedef struct {
    w4a16_ctx *ctx;
    const w4a16_weight *w;
    const void *A;
    int64_t lda;
    void *C;
    int64_t ldc;
    int64_t M;
    const void *bias;
    cudaStream_t stream;
} w4a16_gemm_call;

/* "auto", "fallback", "sm90_prefill", "decode", "decode_v2". */
const char *w4a16_kernel_name(w4a16_kernel kernel);
/* Parses those names; W4A16_ERR_ARG naming the value otherwise. */
w4a16_status w4a16_kernel_parse(const char *name, w4a16_kernel *out);

/* The kernel for this call: the forced one if it can take the call (else
 * W4A16_ERR_UNSUPPORTED with the reason), otherwise the auto choice. Logs
 * each new (shape, M, kernel) choice once when the ctx logs. */
w4a16_status w4a16_dispatch_choose(const w4a16_gemm_call *call, w4a16_kernel *out);
/* Chooses, then runs. */
w4a16_status w4a16_dispatch_run(const w4a16_gemm_call *call);
/* Chooses, then says how many bytes of workspace the choice needs to run the
 * call in one piece. Host only. */
w4a16_status w4a16_dispatch_workspace_bytes(const w4a16_gemm_call *call, size_t *bytes);

#endif
