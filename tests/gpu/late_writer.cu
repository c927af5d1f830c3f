#include "late_writer.h"

#include <stdint.h>

static __global__ void late_copy_kernel(const late_copies copies, long long delay_cycles) {
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
    const long long start = clock64();
    while (clock64() - start < delay_cycles) {
    }
    for (int c = 0; c < LATE_COPIES; c++) {
        uint4 *dst = static_cast<uint4 *>(copies.dst[c]);
        const uint4 *src = static_cast<const uint4 *>(copies.src[c]);
        for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < copies.bytes[c] / 16;
             i += (size_t)gridDim.x * blockDim.x)
            dst[i] = src[i];
    }
}

extern "C" cudaError_t late_copy_launch(const late_copies *copies, long long delay_cycles,
                                        cudaStream_t stream) {
    late_copy_kernel<<<8, 256, 0, stream>>>(*copies, delay_cycles);
    return cudaGetLastError();
}
