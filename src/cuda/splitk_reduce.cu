// The second half of a split-K GEMM: the K-ranges' fp32 partials summed in a
// fixed order (so the result is the same bits on every run, with no atomics
// and no counters to reset), the bias added in fp32, one rounding to 16 bits.
// Four columns a thread: partial rows are 16-byte aligned (pitch n_padded).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/fragment_dequant.cuh"
#include "cuda/kernels.h"

namespace {

struct ReduceParams {
    const float *partials;
    int splits;
    int64_t M, n, ldp, ldc;
    const uint16_t *bias;
    uint16_t *C;
};

template <typename T> __global__ void splitk_reduce_kernel(const ReduceParams p) {
    const int64_t quads = (p.n + 3) / 4;
    const int64_t split_stride = p.M * p.ldp;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.M * quads;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = i / quads, j = 4 * (i - m * quads);
        const float *src = p.partials + m * p.ldp + j;
        float4 sum = *reinterpret_cast<const float4 *>(src);
        for (int s = 1; s < p.splits; s++) {
            const float4 v = *reinterpret_cast<const float4 *>(src + s * split_stride);
            sum.x += v.x;
            sum.y += v.y;
            sum.z += v.z;
            sum.w += v.w;
        }
        const float v[4] = {sum.x, sum.y, sum.z, sum.w};
        for (int c = 0; c < 4 && j + c < p.n; c++) {
            const float b = p.bias != nullptr ? Pair16<T>::value_of(p.bias[j + c]) : 0.0f;
            p.C[m * p.ldc + j + c] = Pair16<T>::bits_of(v[c] + b);
        }
    }
}

} // namespace

extern "C" cudaError_t w4a16_launch_splitk_reduce(const float *partials, int splits, int64_t M,
                                                  int64_t n, int64_t ldp, const void *bias,
                                                  w4a16_dtype dtype, void *C, int64_t ldc,
                                                  cudaStream_t stream) {
    ReduceParams p = {partials, splits, M, n, ldp, ldc, static_cast<const uint16_t *>(bias),
                      static_cast<uint16_t *>(C)};
    const int64_t work = M * ((n + 3) / 4);
    const int threads = 256;
    int64_t blocks = (work + threads - 1) / threads;
    if (blocks > 4096) blocks = 4096;
    if (dtype == W4A16_BF16)
        splitk_reduce_kernel<__nv_bfloat16><<<(unsigned)blocks, threads, 0, stream>>>(p);
    else
        splitk_reduce_kernel<__half><<<(unsigned)blocks, threads, 0, stream>>>(p);
    return cudaGetLastError();
}
