/* Round-to-nearest 4-bit quantization (w4a16_quantize), with the one knob a
 * format writer needs beyond the public API: the lowest zero point allowed. */
#ifndef W4A16_QUANTIZE_QUANTIZE_H
#define W4A16_QUANTIZE_QUANTIZE_H

#include "w4a16.h"

/* w4a16_quantize with asymmetric zero points kept within min_zero..15.
 * min_zero = 1 is for GPTQ v1, whose readers add 1 to a stored 0..15 (some
 * then mask to 4 bits, so a stored 15 is ambiguous and a true zero of 0
 * cannot be stored); groups whose natural zero would be 0 get a slightly
 * larger scale instead. min_zero is 0 or 1; ignored when symmetric. */
w4a16_status w4a16_quantize_min_zero(const void *weight, w4a16_dtype weight_dtype, int64_t n,
                                     int64_t k, int64_t group_size, int symmetric,
                                     w4a16_dtype scales_dtype, int32_t min_zero,
                                     w4a16_unpacked *out);

/* w4a16_quantize_min_zero in two steps, so that threads can share the rows
 * of a weight: begin checks the shape and allocates *out; rows quantizes
 * rows [row_begin, row_end) of the [out->n, out->k] weight into it. Ranges
 * write disjoint memory and the result does not depend on how the rows are
 * split. A value that is not finite fails the call, naming it. */
w4a16_status w4a16_quantize_begin(int64_t n, int64_t k, int64_t group_size, int symmetric,
                                  w4a16_dtype scales_dtype, w4a16_unpacked *out);
w4a16_status w4a16_quantize_rows(const void *weight, w4a16_dtype weight_dtype, int32_t min_zero,
                                 int64_t row_begin, int64_t row_end, w4a16_unpacked *out);

#endif
