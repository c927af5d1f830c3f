// ldmatrix (sm_75+): four 8x8 matrices of 16-bit elements from shared memory,
// one row address (16 bytes) per lane, in the fragment order of mma.sync.
#ifndef W4A16_CUDA_PTX_LDMATRIX_CUH
#define W4A16_CUDA_PTX_LDMATRIX_CUH

#include <stdint.h>

// Lanes 8i..8i+7 give the rows of matrix i; lane (g = lane / 4, t = lane % 4)
// receives elements (g, 2t) and (g, 2t + 1) of matrix i in out[i].
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&out)[4], uint32_t row_address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(out[0]), "=r"(out[1]), "=r"(out[2]), "=r"(out[3])
                 : "r"(row_address));
}

#endif
