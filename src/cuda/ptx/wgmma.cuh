// wgmma bookkeeping (sm_90a): the fences and groups around the asynchronous
// warpgroup MMAs of wgmma_rs.cuh, shared-memory matrix descriptors, and the
// register reallocation between producer and consumer warpgroups.
#ifndef W4A16_CUDA_PTX_WGMMA_CUH
#define W4A16_CUDA_PTX_WGMMA_CUH

#include <stdint.h>

#include "cuda/ptx/mbarrier.cuh"

// Before the first wgmma of a batch, and whenever registers it reads (the A
// fragments, the accumulators) were written by ordinary instructions.
__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

// Closes the wgmmas issued since the last commit into one group.
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

// Until at most `kPending` committed groups are still running.
template <int kPending> __device__ __forceinline__ void wgmma_wait() {
    static_assert(kPending >= 0 && kPending <= 7, "wgmma.wait_group takes 0..7");
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}

// Keeps a register's value where the asynchronous wgmma reads it: the
// compiler may not move or reuse it across this point.
__device__ __forceinline__ void wgmma_hold(uint32_t &r) { asm volatile("" : "+r"(r)::"memory"); }

// Descriptor of a K-major tile in shared memory written by the copy engine
// with 128-byte swizzle: rows of 64 16-bit values (128 bytes), 8-row groups
// 1024 bytes apart (the stride byte offset), the tile 1024-byte aligned.
// Stepping along K inside the 128-byte row is done by adding 32 bytes (one
// k16 step) to the start address.
__device__ __forceinline__ uint64_t wgmma_desc_k_major_sw128(const void *tile) {
    const uint64_t address = smem_address(tile);
    uint64_t desc = 0;
    desc |= (address & 0x3FFFF) >> 4;          // start address, bits 0-13
    desc |= (uint64_t)(16 >> 4) << 16;         // leading byte offset (unused when swizzled)
    desc |= (uint64_t)(1024 >> 4) << 32;       // stride byte offset: 8 rows x 128 bytes
    desc |= (uint64_t)1 << 62;                 // layout: 128-byte swizzle
    return desc;
}

// The same from the tile's shared-window address (below 256 KB: the start
// field is the address / 16): the high word is a constant.
__device__ __forceinline__ uint64_t wgmma_desc_k_major_sw128_at(uint32_t address) {
    const uint64_t high = (uint64_t)(1024 >> 4) | (uint64_t)1 << 30; // stride offset, 128B swizzle
    return high << 32 | (uint64_t)((16 >> 4) << 16) | (address >> 4);
}

// The descriptor advanced by `bytes` (a multiple of 16) within shared memory:
// only the low word changes (the start address field, bits 0-13, cannot carry
// out while the address stays inside the 256 KB window), so one 32-bit add.
__device__ __forceinline__ uint64_t wgmma_desc_advance(uint64_t desc, uint32_t bytes) {
    const uint32_t low = (uint32_t)desc + (bytes >> 4);
    return (desc & 0xFFFFFFFF00000000ull) | low;
}

// Registers a thread of this warpgroup may hold from here on: the producer
// gives some back, the consumers take them (the kernel needs a register cap at
// entry: __launch_bounds__(threads, 1)).
template <uint32_t kRegisters> __device__ __forceinline__ void warpgroup_registers_lower() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}
template <uint32_t kRegisters> __device__ __forceinline__ void warpgroup_registers_raise() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}

#endif
