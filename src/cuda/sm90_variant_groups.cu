// sm90_prefill for weights with 16-bit scales, G = 48, 80, ... (two groups in some k-blocks), zeros as the weight says:
// every token width, fp16 and bf16 (see sm90_kernel.cuh).
#include "cuda/sm90_kernel.cuh"

namespace w4a16_sm90 {

template cudaError_t launch_width<__half, Variant<true, false, -1>>(const Sm90Params &, const CUtensorMap &,
                                                       const CUtensorMap &, int, int,
                                                       cudaStream_t);
template cudaError_t launch_width<__nv_bfloat16, Variant<true, false, -1>>(const Sm90Params &,
                                                              const CUtensorMap &,
                                                              const CUtensorMap &, int, int,
                                                              cudaStream_t);

} // namespace w4a16_sm90
