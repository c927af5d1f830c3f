/* The kernels a w4a16_gemm call can run, as numbers: the rows of the
 * dispatch table (gpu/dispatch.c) and the kernels auto's rule names
 * (gpu/dispatch_rules.h). Plain C, no CUDA header, so the rule can be tested
 * on the CPU. */
#ifndef W4A16_GPU_KERNEL_ID_H
#define W4A16_GPU_KERNEL_ID_H

typedef enum {
    W4A16_KERNEL_AUTO = 0,
    W4A16_KERNEL_FALLBACK,
    W4A16_KERNEL_SM90_PREFILL,
    W4A16_KERNEL_DECODE,
    W4A16_KERNEL_DECODE_V2,
    W4A16_KERNEL_COUNT
} w4a16_kernel;

#endif
