// Loads from shared memory by 32-bit shared-window address (sm_90): a
// consumer computes each stage's addresses as base + stage x stride, one
// integer op each, instead of converting generic pointers every k-block.
#ifndef W4A16_CUDA_PTX_SHARED_LOAD_CUH
#define W4A16_CUDA_PTX_SHARED_LOAD_CUH

#include <stdint.h>

__device__ __forceinline__ uint4 ld_shared_u128(uint32_t address) {
    uint4 v;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(address));
    return v;
}

__device__ __forceinline__ uint2 ld_shared_u64(uint32_t address) {
    uint2 v;
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];\n" : "=r"(v.x), "=r"(v.y) : "r"(address));
    return v;
}

__device__ __forceinline__ uint32_t ld_shared_u16(uint32_t address) {
    uint16_t v;
    asm volatile("ld.shared.u16 %0, [%1];\n" : "=h"(v) : "r"(address));
    return v;
}

__device__ __forceinline__ uint32_t ld_shared_u8(uint32_t address) {
    uint32_t v;
    asm volatile("ld.shared.u8 %0, [%1];\n" : "=r"(v) : "r"(address));
    return v;
}

#endif
