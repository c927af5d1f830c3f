/* Allocation, checks and release of the canonical unpacked weight. */
#include "unpacked.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/source.h"
#include "common/dtype.h"
#include "common/error.h"

int64_t w4a16_unpacked_groups(const w4a16_unpacked *w) {
    return w->group_size < 0 ? 1 : w->k / w->group_size;
}

w4a16_status w4a16_unpacked_alloc(w4a16_unpacked *w, int with_g_idx) {
    int64_t groups = w4a16_unpacked_groups(w);
    w->q = malloc((size_t)(w->n * w->k));
    w->scales = malloc((size_t)(w->n * groups) * sizeof(float));
    w->zeros = w->symmetric ? NULL : malloc((size_t)(w->n * groups));
    w->g_idx = with_g_idx ? malloc((size_t)w->k * sizeof(int32_t)) : NULL;
    if (w->q == NULL || w->scales == NULL || (!w->symmetric && w->zeros == NULL) ||
        (with_g_idx && w->g_idx == NULL)) {
        w4a16_unpacked_free(w);
        return w4a16_fail(W4A16_ERR_NOMEM, "cannot allocate an unpacked %lld x %lld weight",
                          (long long)w->n, (long long)w->k);
    }
    return W4A16_OK;
}

void w4a16_unpacked_free(w4a16_unpacked *w) {
    if (w == NULL) return;
    free(w->q);
    free(w->zeros);
    free(w->scales);
    free(w->g_idx);
    memset(w, 0, sizeof *w);
}

w4a16_status w4a16_unpacked_check_header(const w4a16_unpacked *w) {
    W4A16_FAIL_IF(w == NULL, W4A16_ERR_ARG, "unpacked weight is NULL");
    W4A16_TRY(w4a16_check_quantized_shape(w->n, w->k, w->group_size));
    W4A16_FAIL_IF(w->q == NULL || w->scales == NULL, W4A16_ERR_ARG,
                  "unpacked weight has no q or scales");
    W4A16_FAIL_IF(!w->symmetric && w->zeros == NULL, W4A16_ERR_ARG,
                  "asymmetric unpacked weight has no zeros");
    W4A16_TRY(w4a16_check_scales_dtype(w->scales_dtype));
    int64_t groups = w4a16_unpacked_groups(w);
    if (w->g_idx != NULL)
        for (int64_t k = 0; k < w->k; k++)
            W4A16_FAIL_IF(w->g_idx[k] < 0 || w->g_idx[k] >= groups, W4A16_ERR_ARG,
                          "g_idx[%lld]=%d is not a group (0..%lld)", (long long)k,
                          (int)w->g_idx[k], (long long)groups - 1);
    return W4A16_OK;
}

w4a16_status w4a16_unpacked_check_rows(const w4a16_unpacked *w, int64_t row_begin, int64_t row_end) {
    int64_t groups = w4a16_unpacked_groups(w);
    for (int64_t n = row_begin; n < row_end; n++) {
        const uint8_t *q = w->q + n * w->k;
        /* Any high nibble set, eight values at a time. */
        uint64_t high = 0;
        int64_t k8 = w->k / 8 * 8;
        for (int64_t k = 0; k < k8; k += 8) {
            uint64_t eight;
            memcpy(&eight, q + k, 8);
            high |= eight;
        }
        for (int64_t k = k8; k < w->k; k++) high |= q[k];
        for (int64_t k = 0; (high & UINT64_C(0xf0f0f0f0f0f0f0f0)) != 0 && k < w->k; k++)
            W4A16_FAIL_IF(q[k] > 15, W4A16_ERR_ARG, "q[%lld, %lld]=%d is not a 4-bit value",
                          (long long)n, (long long)k, (int)q[k]);
        for (int64_t g = 0; g < groups; g++) {
            float scale = w->scales[n * groups + g];
            W4A16_FAIL_IF(!isfinite(scale) || w4a16_round_to_dtype(scale, w->scales_dtype) != scale,
                          W4A16_ERR_ARG, "scale[%lld, %lld]=%g is not a finite %s value",
                          (long long)n, (long long)g, (double)scale,
                          w4a16_dtype_name(w->scales_dtype));
            W4A16_FAIL_IF(!w->symmetric && w->zeros[n * groups + g] > 16, W4A16_ERR_ARG,
                          "zero[%lld, %lld]=%d is outside 0..16", (long long)n, (long long)g,
                          (int)w->zeros[n * groups + g]);
        }
    }
    return W4A16_OK;
}

w4a16_status w4a16_unpacked_validate(const w4a16_unpacked *w) {
    W4A16_TRY(w4a16_unpacked_check_header(w));
    return w4a16_unpacked_check_rows(w, 0, w->n);
}
