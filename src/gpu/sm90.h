/* The Hopper GEMM's host side (src/cuda/sm90_prefill.cu): which calls it
 * takes, the workspace it wants, and its launches. */
#ifndef W4A16_GPU_SM90_H
#define W4A16_GPU_SM90_H

#include <stddef.h>

#include "gpu/dispatch.h"

/* NULL when the kernel can take the call; otherwise why not (thread-local). */
const char *w4a16_sm90_cannot_run(const w4a16_gemm_call *call);
/* Workspace bytes for the call to run in one piece, as fast as it can:
 * act-order's permuted A and the split-K partials. */
size_t w4a16_sm90_workspace_bytes(const w4a16_gemm_call *call);

/* Whether the ctx's workspace lets the call run, in M-chunks if need be: with
 * act-order, room for at least one permuted row of A. */
int w4a16_sm90_fits_workspace(const w4a16_gemm_call *call);
w4a16_status w4a16_sm90_run(const w4a16_gemm_call *call);

#endif
