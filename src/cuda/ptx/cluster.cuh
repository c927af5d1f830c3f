// Thread-block clusters (sm_90): the barrier across a cluster's CTAs and
// reads of another CTA's shared memory (distributed shared memory).
#ifndef W4A16_CUDA_PTX_CLUSTER_CUH
#define W4A16_CUDA_PTX_CLUSTER_CUH

#include <stdint.h>

// Every thread of every CTA in the cluster arrives, then waits: shared-memory
// writes before it are visible to the cluster's reads after it.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

// The same barrier without ordering memory: only that every CTA got here
// (no CTA leaves while another still reads its shared memory).
__device__ __forceinline__ void cluster_sync_relaxed() {
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n"
                 "barrier.cluster.wait.aligned;\n" ::: "memory");
}

// The cluster-window address of the same shared-memory object in CTA `rank`.
__device__ __forceinline__ uint32_t cluster_map_shared(uint32_t smem_address, uint32_t rank) {
    uint32_t out;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(out) : "r"(smem_address), "r"(rank));
    return out;
}

// 16 bytes of fp32 from a cluster-window address (cluster_map_shared).
__device__ __forceinline__ float4 cluster_load_float4(uint32_t address) {
    float4 v;
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
                 : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                 : "r"(address)
                 : "memory");
    return v;
}

#endif
