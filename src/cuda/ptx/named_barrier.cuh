// Named barriers (bar.sync with an id): a barrier among the `threads` threads
// of one warpgroup, so that one consumer warpgroup can synchronize without
// the producer or the other consumer.
#ifndef W4A16_CUDA_PTX_NAMED_BARRIER_CUH
#define W4A16_CUDA_PTX_NAMED_BARRIER_CUH

// Id 0 is __syncthreads()'s; ids 1..15 are free for the kernel's own use.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Arrives without waiting: the other side of a producer/consumer handoff
// among `threads` threads syncs on the same id.
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

#endif
