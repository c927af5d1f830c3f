// Reading a packed weight's scales in the dtype the checkpoint stored them
// (F16, BF16 or F32: never rounded at pack time), as float, exactly.
#ifndef W4A16_CUDA_PACKED_SCALES_CUH
#define W4A16_CUDA_PACKED_SCALES_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "w4a16.h"

enum ScaleKind { kScaleF16 = 0, kScaleBF16 = 1, kScaleF32 = 2 };

static inline ScaleKind scale_kind_of(w4a16_dtype scales_dtype) {
    return scales_dtype == W4A16_F16 ? kScaleF16 : scales_dtype == W4A16_BF16 ? kScaleBF16 : kScaleF32;
}

// scales[i] as float; every F16 and BF16 value is exact in float.
__device__ __forceinline__ float load_packed_scale(const void *scales, int scale_kind, int64_t i) {
    switch (scale_kind) {
    case kScaleF16: return __half2float(static_cast<const __half *>(scales)[i]);
    case kScaleBF16: return __bfloat162float(static_cast<const __nv_bfloat16 *>(scales)[i]);
    default: return static_cast<const float *>(scales)[i];
    }
}

#endif
