/* Where each format keeps q, z and s (docs/DESIGN.md §2's table), as layout
 * descriptors: the importer, the writers, the reference and the GPU pack
 * kernel all read and write through these, so no format's packing logic is
 * written twice. */
#ifndef W4A16_CHECKPOINT_LAYOUTS_H
#define W4A16_CHECKPOINT_LAYOUTS_H

#include "w4a16.h"

typedef struct {
    w4a16_qlayout qweight;     /* indexed (n, k) */
    w4a16_qlayout qzeros;      /* indexed (n, g) */
    int64_t qweight_shape[2];  /* int32 tensor shape as the format stores it */
    int64_t qzeros_shape[2];
    int64_t scales_shape[2];
    int64_t scales_stride_n, scales_stride_g;
} w4a16_format_layout;

/* The layout of an [n, k] weight with `groups` groups along K in a quantized
 * format (AWQ, GPTQ, GPTQ_V2, CT). W4A16_ERR_SHAPE, naming the rule, when the
 * format cannot hold the shape (AWQ needs n % 8 == 0, GPTQ and CT k % 8 == 0,
 * GPTQ zeros n % 8 == 0). */
w4a16_status w4a16_format_layout_get(w4a16_format format, int64_t n, int64_t k, int64_t groups,
                                     w4a16_format_layout *out);

/* Stores value (0..15 after subtracting the layout's offset) at (n, k). */
void w4a16_qlayout_put(const w4a16_qlayout *layout, int32_t *words, int64_t n, int64_t k,
                       int32_t value);

/* Packs values of rows [row_begin, row_end) of an [rows, cols] array (q
 * indexed (n, k), or z indexed (n, g)) into whole words: value (n, c) is
 * values[n * values_stride + c], or `constant` for every one when values is
 * NULL (the 8s of symmetric zeros). Stores (value - offset) & 15 as
 * w4a16_qlayout_put does, nibbles past the last row or column 0. Along N a
 * word holds 8 rows, so row_begin must be a multiple of 8 and row_end one
 * too, or rows; ranges that follow that rule write disjoint words (one
 * thread each). The fast path of the encoders: whole words, row by row. */
void w4a16_qlayout_pack_rows(const w4a16_qlayout *layout, int32_t *words, const uint8_t *values,
                             int64_t values_stride, uint8_t constant, int64_t rows, int64_t cols,
                             int64_t row_begin, int64_t row_end);
/* The inverse for any rows: out[n * out_stride + c] = value (n, c), offset added. */
void w4a16_qlayout_unpack_rows(const w4a16_qlayout *layout, const int32_t *words, int64_t cols,
                               int64_t row_begin, int64_t row_end, uint8_t *out, int64_t out_stride);

#endif
