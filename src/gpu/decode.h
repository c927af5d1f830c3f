/* The decode GEMM for small M (src/cuda/gemm_small_m.cu): one launch that
 * streams the packed weight once, tensor cores with the tokens as the n8
 * side. No workspace, no cuBLAS. */
#ifndef W4A16_GPU_DECODE_H
#define W4A16_GPU_DECODE_H

#include "gpu/dispatch.h"

enum { W4A16_DECODE_MAX_M = 16 }; /* two n8 token blocks of mma.sync m16n8k16 */

/* NULL when the decode kernel can take the call; otherwise why not. */
const char *w4a16_decode_cannot_run(const w4a16_gemm_call *call);
w4a16_status w4a16_decode_run(const w4a16_gemm_call *call);

#endif
