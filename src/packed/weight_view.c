/* w4a16_weight_init and the checks of a weight view (see weight_view.h). */
#include "packed/weight_view.h"

#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "packed/packed_layout.h"

void w4a16_weight_init(w4a16_weight *w) {
    if (w == NULL) return;
    memset(w, 0, sizeof *w);
    w->struct_size = (uint32_t)sizeof *w;
    w->version = W4A16_PACKED_VERSION;
}

w4a16_status w4a16_weight_check_struct(const w4a16_weight *w, const char *name) {
    /* One struct size so far; a later header that appends fields keeps
     * accepting this one (fields past it read as absent). */
    W4A16_FAIL_IF(w->struct_size != sizeof *w, W4A16_ERR_UNSUPPORTED,
                  "%s->struct_size=%u is not %zu, the size of w4a16_weight this library knows "
                  "(call w4a16_weight_init first)",
                  name, (unsigned)w->struct_size, sizeof *w);
    for (size_t i = 0; i < sizeof w->reserved / sizeof w->reserved[0]; i++)
        W4A16_FAIL_IF(w->reserved[i] != 0, W4A16_ERR_ARG, "%s->reserved[%zu]=%llu is not zero",
                      name, i, (unsigned long long)w->reserved[i]);
    return W4A16_OK;
}

/* What the byte counts are measured against, for the messages. */
typedef struct {
    const char *name; /* "w" or "out" */
    int64_t n, k, group_size;
    w4a16_dtype scales_dtype;
} buffer_owner;

static w4a16_status check_buffer(const buffer_owner *o, const char *field, const void *ptr,
                                 size_t bytes, int64_t need, int align) {
    W4A16_FAIL_IF(ptr == NULL, W4A16_ERR_ARG, "%s->%s is NULL (%lld bytes needed)", o->name,
                  field, (long long)need);
    W4A16_FAIL_IF((uintptr_t)ptr % (uintptr_t)align != 0, W4A16_ERR_ARG,
                  "%s->%s=%p is not %d-byte aligned", o->name, field, ptr, align);
    W4A16_FAIL_IF((uint64_t)bytes < (uint64_t)need, W4A16_ERR_ARG,
                  "%s->%s_bytes=%zu is less than the %lld bytes n=%lld, k=%lld, group_size=%lld "
                  "with %s scales need",
                  o->name, field, bytes, (long long)need, (long long)o->n, (long long)o->k,
                  (long long)o->group_size, w4a16_dtype_name(o->scales_dtype));
    return W4A16_OK;
}

static w4a16_status check_header(const w4a16_weight *w) {
    W4A16_FAIL_IF(w->version != W4A16_PACKED_VERSION, W4A16_ERR_UNSUPPORTED,
                  "packed layout version %d; this library reads version %d", (int)w->version,
                  W4A16_PACKED_VERSION);
    W4A16_FAIL_IF(w->act_dtype != W4A16_F16 && w->act_dtype != W4A16_BF16, W4A16_ERR_ARG,
                  "w->act_dtype %s is not F16 or BF16", w4a16_dtype_name(w->act_dtype));
    W4A16_FAIL_IF(w->scales_dtype != W4A16_F16 && w->scales_dtype != W4A16_BF16 &&
                      w->scales_dtype != W4A16_F32,
                  W4A16_ERR_ARG, "w->scales_dtype %s is not F16, BF16 or F32",
                  w4a16_dtype_name(w->scales_dtype));
    /* Bounded first, so that the padded sizes below cannot overflow. */
    W4A16_FAIL_IF(w->n <= 0 || w->k <= 0 || w->n > W4A16_MAX_DIM || w->k > W4A16_MAX_DIM,
                  W4A16_ERR_ARG, "w's shape n=%lld, k=%lld is outside 1..2^30", (long long)w->n,
                  (long long)w->k);
    W4A16_FAIL_IF(w->n_padded != w4a16_round_up(w->n, W4A16_ROW_PAD) ||
                      w->k_padded != w4a16_round_up(w->k, W4A16_COL_PAD),
                  W4A16_ERR_ARG,
                  "w's shape n=%lld (padded %lld), k=%lld (padded %lld) is inconsistent",
                  (long long)w->n, (long long)w->n_padded, (long long)w->k, (long long)w->k_padded);
    W4A16_FAIL_IF(w->group_size == 0 || w->group_size < -1 ||
                      (w->group_size > 0 && w->k % w->group_size != 0) ||
                      w->groups != w->k / w4a16_group_cols(w->group_size, w->k) ||
                      w->groups_padded != w4a16_packed_groups(w->group_size, w->k),
                  W4A16_ERR_ARG,
                  "w's groups (group_size=%lld, groups=%lld, padded %lld) do not fit k=%lld",
                  (long long)w->group_size, (long long)w->groups, (long long)w->groups_padded,
                  (long long)w->k);
    return W4A16_OK;
}

w4a16_status w4a16_weight_check(const w4a16_weight *w) {
    W4A16_FAIL_IF(w == NULL, W4A16_ERR_ARG, "w is NULL");
    W4A16_TRY(w4a16_weight_check_struct(w, "w"));
    W4A16_TRY(check_header(w));
    const buffer_owner o = {"w", w->n, w->k, w->group_size, w->scales_dtype};
    const int64_t cells = w->groups_padded * w->n_padded;
    W4A16_TRY(check_buffer(&o, "qweight", w->qweight, w->qweight_bytes,
                           w->n_padded * w->k_padded / 2, W4A16_BUFFER_ALIGN));
    W4A16_TRY(check_buffer(&o, "scales", w->scales, w->scales_bytes,
                           cells * (w4a16_dtype_bits(w->scales_dtype) / 8), W4A16_BUFFER_ALIGN));
    if (w->zeros != NULL) /* NULL: symmetric */
        W4A16_TRY(check_buffer(&o, "zeros", w->zeros, w->zeros_bytes, cells, W4A16_BUFFER_ALIGN));
    if (w->perm != NULL) /* NULL: no act-order */
        W4A16_TRY(check_buffer(&o, "perm", w->perm, w->perm_bytes,
                               w->k * (int64_t)sizeof(int32_t), W4A16_PERM_ALIGN));
    return W4A16_OK;
}

static w4a16_status check_pack_buffers(const w4a16_pack_plan *plan, const w4a16_weight *out) {
    const buffer_owner o = {"out", plan->n, plan->k, plan->group_size, plan->scales_dtype};
    const w4a16_pack_sizes *need = &plan->sizes;
    W4A16_TRY(check_buffer(&o, "qweight", out->qweight, out->qweight_bytes,
                           (int64_t)need->qweight_bytes, W4A16_BUFFER_ALIGN));
    W4A16_TRY(check_buffer(&o, "scales", out->scales, out->scales_bytes,
                           (int64_t)need->scales_bytes, W4A16_BUFFER_ALIGN));
    if (plan->asymmetric)
        W4A16_TRY(check_buffer(&o, "zeros", out->zeros, out->zeros_bytes,
                               (int64_t)need->zeros_bytes, W4A16_BUFFER_ALIGN));
    if (plan->has_g_idx && out->perm != NULL)
        W4A16_TRY(check_buffer(&o, "perm", out->perm, out->perm_bytes,
                               (int64_t)need->perm_bytes, W4A16_PERM_ALIGN));
    return W4A16_OK;
}

w4a16_status w4a16_pack_check_args(const w4a16_source *sources, int n_sources,
                                   const w4a16_slice *slice, w4a16_dtype act_dtype,
                                   const w4a16_weight *out, w4a16_buffers *const *owner,
                                   w4a16_pack_plan *plan) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    W4A16_FAIL_IF(act_dtype != W4A16_F16 && act_dtype != W4A16_BF16, W4A16_ERR_ARG,
                  "act_dtype %s is not F16 or BF16", w4a16_dtype_name(act_dtype));
    W4A16_TRY(w4a16_pack_plan_make(sources, n_sources, slice, plan));
    W4A16_TRY(w4a16_weight_check_struct(out, "out"));
    if (owner == NULL) {
        W4A16_FAIL_IF(out->qweight == NULL, W4A16_ERR_ARG,
                      "out->qweight is NULL and owner is NULL: give the buffers (qweight needs "
                      "%zu bytes), or an owner for the library to allocate them",
                      plan->sizes.qweight_bytes);
        W4A16_TRY(check_pack_buffers(plan, out));
    }
    return W4A16_OK;
}
