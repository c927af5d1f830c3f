/* The canonical unpacked weight (w4a16_unpacked, include/w4a16.h): one byte
 * per q and z, float scales, [n, groups] row-major zeros and scales. The
 * quantizer produces it, the format writers consume it, and the converter
 * builds it from any source. */
#ifndef W4A16_QUANTIZE_UNPACKED_H
#define W4A16_QUANTIZE_UNPACKED_H

#include "w4a16.h"

/* K / G, or 1 per-channel. */
int64_t w4a16_unpacked_groups(const w4a16_unpacked *w);
/* z[n, g]: 8 when symmetric. */
static inline int32_t w4a16_unpacked_zero(const w4a16_unpacked *w, int64_t n, int64_t g) {
    return w->symmetric ? 8 : w->zeros[n * w4a16_unpacked_groups(w) + g];
}
/* Allocates q, scales, and zeros (unless symmetric) and g_idx (when with_g_idx)
 * for the shape in *w, which must already hold n, k, group_size and symmetric.
 * W4A16_ERR_NOMEM leaves *w's pointers NULL. */
w4a16_status w4a16_unpacked_alloc(w4a16_unpacked *w, int with_g_idx);
/* Checks shape, group size, value ranges (q 0..15, z 0..16, g_idx 0..groups-1)
 * and that every scale is finite and exact in scales_dtype: the header, then
 * every row. */
w4a16_status w4a16_unpacked_validate(const w4a16_unpacked *w);
/* What needs no pass over the values: shape, group size, pointers, scales
 * dtype, g_idx. */
w4a16_status w4a16_unpacked_check_header(const w4a16_unpacked *w);
/* The values of rows [row_begin, row_end), naming the first that is wrong. */
w4a16_status w4a16_unpacked_check_rows(const w4a16_unpacked *w, int64_t row_begin, int64_t row_end);

#endif
