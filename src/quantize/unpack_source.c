/* Any host source back to the canonical unpacked form, exactly: the inverse
 * of the format writers, for converting a checkpoint between formats. */
#include <string.h>

#include "checkpoint/source.h"
#include "common/error.h"
#include "encode.h"
#include "unpacked.h"

w4a16_status w4a16_unpack_source(const w4a16_source *src, w4a16_unpacked *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_TRY(w4a16_source_validate(src));
    W4A16_FAIL_IF(src->on_device, W4A16_ERR_ARG, "cannot unpack a source in device memory");
    int act_order = !w4a16_g_idx_is_trivial(src->g_idx, src->k, src->group_size);
    w4a16_unpacked result = {.n = src->n, .k = src->k, .group_size = src->group_size,
                             .symmetric = src->qzeros == NULL, .scales_dtype = src->scales_dtype};
    W4A16_TRY(w4a16_unpacked_alloc(&result, act_order));
    int64_t groups = w4a16_source_groups(src);
    for (int64_t n = 0; n < src->n; n++) {
        for (int64_t k = 0; k < src->k; k++)
            result.q[n * src->k + k] = (uint8_t)w4a16_source_q(src, n, k);
        for (int64_t g = 0; g < groups; g++) {
            /* F16, BF16 and F32 scales are all exact in float. */
            result.scales[n * groups + g] = (float)w4a16_source_scale(src, n, g);
            if (!result.symmetric) result.zeros[n * groups + g] = (uint8_t)w4a16_source_zero(src, n, g);
        }
    }
    if (act_order) memcpy(result.g_idx, src->g_idx, (size_t)src->k * sizeof *result.g_idx);
    *out = result;
    return W4A16_OK;
}
