// The copy engine (sm_90): tensor-tile copies through a tensor map and plain
// contiguous bulk copies, both completing on an mbarrier with a byte count;
// tensor-tile stores from shared memory, tracked as bulk groups.
#ifndef W4A16_CUDA_PTX_BULK_COPY_CUH
#define W4A16_CUDA_PTX_BULK_COPY_CUH

#include <cuda.h>
#include <stdint.h>

#include "cuda/ptx/mbarrier.cuh"

// Pulls the tensor map (a __grid_constant__ kernel parameter) into the
// descriptor cache before the first copy that uses it.
__device__ __forceinline__ void prefetch_tensor_map(const CUtensorMap *map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map))
                 : "memory");
}

// A 2-D box of the tensor at (inner, outer) into shared memory; elements
// outside the tensor are written as zeros and still count towards the bytes.
__device__ __forceinline__ void copy_tensor_2d(void *dst, const CUtensorMap *map, int32_t inner,
                                               int32_t outer, uint64_t *bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smem_address(dst)),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(smem_address(bar))
        : "memory");
}

// `bytes` contiguous bytes (a multiple of 16; both addresses 16-byte aligned).
__device__ __forceinline__ void copy_bulk(void *dst, const void *src, uint32_t bytes,
                                          uint64_t *bar) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
        ::"r"(smem_address(dst)),
        "l"(src), "r"(bytes), "r"(smem_address(bar))
        : "memory");
}

// Shared-memory writes of this thread become visible to the copy engine (the
// async proxy): between writing a tile and storing it with store_tensor_2d.
__device__ __forceinline__ void fence_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// The box at (inner, outer) of the tensor from shared memory; elements
// outside the tensor are not written.
__device__ __forceinline__ void store_tensor_2d(const CUtensorMap *map, int32_t inner,
                                                int32_t outer, const void *src) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n"
                 ::"l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer),
                 "r"(smem_address(src))
                 : "memory");
}

// Closes this thread's bulk stores issued so far into one group.
__device__ __forceinline__ void bulk_commit_group() {
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

// Waits until this thread's committed stores have read their shared memory
// (it may be written again) ...
__device__ __forceinline__ void bulk_wait_group_read_all() {
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
}

// ... or have completed (before the CTA's shared memory goes away).
__device__ __forceinline__ void bulk_wait_group_all() {
    asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

#endif
