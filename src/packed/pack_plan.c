/* The pack plan: shapes and sizes of a packed weight, and the act-order
 * column order, decided on the host. */
#include "pack_plan.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "packed_layout.h"

static w4a16_status check_same(const w4a16_source *first, const w4a16_source *src, int i) {
    W4A16_FAIL_IF(src->k != first->k, W4A16_ERR_SHAPE,
                  "source %d has k=%lld but source 0 has k=%lld: merged sources share K", i,
                  (long long)src->k, (long long)first->k);
    W4A16_FAIL_IF(src->group_size != first->group_size, W4A16_ERR_SHAPE,
                  "source %d has group_size=%lld but source 0 has %lld", i,
                  (long long)src->group_size, (long long)first->group_size);
    W4A16_FAIL_IF(src->scales_dtype != first->scales_dtype, W4A16_ERR_UNSUPPORTED,
                  "source %d has %s scales but source 0 has %s", i,
                  w4a16_dtype_name(src->scales_dtype), w4a16_dtype_name(first->scales_dtype));
    return W4A16_OK;
}

static w4a16_status check_slice(const w4a16_slice *s, int64_t total_n, int64_t k,
                                int64_t group_size) {
    W4A16_FAIL_IF(s->n_begin < 0 || s->n_end > total_n || s->n_begin >= s->n_end, W4A16_ERR_ARG,
                  "slice rows [%lld, %lld) are not a non-empty range inside [0, %lld)",
                  (long long)s->n_begin, (long long)s->n_end, (long long)total_n);
    W4A16_FAIL_IF(s->k_begin < 0 || s->k_end > k || s->k_begin >= s->k_end, W4A16_ERR_ARG,
                  "slice columns [%lld, %lld) are not a non-empty range inside [0, %lld)",
                  (long long)s->k_begin, (long long)s->k_end, (long long)k);
    /* The dequantize reads one scale per pair of neighbouring columns. */
    W4A16_FAIL_IF(group_size > 0 && group_size % 2 != 0, W4A16_ERR_UNSUPPORTED,
                  "group_size=%lld is odd: the packed layout keeps column pairs in one group",
                  (long long)group_size);
    if (group_size > 0)
        W4A16_FAIL_IF(s->k_begin % group_size != 0 || s->k_end % group_size != 0, W4A16_ERR_ARG,
                      "slice columns [%lld, %lld) must be multiples of group_size=%lld",
                      (long long)s->k_begin, (long long)s->k_end, (long long)group_size);
    return W4A16_OK;
}

w4a16_status w4a16_pack_plan_make(const w4a16_source *sources, int n_sources,
                                  const w4a16_slice *slice, w4a16_pack_plan *out) {
    W4A16_FAIL_IF(sources == NULL, W4A16_ERR_ARG, "sources is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "plan is NULL");
    W4A16_FAIL_IF(n_sources < 1 || n_sources > W4A16_PACK_MAX_SOURCES, W4A16_ERR_ARG,
                  "n_sources=%d is outside 1..%d", n_sources, W4A16_PACK_MAX_SOURCES);
    w4a16_pack_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.n_sources = n_sources;
    for (int i = 0; i < n_sources; i++) {
        w4a16_status status = w4a16_source_validate(&sources[i]);
        if (status != W4A16_OK) return w4a16_fail_context(status, "source %d", i);
        W4A16_TRY(check_same(&sources[0], &sources[i], i));
        plan.row_begin[i] = plan.total_n;
        plan.total_n += sources[i].n;
        plan.asymmetric |= sources[i].qzeros != NULL;
        plan.has_g_idx |= sources[i].g_idx != NULL && sources[i].group_size > 0;
    }
    int64_t source_k = sources[0].k;
    w4a16_slice all = {0, plan.total_n, 0, source_k};
    const w4a16_slice *s = slice != NULL ? slice : &all;
    W4A16_TRY(check_slice(s, plan.total_n, source_k, sources[0].group_size));

    plan.n_begin = s->n_begin;
    plan.k_begin = s->k_begin;
    plan.n = s->n_end - s->n_begin;
    plan.k = s->k_end - s->k_begin;
    W4A16_FAIL_IF(plan.n > W4A16_MAX_DIM || plan.k > W4A16_MAX_DIM, W4A16_ERR_UNSUPPORTED,
                  "packed shape n=%lld, k=%lld exceeds 2^30", (long long)plan.n,
                  (long long)plan.k);
    plan.n_padded = w4a16_round_up(plan.n, W4A16_ROW_PAD);
    plan.k_padded = w4a16_round_up(plan.k, W4A16_COL_PAD);
    plan.group_size = sources[0].group_size;
    plan.group_cols = w4a16_group_cols(plan.group_size, plan.k);
    plan.groups = plan.k / plan.group_cols;
    plan.groups_padded = w4a16_packed_groups(plan.group_size, plan.k);
    plan.source_group_cols = w4a16_group_cols(sources[0].group_size, source_k);
    plan.source_groups = source_k / plan.source_group_cols;
    plan.scales_dtype = sources[0].scales_dtype;

    int64_t cells = plan.groups_padded * plan.n_padded;
    plan.sizes.qweight_bytes = (size_t)(plan.n_padded * plan.k_padded / 2);
    plan.sizes.scales_bytes = (size_t)(cells * (w4a16_dtype_bits(plan.scales_dtype) / 8));
    plan.sizes.zeros_bytes = plan.asymmetric ? (size_t)cells : 0;
    plan.sizes.perm_bytes = plan.has_g_idx ? (size_t)plan.k * sizeof(int32_t) : 0;
    *out = plan;
    return W4A16_OK;
}

w4a16_status w4a16_pack_size(const w4a16_source *sources, int n_sources,
                             const w4a16_slice *slice, w4a16_pack_sizes *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    w4a16_pack_plan plan;
    W4A16_TRY(w4a16_pack_plan_make(sources, n_sources, slice, &plan));
    *out = plan.sizes;
    return W4A16_OK;
}

static int slice_is_trivial(const w4a16_pack_plan *plan, const int32_t *g_idx) {
    for (int64_t j = plan->k_begin; j < plan->k_begin + plan->k; j++)
        if (g_idx[j] != j / plan->source_group_cols) return 0;
    return 1;
}

/* Counting sort of the slice's columns by group: stable, O(k + groups). */
w4a16_status w4a16_pack_order(const w4a16_pack_plan *plan, const int32_t *g_idx, int32_t *perm,
                              int32_t *group_of, int *permuted) {
    *permuted = 0;
    if (g_idx == NULL || plan->group_size < 0 || slice_is_trivial(plan, g_idx)) return W4A16_OK;
    int64_t G = plan->source_group_cols;
    int64_t *next = calloc((size_t)plan->source_groups + 1, sizeof *next);
    W4A16_FAIL_IF(next == NULL, W4A16_ERR_NOMEM, "no memory for %lld group counters",
                  (long long)plan->source_groups);
    w4a16_status status = W4A16_OK;
    for (int64_t j = 0; j < plan->k; j++) {
        int32_t g = g_idx[plan->k_begin + j];
        if (g < 0 || g >= plan->source_groups) {
            status = w4a16_fail(W4A16_ERR_FORMAT, "g_idx[%lld]=%d is not a group (0..%lld)",
                                (long long)(plan->k_begin + j), (int)g,
                                (long long)plan->source_groups - 1);
            goto done;
        }
        next[g + 1]++;
    }
    for (int64_t g = 0; g < plan->source_groups; g++) {
        int64_t count = next[g + 1];
        if (count != 0 && count != G) {
            status = w4a16_fail(W4A16_ERR_UNSUPPORTED,
                                "g_idx: group %lld holds %lld of the columns [%lld, %lld), "
                                "but a packed group needs exactly G=%lld",
                                (long long)g, (long long)count, (long long)plan->k_begin,
                                (long long)(plan->k_begin + plan->k), (long long)G);
            goto done;
        }
        next[g + 1] += next[g];
    }
    for (int64_t j = 0; j < plan->k; j++) perm[next[g_idx[plan->k_begin + j]]++] = (int32_t)j;
    for (int64_t pg = 0; pg < plan->groups; pg++)
        group_of[pg] = g_idx[plan->k_begin + perm[pg * G]];
    *permuted = 1;
done:
    free(next);
    return status;
}
