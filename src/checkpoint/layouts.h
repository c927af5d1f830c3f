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

#endif
