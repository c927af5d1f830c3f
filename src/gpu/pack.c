/* w4a16_pack: checkpoint sources -> the packed layout on the GPU
 * (docs/packed-layout.md). The host checks and plans (shapes, act-order
 * order), stages host sources, and one pack launch does the rest on the
 * caller's stream. */
#include <stdlib.h>
#include <string.h>

#include "common/fault.h"
#include "cuda/kernels.h"
#include "gpu/ctx.h"
#include "gpu/cuda_check.h"
#include "gpu/pack_output.h"
#include "gpu/pack_stage.h"
#include "packed/pack_plan.h"
#include "packed/packed_layout.h"
#include "packed/weight_view.h"

/* The act-order column order, on the host. */
typedef struct {
    int permuted;
    int32_t *perm;     /* [k] */
    int32_t *group_of; /* [groups] */
    int32_t *g_idx_copy[W4A16_PACK_MAX_SOURCES];
} pack_order;

static void order_free(pack_order *o) {
    free(o->perm);
    free(o->group_of);
    for (int i = 0; i < W4A16_PACK_MAX_SOURCES; i++) free(o->g_idx_copy[i]);
}

/* Source i's g_idx on the host (NULL if it has none). Device copies are
 * read after the work already queued on the stream. */
static w4a16_status host_g_idx(const w4a16_source *src, cudaStream_t stream, int32_t **copy,
                               const int32_t **out) {
    *out = src->g_idx;
    if (src->g_idx == NULL || !src->on_device) return W4A16_OK;
    size_t bytes = (size_t)src->k * sizeof(int32_t);
    *copy = malloc(bytes);
    W4A16_FAIL_IF(*copy == NULL, W4A16_ERR_NOMEM, "no memory for g_idx (%zu bytes)", bytes);
    CUDA_TRY(cudaMemcpyAsync(*copy, src->g_idx, bytes, cudaMemcpyDeviceToHost, stream));
    CUDA_TRY(cudaStreamSynchronize(stream));
    *out = *copy;
    return W4A16_OK;
}

static int same_g_idx(const int32_t *a, const int32_t *b, int64_t k, int64_t group_cols) {
    for (int64_t j = 0; j < k; j++) {
        int32_t x = a != NULL ? a[j] : (int32_t)(j / group_cols);
        int32_t y = b != NULL ? b[j] : (int32_t)(j / group_cols);
        if (x != y) return 0;
    }
    return 1;
}

static w4a16_status make_order(const w4a16_pack_plan *plan, const w4a16_source *sources,
                               cudaStream_t stream, pack_order *o) {
    if (!plan->has_g_idx) return W4A16_OK;
    const int32_t *g_idx[W4A16_PACK_MAX_SOURCES];
    for (int i = 0; i < plan->n_sources; i++) {
        W4A16_TRY(host_g_idx(&sources[i], stream, &o->g_idx_copy[i], &g_idx[i]));
        W4A16_FAIL_IF(!same_g_idx(g_idx[0], g_idx[i], sources[i].k, plan->source_group_cols),
                      W4A16_ERR_UNSUPPORTED,
                      "source %d's g_idx differs from source 0's: merged act-order sources "
                      "need identical g_idx", i);
    }
    const int32_t *reference = NULL;
    for (int i = 0; i < plan->n_sources && reference == NULL; i++) reference = g_idx[i];
    o->perm = malloc((size_t)plan->k * sizeof(int32_t));
    o->group_of = malloc((size_t)plan->groups * sizeof(int32_t));
    W4A16_FAIL_IF(o->perm == NULL || o->group_of == NULL, W4A16_ERR_NOMEM,
                  "no memory for the act-order permutation (k=%lld)", (long long)plan->k);
    return w4a16_pack_order(plan, reference, o->perm, o->group_of, &o->permuted);
}

static void fill_header(const w4a16_pack_plan *plan, w4a16_dtype act_dtype, w4a16_weight *w) {
    w->n = plan->n;
    w->k = plan->k;
    w->n_padded = plan->n_padded;
    w->k_padded = plan->k_padded;
    w->group_size = plan->group_size;
    w->groups = plan->groups;
    w->groups_padded = plan->groups_padded;
    w->act_dtype = act_dtype;
    w->scales_dtype = plan->scales_dtype;
}

static w4a16_status launch(const w4a16_pack_plan *plan, const w4a16_source *sources,
                           const pack_order *order, w4a16_weight *w, cudaStream_t stream,
                           w4a16_staging *staging) {
    w4a16_pack_args args;
    memset(&args, 0, sizeof args);
    int64_t g_begin = 0, g_end = plan->source_groups;
    if (order->permuted) {
        void *group_of = NULL, *perm = NULL;
        W4A16_TRY(w4a16_stage_copy(staging, order->group_of,
                                   (size_t)plan->groups * sizeof(int32_t), stream, &group_of));
        W4A16_TRY(w4a16_stage_copy(staging, order->perm, (size_t)plan->k * sizeof(int32_t), stream,
                                   &perm));
        args.perm = perm;
        args.perm_out = w->perm;
        args.group_of = group_of;
    } else if (plan->group_size > 0) {
        args.group_base = plan->k_begin / plan->source_group_cols;
        g_begin = args.group_base;
        g_end = g_begin + plan->groups;
    }
    W4A16_TRY(w4a16_stage_sources(plan, sources, g_begin, g_end, stream, staging, &args));
    args.n = plan->n;
    args.k = plan->k;
    args.n_padded = plan->n_padded;
    args.k_padded = plan->k_padded;
    args.groups = plan->groups;
    args.groups_padded = plan->groups_padded;
    args.k_begin = plan->k_begin;
    args.scale_bytes = w4a16_dtype_bits(plan->scales_dtype) / 8;
    args.qweight = w->qweight;
    args.scales = w->scales;
    args.zeros = w->zeros;
    /* The only write into the output, and the last step that can fail: a
     * caller's buffers stay untouched on every error. */
    CUDA_TRY(W4A16_FAULT_OR(W4A16_FAULT_PACK_LAUNCH, cudaErrorLaunchOutOfResources,
                            w4a16_launch_pack(&args, stream)));
    return W4A16_OK;
}

w4a16_status w4a16_pack(w4a16_ctx *ctx, const w4a16_source *sources, int n_sources,
                        const w4a16_slice *slice, w4a16_dtype act_dtype, w4a16_weight *out,
                        w4a16_buffers **owner, w4a16_stream stream) {
    w4a16_pack_plan plan;
    W4A16_TRY(w4a16_pack_check_args(sources, n_sources, slice, act_dtype, out, owner, &plan));
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    int current = -1;
    CUDA_TRY(cudaGetDevice(&current));
    W4A16_FAIL_IF(current != ctx->device, W4A16_ERR_ARG,
                  "the ctx is on device %d but device %d is current", ctx->device, current);
    W4A16_TRY(w4a16_cuda_check_pending("w4a16_pack"));

    cudaStream_t s = (cudaStream_t)stream;
    pack_order order;
    memset(&order, 0, sizeof order);
    w4a16_weight w;
    w4a16_weight_init(&w);
    w4a16_buffers *made = NULL;
    w4a16_staging staging;
    memset(&staging, 0, sizeof staging);
    w4a16_status status = make_order(&plan, sources, s, &order);
    if (status == W4A16_OK)
        status = w4a16_pack_output(&plan, order.permuted, out, owner != NULL, &w, &made);
    if (status == W4A16_OK) status = launch(&plan, sources, &order, &w, s, &staging);
    w4a16_stage_free(&staging, s);
    order_free(&order);
    if (status != W4A16_OK) {
        w4a16_buffers_free(made);
        return status;
    }
    fill_header(&plan, act_dtype, &w);
    *out = w;
    if (owner != NULL) *owner = made;
    return W4A16_OK;
}
