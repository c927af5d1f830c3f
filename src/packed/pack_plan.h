/* What packing a list of sources (concatenated along N, then sliced) will
 * produce: shapes, groups and buffer sizes, checked on the host before
 * anything touches the device. Also the act-order column order. Host only:
 * compiled in every build (w4a16_pack_size lives here). */
#ifndef W4A16_PACKED_PACK_PLAN_H
#define W4A16_PACKED_PACK_PLAN_H

#include "w4a16.h"

/* The largest packed n or k: kernels index columns and rows with 32-bit ints
 * inside a tile row. */
#define W4A16_MAX_DIM (INT64_C(1) << 30)

typedef struct {
    int n_sources;
    int64_t row_begin[W4A16_PACK_MAX_SOURCES]; /* first concatenated row of each source */
    int64_t total_n;          /* rows of the concatenation */
    int64_t n_begin, k_begin; /* the slice's origin in the concatenation */
    int64_t n, k;             /* the packed result */
    int64_t n_padded, k_padded;
    int64_t group_size;       /* the result's: -1 per-channel */
    int64_t group_cols;       /* the result's columns per group (k when per-channel) */
    int64_t groups, groups_padded;
    int64_t source_group_cols; /* the sources' G (their k when per-channel) */
    int64_t source_groups;
    int asymmetric;           /* some source has zeros: the result keeps a zeros array */
    int has_g_idx;            /* some source carries g_idx: perm reserved */
    w4a16_dtype scales_dtype;
    w4a16_pack_sizes sizes;
} w4a16_pack_plan;

/* Validates the sources and the slice and fills the plan. */
w4a16_status w4a16_pack_plan_make(const w4a16_source *sources, int n_sources,
                                  const w4a16_slice *slice, w4a16_pack_plan *out);

/* The packed column order from a host copy of the sources' g_idx (source
 * columns; NULL = trivial). Sets *permuted = 0 when the slice needs no
 * permutation. Otherwise perm[j] (j < plan->k) is the slice column of packed
 * column j (a stable sort by group) and group_of[pg] (pg < plan->groups) the
 * source group of packed group pg; W4A16_ERR_UNSUPPORTED, naming g_idx, when a
 * group does not hold exactly G columns of the slice. */
w4a16_status w4a16_pack_order(const w4a16_pack_plan *plan, const int32_t *g_idx, int32_t *perm,
                              int32_t *group_of, int *permuted);

#endif
