// Programmatic dependent launch (sm_90): a kernel launched with the
// programmatic-stream-serialization attribute may start while the kernel
// before it in the stream still runs, and must wait for it before touching
// what that kernel may read or write.
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

#endif
