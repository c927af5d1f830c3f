// Programmatic dependent launch (sm_90): a kernel launched with the
// programmatic-stream-serialization attribute may start while the kernel
// before it in the stream still runs, and must wait for it before it loads
// anything that kernel may write (the weights too: the caller may have just
// written them) or writes anything it may read; until then it may only
// prefetch into L2.
#ifndef W4A16_CUDA_PTX_GRID_DEPENDENCY_CUH
#define W4A16_CUDA_PTX_GRID_DEPENDENCY_CUH

// Waits until the grids this one depends on have completed and their memory
// is visible; returns at once when launched without the attribute.
__device__ __forceinline__ void grid_dependency_wait() {
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

// Lets the next kernel in the stream, if launched with the attribute, start
// once every CTA of this grid has called this or exited (it still waits for
// this grid's completion before touching its inputs).
__device__ __forceinline__ void grid_dependency_launch_dependents() {
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}

// Pulls global memory into L2 ahead of its loads. Safe before
// grid_dependency_wait even for bytes the previous kernel may still be
// writing: its writes land in L2, where global memory is coherent, and the
// loads themselves come after the wait.
__device__ __forceinline__ void prefetch_l2(const void *address) {
    asm volatile("prefetch.global.L2 [%0];\n" ::"l"(address));
}

// The same for `bytes` contiguous bytes (a multiple of 16, 16-byte aligned).
__device__ __forceinline__ void prefetch_l2_bulk(const void *address, uint32_t bytes) {
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(address), "r"(bytes)
                 : "memory");
}

#endif
