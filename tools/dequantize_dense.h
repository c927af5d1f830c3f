/* `w4a16 convert --to dense`: quantized rows back to dense weights. */
#ifndef W4A16_TOOLS_DEQUANTIZE_DENSE_H
#define W4A16_TOOLS_DEQUANTIZE_DENSE_H

#include <stdint.h>

#include "w4a16.h"

/* Rows [row_begin, row_end) of W = (q - z) * s from an unpacked weight,
 * computed exactly and rounded once to dtype (F32, F16 or BF16), into out
 * (an [n, k] array of dtype). Returns -1, or the first row holding a value
 * beyond dtype's range. */
int64_t dequantize_rows(const w4a16_unpacked *w, w4a16_dtype dtype, int64_t row_begin,
                        int64_t row_end, void *out);

#endif
