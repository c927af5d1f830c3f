// mbarrier wrappers (sm_90): the full/empty handshake between the producer
// warp that issues the asynchronous copies and the consumer warpgroups.
// One instruction a function; addresses are 32-bit shared-memory addresses.
#ifndef W4A16_CUDA_PTX_MBARRIER_CUH
#define W4A16_CUDA_PTX_MBARRIER_CUH

#include <stdint.h>

// The 32-bit shared-window address of a shared-memory object, as the async
// instructions take it.
__device__ __forceinline__ uint32_t smem_address(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// A barrier that completes a phase after `arrivals` arrivals (and, for the
// copies' barriers, after the bytes announced with expect_tx have landed).
__device__ __forceinline__ void mbarrier_init(uint64_t *bar, uint32_t arrivals) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_address(bar)),
                 "r"(arrivals));
}

// Makes the initialized barriers visible to the async proxy (the copy engine).
__device__ __forceinline__ void fence_barrier_init() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// One arrival that also announces `bytes` of copies completing on this barrier.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t *bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(
                     smem_address(bar)),
                 "r"(bytes)
                 : "memory");
}

// One plain arrival (a consumer warp is done reading a stage); by pointer or
// by shared-window address.
__device__ __forceinline__ void mbarrier_arrive_at(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbarrier_arrive(uint64_t *bar) { mbarrier_arrive_at(smem_address(bar)); }

// Whether the phase with this parity has completed (waits a bounded time in
// hardware before answering no).
__device__ __forceinline__ bool mbarrier_try_wait_at(uint32_t bar, uint32_t parity) {
    uint32_t done;
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
    return done != 0;
}

// Until the phase with this parity has completed. A fresh barrier is in phase
// 0, so waiting on parity 1 returns at once (the "previous" phase).
__device__ __forceinline__ void mbarrier_wait_at(uint32_t bar, uint32_t parity) {
    while (!mbarrier_try_wait_at(bar, parity)) {
    }
}
__device__ __forceinline__ void mbarrier_wait(uint64_t *bar, uint32_t parity) {
    mbarrier_wait_at(smem_address(bar), parity);
}

#endif
