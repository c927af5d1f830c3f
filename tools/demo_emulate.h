/* What a correct GPU kernel computes, emulated on the CPU for a few rows of
 * C: Ŵ rounded to the activation dtype, products of 16-bit values summed in
 * fp32, C rounded to the activation dtype. Its error against the fp64
 * reference is the yardstick of docs/DESIGN.md §1. */
#ifndef W4A16_TOOLS_DEMO_EMULATE_H
#define W4A16_TOOLS_DEMO_EMULATE_H

#include <stdint.h>

#include "w4a16.h"

/* C_rows [n_rows, n] of dtype (F16 or BF16) for rows `rows` of A [*, k]
 * (dtype, row-major, lda = k). W16 is Ŵ [n, k] already rounded to dtype.
 * Returns 0, or -1 when out of memory. */
int demo_emulate_gemm(const uint16_t *W16, int64_t n, int64_t k, const uint16_t *A,
                       w4a16_dtype dtype, const int64_t *rows, int64_t n_rows, uint16_t *C_rows);

#endif
