/* A kernel that writes late but lets the next kernel start early: it calls
 * griddepcontrol.launch_dependents first, spins for `delay_cycles`, then
 * copies. To a kernel launched programmatically after it, it is a caller's
 * PDL-aware kernel still writing that kernel's inputs (or its weights): what
 * the next kernel loads before its griddepcontrol.wait is stale. sm_90. */
#ifndef W4A16_TESTS_GPU_LATE_WRITER_H
#define W4A16_TESTS_GPU_LATE_WRITER_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LATE_COPIES 5

/* Up to LATE_COPIES copies, each 16-byte aligned with bytes a multiple of 16;
 * unused ones have bytes 0. */
typedef struct {
    void *dst[LATE_COPIES];
    const void *src[LATE_COPIES];
    size_t bytes[LATE_COPIES];
} late_copies;

cudaError_t late_copy_launch(const late_copies *copies, long long delay_cycles,
                             cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
