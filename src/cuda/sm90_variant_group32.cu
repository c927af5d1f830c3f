// sm90_prefill for weights with 16-bit scales, G = 32 (steps 0-1 and 2-3 of a k-block in two groups), with zero points:
// every token width, fp16 and bf16 (see sm90_kernel.cuh).
#include "cuda/sm90_kernel.cuh"

namespace w4a16_sm90 {

template cudaError_t launch_width<__half, Variant<true, false, 1, 32>>(const Sm90Params &, const CUtensorMap &,
                                                       const CUtensorMap &, int, int,
                                                       cudaStream_t);
template cudaError_t launch_width<__nv_bfloat16, Variant<true, false, 1, 32>>(const Sm90Params &,
                                                              const CUtensorMap &,
                                                              const CUtensorMap &, int, int,
                                                              cudaStream_t);

} // namespace w4a16_sm90
