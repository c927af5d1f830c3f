// The copy engine (sm_90): tensor-tile copies through a tensor map and plain
// contiguous bulk copies, both completing on an mbarrier with a byte count.
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

#endif
