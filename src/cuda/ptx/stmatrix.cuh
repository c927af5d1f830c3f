// stmatrix (sm_90): four 8x8 matrices of 16-bit elements to shared memory,
// one row address (16 bytes) per lane; the inverse of ldmatrix.
#ifndef W4A16_CUDA_PTX_STMATRIX_CUH
#define W4A16_CUDA_PTX_STMATRIX_CUH

#include <stdint.h>

// Lane (g = lane / 4, t = lane % 4) holds elements (g, 2t) and (g, 2t + 1) of
// matrix i in in[i] (mma's accumulator order); .trans stores each matrix
// transposed, so lane 8i + j gives the address of column j of matrix i.
__device__ __forceinline__ void stmatrix_x4_trans(uint32_t row_address, const uint32_t (&in)[4]) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n"
                 ::"r"(row_address), "r"(in[0]), "r"(in[1]), "r"(in[2]), "r"(in[3])
                 : "memory");
}

#endif
