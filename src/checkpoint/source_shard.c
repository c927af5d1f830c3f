/* w4a16_source_shard: one rank's part of a quantized layer for tensor
 * parallelism, as a view that moves the source's pointers (docs/DESIGN.md
 * §9). Packing the view stages only that part on the device, so no rank
 * ever holds the whole layer there. */
#include <stdlib.h>

#include "checkpoint/source.h"
#include "common/error.h"

/* One rank's rows of W (column-parallel) or columns (row-parallel). */
typedef struct {
    int64_t begin, end;
} range;

static w4a16_status check_shard(const w4a16_shard *shard) {
    W4A16_FAIL_IF(shard == NULL, W4A16_ERR_ARG, "shard is NULL");
    W4A16_FAIL_IF(shard->world < 1, W4A16_ERR_ARG, "shard world=%d must be at least 1",
                  (int)shard->world);
    W4A16_FAIL_IF(shard->rank < 0 || shard->rank >= shard->world, W4A16_ERR_ARG,
                  "shard rank=%d is outside 0..%d (world=%d)", (int)shard->rank,
                  (int)shard->world - 1, (int)shard->world);
    W4A16_FAIL_IF(shard->parallel != W4A16_COLUMN_PARALLEL && shard->parallel != W4A16_ROW_PARALLEL,
                  W4A16_ERR_ARG,
                  "shard parallel=%d is neither W4A16_COLUMN_PARALLEL (1) nor "
                  "W4A16_ROW_PARALLEL (2)", (int)shard->parallel);
    return W4A16_OK;
}

/* The rank's equal share of `extent` (n or k), which world must divide. */
static w4a16_status share_of(const w4a16_shard *shard, int64_t extent, const char *what,
                             range *out) {
    W4A16_FAIL_IF(extent % shard->world != 0, W4A16_ERR_SHAPE,
                  "%s=%lld is not a multiple of world=%d: ranks take equal parts", what,
                  (long long)extent, (int)shard->world);
    int64_t part = extent / shard->world;
    out->begin = part * shard->rank;
    out->end = out->begin + part;
    return W4A16_OK;
}

/* Moves a 4-bit tensor's pointer `start` values along one axis (ALONG_N:
 * rows; ALONG_K: columns, or groups for zeros; `unit` names them). Where a
 * word holds 8 values along that axis, every rank's start must be a
 * multiple of 8, so its part must be: checked for every rank alike, so that
 * no rank packs while another fails. */
static w4a16_status move_words(const int32_t **words, const w4a16_qlayout *layout, int32_t axis,
                               int64_t start, int64_t part, const char *tensor,
                               const char *unit) {
    int64_t stride = axis == W4A16_PACKED_ALONG_N ? layout->stride_n : layout->stride_k;
    if (layout->packed_axis == axis) {
        W4A16_FAIL_IF(part % 8 != 0, W4A16_ERR_SHAPE,
                      "a rank's part is %lld %ss, not a multiple of 8, and %s holds 8 %ss in a "
                      "word", (long long)part, unit, tensor, unit);
        start /= 8;
    }
    *words += start * stride;
    return W4A16_OK;
}

static void move_scales(w4a16_source *s, int64_t n0, int64_t g0) {
    int64_t elements = n0 * s->scales_stride_n + g0 * s->scales_stride_g;
    s->scales = (const char *)s->scales + elements * (w4a16_dtype_bits(s->scales_dtype) / 8);
}

static w4a16_status shard_column_parallel(const w4a16_source *src, const w4a16_shard *shard,
                                          w4a16_source *s) {
    range rows = {0, 0};
    W4A16_TRY(share_of(shard, src->n, "n", &rows));
    int64_t part = rows.end - rows.begin;
    W4A16_TRY(move_words(&s->qweight, &src->qweight_layout, W4A16_PACKED_ALONG_N, rows.begin,
                         part, "qweight", "row"));
    if (s->qzeros != NULL)
        W4A16_TRY(move_words(&s->qzeros, &src->qzeros_layout, W4A16_PACKED_ALONG_N, rows.begin,
                             part, "qzeros", "row"));
    move_scales(s, rows.begin, 0);
    s->n = part; /* g_idx is per column: K is whole */
    return W4A16_OK;
}

/* The first group of an act-order g_idx whose columns fall in two ranks'
 * ranges (each rank holds `part` columns): *split = -1 when none does. */
static w4a16_status find_split_group(const w4a16_source *src, int64_t part, int64_t *split,
                                     int64_t *col_a, int64_t *col_b) {
    int64_t groups = w4a16_source_groups(src);
    int64_t *first_col = malloc((size_t)groups * sizeof *first_col);
    W4A16_FAIL_IF(first_col == NULL, W4A16_ERR_NOMEM, "no memory for %lld group entries",
                  (long long)groups);
    for (int64_t g = 0; g < groups; g++) first_col[g] = -1;
    *split = -1;
    for (int64_t k = 0; k < src->k && *split < 0; k++) {
        int64_t g = src->g_idx[k];
        if (first_col[g] < 0) {
            first_col[g] = k;
        } else if (first_col[g] / part != k / part) {
            *split = g, *col_a = first_col[g], *col_b = k;
        }
    }
    free(first_col);
    return W4A16_OK;
}

/* A row shard keeps no g_idx: it must be k / G (then the moved scales line
 * up), else the layer is act-order and refused, for every rank alike. */
static w4a16_status check_row_g_idx(const w4a16_source *src, int64_t part) {
    if (src->g_idx == NULL) return W4A16_OK;
    W4A16_FAIL_IF(src->on_device, W4A16_ERR_UNSUPPORTED,
                  "g_idx is device memory: a row shard reads it on the host");
    if (w4a16_g_idx_is_trivial(src->g_idx, src->k, src->group_size)) return W4A16_OK;
    int64_t split = -1, col_a = 0, col_b = 0;
    W4A16_TRY(find_split_group(src, part, &split, &col_a, &col_b));
    W4A16_FAIL_IF(split >= 0, W4A16_ERR_UNSUPPORTED,
                  "act-order (g_idx): group %lld has columns in the K ranges of rank %lld "
                  "(k=%lld) and rank %lld (k=%lld), and packed layout v1 keys each group to "
                  "group_size=%lld consecutive sorted columns, so no rank can hold part of a "
                  "group", (long long)split, (long long)(col_a / part), (long long)col_a,
                  (long long)(col_b / part), (long long)col_b, (long long)src->group_size);
    return w4a16_fail(W4A16_ERR_UNSUPPORTED,
                      "act-order (g_idx): each group lies in one rank's K range, but g_idx is "
                      "not k / group_size there, and a shard view cannot renumber it");
}

static w4a16_status shard_row_parallel(const w4a16_source *src, const w4a16_shard *shard,
                                       w4a16_source *s) {
    range cols = {0, 0};
    W4A16_TRY(share_of(shard, src->k, "k", &cols));
    int64_t part = cols.end - cols.begin;
    W4A16_FAIL_IF(src->group_size > 0 && part % src->group_size != 0, W4A16_ERR_SHAPE,
                  "k/world=%lld is not a multiple of group_size=%lld: a rank's columns must "
                  "hold whole groups", (long long)part, (long long)src->group_size);
    W4A16_TRY(check_row_g_idx(src, part));
    int64_t g0 = src->group_size < 0 ? 0 : cols.begin / src->group_size;
    int64_t groups = src->group_size < 0 ? 1 : part / src->group_size;
    W4A16_TRY(move_words(&s->qweight, &src->qweight_layout, W4A16_PACKED_ALONG_K, cols.begin,
                         part, "qweight", "column"));
    if (s->qzeros != NULL)
        W4A16_TRY(move_words(&s->qzeros, &src->qzeros_layout, W4A16_PACKED_ALONG_K, g0, groups,
                             "qzeros", "group"));
    move_scales(s, 0, g0); /* per-channel: the one group's scale serves every rank */
    s->k = part;
    s->g_idx = NULL;
    return W4A16_OK;
}

w4a16_status w4a16_source_shard(const w4a16_source *src, const w4a16_shard *shard,
                                w4a16_source *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_TRY(check_shard(shard));
    W4A16_TRY(w4a16_source_validate(src));
    w4a16_source s = *src;
    if (shard->world == 1) { /* the whole layer, as it is */
        *out = s;
        return W4A16_OK;
    }
    int column = shard->parallel == W4A16_COLUMN_PARALLEL;
    w4a16_status status = column ? shard_column_parallel(src, shard, &s)
                                 : shard_row_parallel(src, shard, &s);
    if (status != W4A16_OK)
        return w4a16_fail_context(status, "%s-parallel shard, rank %d of %d",
                                  column ? "column" : "row", (int)shard->rank, (int)shard->world);
    *out = s;
    return W4A16_OK;
}
