/* Any host source back to the canonical unpacked form, exactly: the inverse
 * of the format writers, for converting a checkpoint between formats. Whole
 * words at a time through the layout descriptors (layouts.h). */
#include <string.h>

#include "checkpoint/layouts.h"
#include "checkpoint/source.h"
#include "common/error.h"
#include "encode.h"
#include "unpacked.h"

w4a16_status w4a16_unpack_source_begin(const w4a16_source *src, w4a16_unpacked *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_TRY(w4a16_source_validate(src));
    W4A16_FAIL_IF(src->on_device, W4A16_ERR_ARG, "cannot unpack a source in device memory");
    int act_order = !w4a16_g_idx_is_trivial(src->g_idx, src->k, src->group_size);
    w4a16_unpacked result = {.n = src->n, .k = src->k, .group_size = src->group_size,
                             .symmetric = src->qzeros == NULL, .scales_dtype = src->scales_dtype};
    W4A16_TRY(w4a16_unpacked_alloc(&result, act_order));
    if (act_order) memcpy(result.g_idx, src->g_idx, (size_t)src->k * sizeof *result.g_idx);
    *out = result;
    return W4A16_OK;
}

void w4a16_unpack_source_rows(const w4a16_source *src, int64_t row_begin, int64_t row_end,
                              w4a16_unpacked *out) {
    int64_t groups = w4a16_source_groups(src);
    w4a16_qlayout_unpack_rows(&src->qweight_layout, src->qweight, src->k, row_begin, row_end,
                              out->q, src->k);
    if (!out->symmetric)
        w4a16_qlayout_unpack_rows(&src->qzeros_layout, src->qzeros, groups, row_begin, row_end,
                                  out->zeros, groups);
    /* F16, BF16 and F32 scales are all exact in float. */
    for (int64_t n = row_begin; n < row_end; n++)
        for (int64_t g = 0; g < groups; g++)
            out->scales[n * groups + g] = (float)w4a16_source_scale(src, n, g);
}

w4a16_status w4a16_unpack_source(const w4a16_source *src, w4a16_unpacked *out) {
    W4A16_TRY(w4a16_unpack_source_begin(src, out));
    w4a16_unpack_source_rows(src, 0, src->n, out);
    return W4A16_OK;
}
