/* `w4a16 convert --to dense`: a quantized layer back to a dense weight. */
#ifndef W4A16_TOOLS_DEQUANTIZE_DENSE_H
#define W4A16_TOOLS_DEQUANTIZE_DENSE_H

#include "checkpoint/checkpoint_writer.h"
#include "w4a16.h"

/* Appends "<prefix>.weight" [N, K] of dtype (F32, F16 or BF16) holding
 * (q - z) * s, computed exactly and rounded once. Returns 0, or reports one
 * line and returns exit code 1 (out of memory, or a value beyond the dtype's
 * range). */
int dequantize_layer(const char *command, const char *prefix, const w4a16_source *src,
                     w4a16_dtype dtype, w4a16_tensor_list *out);

#endif
