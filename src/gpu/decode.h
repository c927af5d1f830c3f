/* The decode GEMMs for small M: one launch that streams the packed weight
 * once, tensor cores with the tokens as the n8 side. No workspace, no
 * cuBLAS.
 * - decode (v3, src/cuda/sm90_decode.cu, Hopper): A and the scales staged in
 *   shared memory, K split over a cluster where N alone cannot fill the GPU
 *   (src/kernel_plan/decode_plan.h chooses).
 * - decode_v2 (src/cuda/gemm_small_m.cu, sm_80+): for GPUs before Hopper and
 *   A/B runs (W4A16_KERNEL=decode_v2). */
#ifndef W4A16_GPU_DECODE_H
#define W4A16_GPU_DECODE_H

#include "gpu/dispatch.h"

enum { W4A16_DECODE_MAX_M = 16 }; /* two n8 token blocks of mma.sync m16n8k16 */

/* NULL when the kernel can take the call; otherwise why not. */
const char *w4a16_decode_cannot_run(const w4a16_gemm_call *call);
w4a16_status w4a16_decode_run(const w4a16_gemm_call *call);

/* Clusters of `splits` (2 .. W4A16_DECODE_MAX_SPLITS) decode CTAs that the
 * device runs at once with ctas_per_sm (1 or 2) of them an SM, as the plan
 * sees it; 0 when the driver does not say. For `w4a16 tune`'s report. */
int w4a16_decode_clusters(w4a16_ctx *ctx, int splits, int ctas_per_sm);

const char *w4a16_decode_v2_cannot_run(const w4a16_gemm_call *call);
w4a16_status w4a16_decode_v2_run(const w4a16_gemm_call *call);

/* What both take: M <= 16, G a multiple of 16 of at least 32 (the scale is
 * applied per group on the accumulators, so a group holds whole k16 steps and
 * a 64-wide k-tile at most two groups), column / G as a multiply-high, int
 * sizes. NULL or why not (a thread-local message). */
const char *w4a16_decode_shape_cannot_run(const w4a16_gemm_call *call);

#endif
