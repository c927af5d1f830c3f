// sm90_prefill for weights with scales in another dtype than the activations (fp32 products), any G and zeros:
// every token width, fp16 and bf16 (see sm90_kernel.cuh).
#include "cuda/sm90_kernel.cuh"

namespace w4a16_sm90 {

template cudaError_t launch_width<__half, Variant<false, false, -1>>(const Sm90Params &, const CUtensorMap &,
                                                       const CUtensorMap &, int, int,
                                                       cudaStream_t);
template cudaError_t launch_width<__nv_bfloat16, Variant<false, false, -1>>(const Sm90Params &,
                                                              const CUtensorMap &,
                                                              const CUtensorMap &, int, int,
                                                              cudaStream_t);

} // namespace w4a16_sm90
