/* A w4a16_source read back as numbers: validation, and W[n, k] = (q - z) * s
 * exactly in double, through the layout descriptors (never a format's own
 * packing rules). */
#include "source.h"

#include <math.h>
#include <stddef.h>

#include "common/dtype.h"
#include "common/error.h"

int w4a16_g_idx_is_trivial(const int32_t *g_idx, int64_t k, int64_t group_size) {
    if (g_idx == NULL) return 1;
    for (int64_t col = 0; col < k; col++)
        if (g_idx[col] != (group_size < 0 ? 0 : col / group_size)) return 0;
    return 1;
}

int64_t w4a16_source_group_of(const w4a16_source *src, int64_t k) {
    if (src->g_idx != NULL) return src->g_idx[k];
    return src->group_size < 0 ? 0 : k / src->group_size;
}

double w4a16_source_scale(const w4a16_source *src, int64_t n, int64_t g) {
    return w4a16_load_as_double(src->scales, src->scales_dtype,
                                n * src->scales_stride_n + g * src->scales_stride_g);
}

int32_t w4a16_source_zero(const w4a16_source *src, int64_t n, int64_t g) {
    if (src->qzeros == NULL) return 8;
    return w4a16_qlayout_get(&src->qzeros_layout, src->qzeros, n, g);
}

int32_t w4a16_source_q(const w4a16_source *src, int64_t n, int64_t k) {
    return w4a16_qlayout_get(&src->qweight_layout, src->qweight, n, k);
}

void w4a16_source_row(const w4a16_source *src, int64_t n, double *row) {
    if (src->g_idx != NULL) {
        for (int64_t k = 0; k < src->k; k++) {
            int64_t g = src->g_idx[k];
            row[k] = (double)(w4a16_source_q(src, n, k) - w4a16_source_zero(src, n, g)) *
                     w4a16_source_scale(src, n, g);
        }
        return;
    }
    /* Groups are runs of G columns: read each group's s and z once. */
    int64_t group_size = src->group_size < 0 ? src->k : src->group_size;
    for (int64_t g = 0; g < w4a16_source_groups(src); g++) {
        double scale = w4a16_source_scale(src, n, g);
        int32_t zero = w4a16_source_zero(src, n, g);
        for (int64_t k = g * group_size; k < (g + 1) * group_size; k++)
            row[k] = (double)(w4a16_source_q(src, n, k) - zero) * scale;
    }
}

double w4a16_source_weight(const w4a16_source *src, int64_t n, int64_t k) {
    /* Cannot return a status: a bad call gives NaN and says why. */
    if (src == NULL || src->qweight == NULL || src->scales == NULL || src->on_device) {
        w4a16_fail(W4A16_ERR_ARG, "w4a16_source_weight needs a host source with qweight and scales");
        return NAN;
    }
    if (n < 0 || n >= src->n || k < 0 || k >= src->k) {
        w4a16_fail(W4A16_ERR_ARG, "(n=%lld, k=%lld) is outside the %lld x %lld weight",
                   (long long)n, (long long)k, (long long)src->n, (long long)src->k);
        return NAN;
    }
    int64_t g = w4a16_source_group_of(src, k);
    if (g < 0 || g >= w4a16_source_groups(src)) {
        w4a16_fail(W4A16_ERR_FORMAT, "g_idx[%lld]=%lld is not a group (0..%lld)", (long long)k,
                   (long long)g, (long long)w4a16_source_groups(src) - 1);
        return NAN;
    }
    return (double)(w4a16_source_q(src, n, k) - w4a16_source_zero(src, n, g)) *
           w4a16_source_scale(src, n, g);
}

w4a16_status w4a16_check_quantized_shape(int64_t n, int64_t k, int64_t group_size) {
    W4A16_FAIL_IF(n <= 0 || k <= 0, W4A16_ERR_SHAPE, "shape N=%lld, K=%lld must be positive",
                  (long long)n, (long long)k);
    W4A16_FAIL_IF(group_size == 0 || group_size < -1, W4A16_ERR_SHAPE,
                  "group_size=%lld must be positive or -1 (per-channel)", (long long)group_size);
    W4A16_FAIL_IF(group_size > 0 && k % group_size != 0, W4A16_ERR_SHAPE,
                  "K=%lld is not a multiple of group_size=%lld", (long long)k,
                  (long long)group_size);
    return W4A16_OK;
}

w4a16_status w4a16_check_scales_dtype(w4a16_dtype dtype) {
    W4A16_FAIL_IF(dtype != W4A16_F16 && dtype != W4A16_BF16 && dtype != W4A16_F32,
                  W4A16_ERR_UNSUPPORTED, "scales dtype %s is not F16, BF16 or F32",
                  w4a16_dtype_name(dtype));
    return W4A16_OK;
}

static w4a16_status validate_layout(const w4a16_qlayout *layout, const char *what,
                                    int32_t max_offset) {
    W4A16_FAIL_IF(layout->packed_axis != W4A16_PACKED_ALONG_N &&
                      layout->packed_axis != W4A16_PACKED_ALONG_K,
                  W4A16_ERR_ARG, "%s packed_axis=%d is neither along N (0) nor along K (1)", what,
                  (int)layout->packed_axis);
    W4A16_FAIL_IF(layout->stride_n < 0 || layout->stride_k < 0, W4A16_ERR_ARG,
                  "%s strides (n %lld, k %lld) must not be negative", what,
                  (long long)layout->stride_n, (long long)layout->stride_k);
    for (int lane = 0; lane < 8; lane++)
        W4A16_FAIL_IF(layout->nibble_of[lane] > 7, W4A16_ERR_ARG,
                      "%s nibble_of[%d]=%d is not a nibble of a 32-bit word (0..7)", what, lane,
                      (int)layout->nibble_of[lane]);
    W4A16_FAIL_IF(layout->offset < 0 || layout->offset > max_offset, W4A16_ERR_ARG,
                  "%s offset=%d is outside 0..%d", what, (int)layout->offset, (int)max_offset);
    return W4A16_OK;
}

w4a16_status w4a16_source_validate(const w4a16_source *src) {
    W4A16_FAIL_IF(src == NULL, W4A16_ERR_ARG, "source is NULL");
    W4A16_TRY(w4a16_check_quantized_shape(src->n, src->k, src->group_size));
    W4A16_FAIL_IF(src->qweight == NULL, W4A16_ERR_ARG, "source qweight is NULL");
    W4A16_FAIL_IF(src->scales == NULL, W4A16_ERR_ARG, "source scales is NULL");
    W4A16_TRY(w4a16_check_scales_dtype(src->scales_dtype));
    W4A16_FAIL_IF(src->scales_stride_n < 0 || src->scales_stride_g < 0, W4A16_ERR_ARG,
                  "scales strides (n %lld, g %lld) must not be negative",
                  (long long)src->scales_stride_n, (long long)src->scales_stride_g);
    W4A16_TRY(validate_layout(&src->qweight_layout, "qweight layout", 0));
    /* Zeros may carry GPTQ v1's +1 (z up to 16). */
    if (src->qzeros != NULL) W4A16_TRY(validate_layout(&src->qzeros_layout, "qzeros layout", 1));
    if (src->g_idx == NULL || src->on_device) return W4A16_OK;
    int64_t groups = w4a16_source_groups(src);
    for (int64_t k = 0; k < src->k; k++)
        W4A16_FAIL_IF(src->g_idx[k] < 0 || src->g_idx[k] >= groups, W4A16_ERR_FORMAT,
                      "g_idx[%lld]=%d is not a group (0..%lld)", (long long)k,
                      (int)src->g_idx[k], (long long)groups - 1);
    return W4A16_OK;
}
