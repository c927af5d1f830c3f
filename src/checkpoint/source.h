/* Reading a host w4a16_source element by element: the one place that turns a
 * source's packed words, zeros and scales back into numbers. The reference,
 * the format converter and w4a16_source_weight all read through these. The
 * functions below assume a source that passed w4a16_source_validate. */
#ifndef W4A16_CHECKPOINT_SOURCE_H
#define W4A16_CHECKPOINT_SOURCE_H

#include "w4a16.h"

/* The rules every quantized weight obeys: n, k > 0; group_size -1
 * (per-channel) or a positive divisor of k. W4A16_ERR_SHAPE names the rule. */
w4a16_status w4a16_check_quantized_shape(int64_t n, int64_t k, int64_t group_size);
/* Scales are F16, BF16 or F32; W4A16_ERR_UNSUPPORTED otherwise. */
w4a16_status w4a16_check_scales_dtype(w4a16_dtype dtype);

/* 1 when g_idx is NULL or maps every column k to k / G (0 per-channel):
 * no act-order. */
int w4a16_g_idx_is_trivial(const int32_t *g_idx, int64_t k, int64_t group_size);

/* Group of column k: g_idx[k] (act-order), k / G, or 0 per-channel. */
int64_t w4a16_source_group_of(const w4a16_source *src, int64_t k);
/* s[n, g] as stored (F16, BF16 and F32 are all exact in double). */
double w4a16_source_scale(const w4a16_source *src, int64_t n, int64_t g);
/* z[n, g]: 8 when the source is symmetric (qzeros NULL), else 0..16. */
int32_t w4a16_source_zero(const w4a16_source *src, int64_t n, int64_t g);
/* q[n, k], 0..15. */
int32_t w4a16_source_q(const w4a16_source *src, int64_t n, int64_t k);
/* Row n of W, (q - z) * s for every k, exactly, into row[0..k). */
void w4a16_source_row(const w4a16_source *src, int64_t n, double *row);

#endif
