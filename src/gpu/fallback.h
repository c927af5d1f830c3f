/* The fallback GEMM: any shape, any GPU from sm_80 on. W is dequantized from
 * the packed layout in N-chunks into the ctx workspace, and cuBLAS GemmEx
 * (fp32 compute) multiplies each chunk; the next chunk is dequantized on the
 * ctx's second stream while the current chunk's GEMM runs. */
#ifndef W4A16_GPU_FALLBACK_H
#define W4A16_GPU_FALLBACK_H

#include "gpu/dispatch.h"

/* NULL when the fallback can take the call (it takes every valid one whose
 * workspace fits a 64-row chunk); otherwise why not. */
const char *w4a16_fallback_cannot_run(const w4a16_gemm_call *call);
w4a16_status w4a16_fallback_run(const w4a16_gemm_call *call);

#endif
