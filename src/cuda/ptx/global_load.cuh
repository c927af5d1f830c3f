// Loads of data streamed once from global memory.
#ifndef W4A16_CUDA_PTX_GLOBAL_LOAD_CUH
#define W4A16_CUDA_PTX_GLOBAL_LOAD_CUH

#include <stdint.h>

// 16 read-only bytes (16-byte aligned) that no other thread of the SM reads
// again (packed weights): not kept in L1.
__device__ __forceinline__ uint4 load_streamed_16(const void *src) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(src));
    return v;
}

// The same through the coherent path, for the first loads after
// griddepcontrol.wait: ptxas treats ld.global.nc data as read-only for the
// kernel's whole life and may schedule such a load above the wait (it did,
// in decode), where a weight the kernel before is still writing is stale.
__device__ __forceinline__ uint4 load_streamed_16_after_wait(const void *src) {
    uint4 v;
    asm volatile("ld.global.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(src)
                 : "memory");
    return v;
}

#endif
