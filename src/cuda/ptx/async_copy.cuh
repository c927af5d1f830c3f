// Ampere-style asynchronous copies (cp.async, sm_80+): global to shared
// memory without passing through registers, so a CTA can issue all of its
// staging at once and wait for it once.
#ifndef W4A16_CUDA_PTX_ASYNC_COPY_CUH
#define W4A16_CUDA_PTX_ASYNC_COPY_CUH

#include <stdint.h>

#include "cuda/ptx/mbarrier.cuh"

// 16 bytes, of which the first `src_bytes` (0..16) come from `src` and the
// rest are zeros; both addresses 16-byte aligned. Bypasses L1 (.cg).
__device__ __forceinline__ void async_copy_16(void *dst, const void *src, uint32_t src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(dst)),
                 "l"(src), "r"(src_bytes)
                 : "memory");
}

// 4 bytes, or 4 zeros when `src_bytes` is 0; both addresses 4-byte aligned.
__device__ __forceinline__ void async_copy_4(void *dst, const void *src, uint32_t src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_address(dst)),
                 "l"(src), "r"(src_bytes)
                 : "memory");
}

// Closes the group of copies this thread issued since the last commit.
__device__ __forceinline__ void async_copy_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most kPending of this thread's committed groups are still in
// flight (0: all of them; the newest are the ones left).
template <int kPending> __device__ __forceinline__ void async_copy_wait_pending() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Waits until every copy this thread issued has landed (a __syncthreads then
// makes all threads' copies visible to the CTA).
__device__ __forceinline__ void async_copy_wait_all() {
    asm volatile("cp.async.wait_all;\n" ::: "memory");
}

#endif
