/* The fallback GEMM: any shape, any GPU from sm_80 on. W is dequantized from
 * the packed layout in N-chunks into the ctx workspace, and cuBLASLt (fp32
 * compute, the bias in its epilogue) multiplies each chunk; the next chunk
 * is dequantized on the ctx's second stream while the current chunk's GEMM
 * runs. */
#ifndef W4A16_GPU_FALLBACK_H
#define W4A16_GPU_FALLBACK_H

#include "gpu/dispatch.h"

/* NULL: the fallback takes every valid call. A workspace too small for it
 * is W4A16_ERR_NOMEM from the run, naming the bytes it needs. */
const char *w4a16_fallback_cannot_run(const w4a16_gemm_call *call);
/* Bytes to run the call in one piece: W whole, and with act-order all M
 * rows of the permuted A. */
size_t w4a16_fallback_workspace_bytes(const w4a16_gemm_call *call);
w4a16_status w4a16_fallback_run(const w4a16_gemm_call *call);

#endif
