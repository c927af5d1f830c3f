/* Format writers: a canonical w4a16_unpacked weight to the named tensors of
 * one layer in AWQ, GPTQ (v1, v2) or compressed-tensors, and back from any
 * source. Where q and z sit inside the int32 words comes from the format's
 * layout (checkpoint/layouts.h), never from code here.
 *
 * Quantize a dense layer:  w4a16_quantize_min_zero(..., w4a16_format_min_zero(fmt), &w)
 *                          -> w4a16_encode(&w, fmt, prefix, &list, ...)
 * Convert a layer:         w4a16_unpack_source(src, &w) -> w4a16_encode(&w, fmt, ...)
 * On several threads:      w4a16_encoder_begin, then w4a16_encoder_rows on
 *                          disjoint row ranges (the quantizer and the unpacker
 *                          have row-range forms too: quantize.h, below)
 * Then write the folder:   w4a16_quantization_config(...) into the model's config,
 *                          w4a16_checkpoint_write(dir, &list, config). */
#ifndef W4A16_QUANTIZE_ENCODE_H
#define W4A16_QUANTIZE_ENCODE_H

#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/layouts.h"
#include "w4a16.h"

/* Lowest zero point every reader of `format` agrees on: 1 for GPTQ v1 (it
 * stores z - 1; readers add 1 back, some masking the sum to 4 bits), else 0.
 * The highest is 15 for every format; the encoder also takes a GPTQ v1 16
 * (stored 15) back into GPTQ v1, so that v1 checkpoints carry over as stored. */
int32_t w4a16_format_min_zero(w4a16_format format);

/* The dtype `format` stores scales in: F16 for AWQ and GPTQ, the weight's
 * own scales dtype for compressed-tensors. */
w4a16_dtype w4a16_format_scales_dtype(w4a16_format format, w4a16_dtype unpacked_scales_dtype);

/* Appends one layer's tensors, named prefix + "." + name:
 *   awq         qweight I32 [K, N/8], qzeros I32 [G', N/8] (8s when symmetric),
 *               scales F16 [G', N]
 *   gptq        qweight I32 [K/8, N], qzeros I32 [G', N/8] holding z - 1 (7s when
 *               symmetric), scales F16 [G', N], g_idx I32 [K] (k / G unless act-order)
 *   gptq_v2     as gptq, qzeros holding z (8s when symmetric)
 *   ct          weight_packed I32 [N, K/8], weight_scale [N, G'] in w's scales dtype,
 *               weight_zero_point I32 [ceil(N/8), G'] (asymmetric only; packed
 *               along N, holding z), weight_shape I64 [2] = {N, K},
 *               weight_g_idx I32 [K] (act-order only)
 * G' = K / G, or 1 per-channel. Fails, appending nothing, when the format
 * cannot hold the weight: its shape (layouts.h), act-order into AWQ, a zero
 * outside w4a16_format_min_zero(format)..15 (..16 for GPTQ v1, whose stored
 * 15 reads 16), a scale beyond F16. Scales
 * rounded to the format's dtype report their largest relative change
 * |s' - s| / s in *max_scale_change (may be NULL; 0 when none changed). */
w4a16_status w4a16_encode(const w4a16_unpacked *w, w4a16_format format, const char *prefix,
                          w4a16_tensor_list *list, double *max_scale_change);

/* The tensors w4a16_encode would append for a weight of this shape, scheme
 * and unpacked scales dtype, with their names, dtypes and shapes but no data
 * (NULL): what a streaming writer lays out before the data exists. The same
 * errors as w4a16_encode for a shape or act-order the format cannot hold. */
w4a16_status w4a16_encode_plan(w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                               int symmetric, int act_order, w4a16_dtype unpacked_scales_dtype,
                               const char *prefix, w4a16_tensor_list *list);

/* w4a16_encode in two steps, so that threads can share the rows of a layer. */
typedef struct {
    const w4a16_unpacked *w;
    w4a16_format format;
    w4a16_format_layout layout;
    w4a16_dtype scales_dtype; /* as stored */
    int32_t *qweight, *qzeros; /* owned by the list; qzeros NULL when not written */
    void *scales;
} w4a16_encoder;
/* Appends the layer's tensors to list (allocated; g_idx and weight_shape
 * filled, the rest left for the rows) after the checks that need no values:
 * shape, layout, act-order. Appends nothing on failure. */
w4a16_status w4a16_encoder_begin(const w4a16_unpacked *w, w4a16_format format, const char *prefix,
                                 w4a16_tensor_list *list, w4a16_encoder *out);
/* Checks and writes rows [row_begin, row_end) of q, z and s. Both ends must
 * be multiples of 8 (or N), since formats packed along N keep 8 rows in a
 * word; such ranges touch disjoint words, so threads may run them at once.
 * The first row that breaks a rule fails the call, naming it; the largest
 * relative change rounding made to these rows' scales goes to
 * *max_scale_change (may be NULL). */
w4a16_status w4a16_encoder_rows(const w4a16_encoder *encoder, int64_t row_begin, int64_t row_end,
                                double *max_scale_change);

/* The source a reader of `format` builds from the tensors w4a16_encode
 * appended for prefix; its pointers borrow the list's data. Symmetric
 * weights read as qzeros NULL (z = 8), as GPTQ sym=true and symmetric
 * compressed-tensors readers do (AWQ's stored 8s mean the same). */
w4a16_status w4a16_encoded_source(const w4a16_tensor_list *list, w4a16_format format,
                                  const char *prefix, int64_t n, int64_t k, int64_t group_size,
                                  int symmetric, w4a16_source *out);

/* Every q, z and s of a host source in canonical form, exactly: zeros keep
 * 0..16 (GPTQ v1 may hold 16), scales keep the source's dtype, a g_idx is
 * kept only when it is not the trivial k / G. Free with w4a16_unpacked_free. */
w4a16_status w4a16_unpack_source(const w4a16_source *src, w4a16_unpacked *out);
/* The same in two steps: allocate (g_idx copied), then any row ranges, which
 * write disjoint memory (threads may run them at once). */
w4a16_status w4a16_unpack_source_begin(const w4a16_source *src, w4a16_unpacked *out);
void w4a16_unpack_source_rows(const w4a16_source *src, int64_t row_begin, int64_t row_end,
                              w4a16_unpacked *out);

#endif
