/* The GPU part of `w4a16 demo` before the GPU path exists: it only says it
 * skipped, and why. */
#include "demo_gpu.h"

#include <stdio.h>

#include "gpu_presence.h"

int demo_gpu(const demo_layer *layer) {
    (void)layer;
    if (!gpu_presence_found())
        printf("GPU part skipped: no CUDA device\n");
    else
        printf("GPU part skipped: the GPU demo is not built yet\n");
    return 0;
}
