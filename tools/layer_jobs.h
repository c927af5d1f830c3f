/* One layer's work for quantize and convert, with threads sharing its rows
 * (parallel.h): each block of rows is quantized or unpacked, then encoded,
 * by one thread, so the bytes written are the same for any thread count and
 * memory holds one layer at a time. */
#ifndef W4A16_TOOLS_LAYER_JOBS_H
#define W4A16_TOOLS_LAYER_JOBS_H

#include "checkpoint/checkpoint_writer.h"
#include "w4a16.h"

/* Rows a thread takes at a time: a multiple of 8 (formats packed along N
 * keep 8 rows in a word), small enough to share a layer's rows evenly. */
#define LAYER_JOB_BLOCK_ROWS 64

/* Keeps the buffers of one layer for the next: glibc would map each buffer
 * over 32 MB afresh and give it back when freed, so every layer would fault
 * in (and the kernel zero) tens of MB of new pages, a tenth of convert's
 * time and a lock the threads contend for. Call once, before the layers. */
void layer_jobs_reuse_memory(void);

/* Quantizes a dense [n, k] weight (F32, F16 or BF16, any alignment) and
 * appends its tensors in `format` to out, named prefix + ".qweight" etc. */
w4a16_status quantize_layer(int threads, const void *weight, w4a16_dtype weight_dtype, int64_t n,
                            int64_t k, int64_t group_size, int symmetric, w4a16_dtype scales_dtype,
                            w4a16_format format, const char *prefix, w4a16_tensor_list *out);

/* Rewrites a quantized layer in `format` (exactly: w4a16_encode's rules),
 * appending its tensors to out; *max_scale_change as w4a16_encode gives it. */
w4a16_status convert_layer(int threads, const w4a16_source *src, w4a16_format format,
                           const char *prefix, w4a16_tensor_list *out, double *max_scale_change);

/* Appends prefix + ".weight" [n, k] of dtype (F32, F16 or BF16) holding
 * (q - z) * s, computed exactly and rounded once. W4A16_ERR_UNSUPPORTED
 * naming the row when a value is beyond the dtype's range. */
w4a16_status dequantize_layer(int threads, const w4a16_source *src, w4a16_dtype dtype,
                              const char *prefix, w4a16_tensor_list *out);

#endif
