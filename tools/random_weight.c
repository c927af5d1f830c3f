/* Random compressed-tensors weights, their dense copy, and row slices. */
#include "random_weight.h"

#include <stdlib.h>
#include <string.h>

#include "checkpoint/layouts.h"
#include "common/dtype.h"
#include "common/error.h"
#include "common/rng.h"

w4a16_status random_weight_make(int64_t n, int64_t k, int64_t group, int asym, int act_order,
                                w4a16_dtype scales_dtype, uint64_t *rng, random_weight *out) {
    memset(out, 0, sizeof *out);
    W4A16_FAIL_IF(group != -1 && (group <= 0 || k % group != 0), W4A16_ERR_SHAPE,
                  "group=%lld does not divide K=%lld", (long long)group, (long long)k);
    W4A16_FAIL_IF(act_order && group == -1, W4A16_ERR_ARG,
                  "act-order needs a group size (per-channel has one group)");
    int64_t groups = group == -1 ? 1 : k / group;
    w4a16_format_layout layout;
    W4A16_TRY(w4a16_format_layout_get(W4A16_FORMAT_CT, n, k, groups, &layout));

    int64_t qweight_words = layout.qweight_shape[0] * layout.qweight_shape[1];
    int64_t qzeros_words = layout.qzeros_shape[0] * layout.qzeros_shape[1];
    int64_t scale_count = layout.scales_shape[0] * layout.scales_shape[1];
    out->qweight_bytes = (size_t)qweight_words * 4;
    out->qzeros_bytes = asym ? (size_t)qzeros_words * 4 : 0;
    out->scales_bytes = (size_t)scale_count * (size_t)(w4a16_dtype_bits(scales_dtype) / 8);
    out->g_idx_bytes = act_order ? (size_t)k * sizeof(int32_t) : 0;
    out->qweight = malloc(out->qweight_bytes);
    out->qzeros = asym ? malloc(out->qzeros_bytes) : NULL;
    out->scales = malloc(out->scales_bytes);
    out->g_idx = act_order ? malloc(out->g_idx_bytes) : NULL;
    if (!out->qweight || (asym && !out->qzeros) || !out->scales || (act_order && !out->g_idx)) {
        random_weight_free(out);
        return w4a16_fail(W4A16_ERR_NOMEM, "random weight %lldx%lld: out of host memory",
                          (long long)n, (long long)k);
    }
    /* Any 32 random bits are eight valid 4-bit values. */
    for (int64_t i = 0; i < qweight_words; i++) out->qweight[i] = (int32_t)w4a16_rng_next(rng);
    for (int64_t i = 0; asym && i < qzeros_words; i++)
        out->qzeros[i] = (int32_t)w4a16_rng_next(rng);
    w4a16_rng_fill(out->scales, scales_dtype, scale_count, 0.004, 0.02, rng);
    if (act_order) {
        /* Column j of the sorted order belongs to group j / G; a Fisher-Yates
         * shuffle of the columns scatters each group over K. */
        for (int64_t j = 0; j < k; j++) out->g_idx[j] = (int32_t)(j / group);
        for (int64_t j = k - 1; j > 0; j--) {
            const int64_t other = (int64_t)(w4a16_rng_next(rng) % (uint64_t)(j + 1));
            const int32_t kept = out->g_idx[j];
            out->g_idx[j] = out->g_idx[other];
            out->g_idx[other] = kept;
        }
    }

    w4a16_source *src = &out->source;
    src->n = n;
    src->k = k;
    src->group_size = group;
    src->qweight = out->qweight;
    src->qweight_layout = layout.qweight;
    src->qzeros = out->qzeros;
    src->qzeros_layout = layout.qzeros;
    src->scales = out->scales;
    src->scales_dtype = scales_dtype;
    src->scales_stride_n = layout.scales_stride_n;
    src->scales_stride_g = layout.scales_stride_g;
    src->g_idx = out->g_idx;
    return W4A16_OK;
}

void random_weight_free(random_weight *w) {
    if (w == NULL) return;
    free(w->qweight);
    free(w->qzeros);
    free(w->scales);
    free(w->g_idx);
    memset(w, 0, sizeof *w);
}

void source_dequantize(const w4a16_source *src, w4a16_dtype dtype, uint16_t *out) {
    for (int64_t n = 0; n < src->n; n++)
        for (int64_t k = 0; k < src->k; k++) {
            float value = (float)w4a16_source_weight(src, n, k);
            out[n * src->k + k] =
                dtype == W4A16_BF16 ? w4a16_float_to_bf16(value) : w4a16_float_to_f16(value);
        }
}

/* Where row n_begin's words start in a tensor laid out by layout. */
static const int32_t *words_at_row(const int32_t *words, const w4a16_qlayout *layout,
                                   int64_t n_begin) {
    if (words == NULL) return NULL;
    int64_t word_row = layout->packed_axis == W4A16_PACKED_ALONG_N ? n_begin / 8 : n_begin;
    return words + word_row * layout->stride_n;
}

w4a16_source source_rows(const w4a16_source *src, int64_t n_begin, int64_t n_end) {
    w4a16_source rows = *src;
    rows.n = n_end - n_begin;
    rows.qweight = words_at_row(src->qweight, &src->qweight_layout, n_begin);
    rows.qzeros = words_at_row(src->qzeros, &src->qzeros_layout, n_begin);
    rows.scales = (const char *)src->scales +
                  n_begin * src->scales_stride_n * (w4a16_dtype_bits(src->scales_dtype) / 8);
    return rows;
}
