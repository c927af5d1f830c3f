/* Random quantized weights for check, bench and demo: q, z and s drawn at
 * random and stored as a compressed-tensors checkpoint would store them
 * (weight_packed [N, K/8], weight_zero_point [ceil(N/8), G'], weight_scale
 * [N, G']), so the GPU pack path reads them like any checkpoint's. */
#ifndef W4A16_TOOLS_RANDOM_WEIGHT_H
#define W4A16_TOOLS_RANDOM_WEIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "w4a16.h"

typedef struct {
    w4a16_source source; /* host pointers into the arrays below */
    int32_t *qweight;
    int32_t *qzeros;     /* NULL when symmetric */
    int32_t *g_idx;      /* act-order: [k], G columns per group in a random order; else NULL */
    void *scales;
    size_t qweight_bytes, qzeros_bytes, scales_bytes, g_idx_bytes;
} random_weight;

/* Every q and z uniform over 0..15; scales uniform in [0.004, 0.02) rounded
 * to scales_dtype, which keeps C's entries near 1 for activations in [-1, 1];
 * with act_order a g_idx as GPTQ's desc_act leaves it (each group's G columns
 * scattered over K). k must be a multiple of 8 and of group (or group = -1,
 * which act_order excludes). */
w4a16_status random_weight_make(int64_t n, int64_t k, int64_t group, int asym, int act_order,
                                w4a16_dtype scales_dtype, uint64_t *rng, random_weight *out);
void random_weight_free(random_weight *w); /* accepts NULL */

/* W exactly as the reference sees it, rounded to F16 or BF16: the dense
 * weight the cuBLAS comparison runs on. out is [n, k] row-major. */
void source_dequantize(const w4a16_source *src, w4a16_dtype dtype, uint16_t *out);

/* Rows [n_begin, n_end) of a host source as a source of their own;
 * n_begin must be a multiple of 8 when a tensor is packed along N. */
w4a16_source source_rows(const w4a16_source *src, int64_t n_begin, int64_t n_end);

#endif
