/* w4a16_ctx: creation reads the device and the environment once, and
 * allocates everything w4a16_gemm will need (the workspace unless the caller
 * gives one), so that gemm itself allocates nothing and can be captured in a
 * CUDA graph. */
#include "gpu/ctx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gpu/cuda_check.h"
#include "kernel_plan/decode_plan.h"
#include "kernel_plan/sm90_plan.h"

w4a16_status w4a16_device_count(int *count) {
    W4A16_FAIL_IF(count == NULL, W4A16_ERR_ARG, "count is NULL");
    int devices = 0;
    /* No driver (CI) or no device: cudaGetDeviceCount fails; that is "no GPU". */
    if (cudaGetDeviceCount(&devices) != cudaSuccess) {
        (void)cudaGetLastError();
        devices = 0;
    }
    *count = devices;
    return W4A16_OK;
}

static w4a16_status read_device(w4a16_ctx *ctx, int device) {
    int count = 0;
    W4A16_TRY(w4a16_device_count(&count));
    W4A16_FAIL_IF(count == 0, W4A16_ERR_CUDA, "no CUDA device (or no driver)");
    W4A16_FAIL_IF(device < 0 || device >= count, W4A16_ERR_ARG,
                  "device=%d is outside 0..%d", device, count - 1);
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, device));
    ctx->device = device;
    ctx->sm_major = prop.major;
    ctx->sm_minor = prop.minor;
    ctx->sm_count = prop.multiProcessorCount;
    ctx->l2_bytes = prop.l2CacheSize;
    ctx->smem_per_block_optin = (int64_t)prop.sharedMemPerBlockOptin;
    ctx->smem_per_sm = (int64_t)prop.sharedMemPerMultiprocessor;
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", prop.name);
    W4A16_FAIL_IF(prop.major < 8, W4A16_ERR_CUDA,
                  "device %d (%s) has compute capability %d.%d; w4a16 needs 8.0 or newer",
                  device, prop.name, prop.major, prop.minor);
    return W4A16_OK;
}

/* W4A16_SM90_PLAN=BM,SPLITS, BM,sk (stream-K) or BM,hy (whole rounds, then
 * stream-K): sm90_prefill's plan for every call, for A/B runs of plans.
 * Checked against each call's shape when it runs (w4a16_sm90_plan_make). */
static w4a16_status read_sm90_plan(w4a16_ctx *ctx) {
    const char *plan = getenv("W4A16_SM90_PLAN");
    ctx->sm90_block_m = 0;
    ctx->sm90_splits = 1;
    ctx->sm90_mode = W4A16_SM90_WHOLE;
    if (plan == NULL || plan[0] == '\0') return W4A16_OK;
    char *end = NULL;
    const long block_m = strtol(plan, &end, 10);
    long splits = 1;
    int mode = W4A16_SM90_WHOLE;
    int ok = end != plan && *end == ',';
    if (ok && strcmp(end + 1, "sk") == 0) {
        mode = W4A16_SM90_STREAMK;
    } else if (ok && strcmp(end + 1, "hy") == 0) {
        mode = W4A16_SM90_HYBRID;
    } else if (ok) {
        const char *rest = end + 1;
        splits = strtol(rest, &end, 10);
        ok = end != rest && *end == '\0';
    }
    if (!ok || block_m < 1 || block_m > 256 || splits < 1 || splits > W4A16_SM90_MAX_SPLITS)
        return w4a16_fail(W4A16_ERR_ARG,
                          "W4A16_SM90_PLAN='%s' is not BM,SPLITS, BM,sk or BM,hy (BM a token "
                          "tile, SPLITS 1 to %d)",
                          plan, W4A16_SM90_MAX_SPLITS);
    ctx->sm90_block_m = (int)block_m;
    ctx->sm90_splits = (int)splits;
    ctx->sm90_mode = mode;
    return W4A16_OK;
}

static w4a16_status read_environment(w4a16_ctx *ctx) {
    const char *kernel = getenv("W4A16_KERNEL");
    ctx->forced = W4A16_KERNEL_AUTO;
    ctx->forced_by = W4A16_FORCED_BY_ENV;
    if (kernel != NULL && kernel[0] != '\0') {
        w4a16_status status = w4a16_kernel_parse(kernel, &ctx->forced);
        if (status != W4A16_OK) return w4a16_fail_context(status, "W4A16_KERNEL");
    }
    ctx->log_choices = w4a16_log_enabled();
    const char *split = getenv("W4A16_FALLBACK_SPLIT");
    ctx->fallback_split = W4A16_SPLIT_NONE;
    if (split != NULL && split[0] != '\0') {
        if (strcmp(split, "none") == 0) ctx->fallback_split = W4A16_SPLIT_NONE;
        else if (strcmp(split, "even") == 0) ctx->fallback_split = W4A16_SPLIT_EVEN;
        else if (strcmp(split, "head") != 0)
            return w4a16_fail(W4A16_ERR_ARG,
                              "W4A16_FALLBACK_SPLIT='%s' is not none, even or head", split);
    }
    /* For A/B runs: decode and sm90_prefill launched as ordinary kernels. */
    const char *pdl = getenv("W4A16_PDL");
    ctx->pdl = 1;
    if (pdl != NULL && pdl[0] != '\0') {
        if (strcmp(pdl, "0") != 0 && strcmp(pdl, "1") != 0)
            return w4a16_fail(W4A16_ERR_ARG, "W4A16_PDL='%s' is not 0 or 1", pdl);
        ctx->pdl = pdl[0] == '1';
    }
    /* For A/B runs and tests of the decode kernel's split K. */
    const char *splits = getenv("W4A16_DECODE_SPLITS");
    ctx->decode_splits = 0;
    if (splits != NULL && splits[0] != '\0') {
        char *end = NULL;
        const long value = strtol(splits, &end, 10);
        if (*end != '\0' || value < 1 || value > W4A16_DECODE_MAX_SPLITS)
            return w4a16_fail(W4A16_ERR_ARG, "W4A16_DECODE_SPLITS='%s' is not a number from 1 to %d",
                              splits, W4A16_DECODE_MAX_SPLITS);
        ctx->decode_splits = (int)value;
    }
    return read_sm90_plan(ctx);
}

static w4a16_status allocate(w4a16_ctx *ctx, size_t workspace_bytes) {
    if (workspace_bytes > 0) {
        W4A16_TRY(w4a16_device_alloc(&ctx->workspace, workspace_bytes, "the ctx workspace"));
        ctx->workspace_bytes = workspace_bytes;
        ctx->workspace_owned = 1;
    }
    W4A16_TRY(w4a16_device_alloc(&ctx->cublas_workspace, W4A16_CUBLAS_WORKSPACE_BYTES,
                                 "cuBLAS's workspace"));
    /* Zeroed once here, and synchronously: the kernels keep them zero. */
    const size_t counter_bytes = (size_t)W4A16_SM90_MAX_COUNTED_TILES * 2 * sizeof(int32_t);
    W4A16_TRY(w4a16_device_alloc((void **)&ctx->tile_counters, counter_bytes,
                                 "the Hopper kernel's tile counters"));
    CUDA_TRY(cudaMemset(ctx->tile_counters, 0, counter_bytes));
    CUDA_TRY(cudaDeviceSynchronize());
    CUBLAS_TRY(cublasLtCreate(&ctx->cublaslt));
    /* The side stream dequantizes the next chunk beside a GEMM that fills the
     * GPU: its blocks go first whenever the GEMM frees an SM. */
    int least_priority = 0, greatest_priority = 0;
    CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least_priority, &greatest_priority));
    CUDA_TRY(cudaStreamCreateWithPriority(&ctx->side_stream, cudaStreamNonBlocking,
                                          greatest_priority));
    CUDA_TRY(cudaEventCreateWithFlags(&ctx->fork, cudaEventDisableTiming));
    for (int b = 0; b < 2; b++) {
        CUDA_TRY(cudaEventCreateWithFlags(&ctx->chunk_ready[b], cudaEventDisableTiming));
        CUDA_TRY(cudaEventCreateWithFlags(&ctx->chunk_used[b], cudaEventDisableTiming));
    }
    return W4A16_OK;
}

/* A caller's workspace: 256-byte aligned device memory of `device` (not
 * checked when bytes is 0: then it is never used). */
static w4a16_status check_workspace(int device, const void *workspace, size_t bytes) {
    if (bytes == 0) return W4A16_OK;
    W4A16_FAIL_IF(workspace == NULL, W4A16_ERR_ARG, "workspace is NULL but bytes=%zu", bytes);
    W4A16_FAIL_IF((uintptr_t)workspace % W4A16_WORKSPACE_ALIGN != 0, W4A16_ERR_ARG,
                  "workspace=%p is not %d-byte aligned", workspace, W4A16_WORKSPACE_ALIGN);
    struct cudaPointerAttributes attributes;
    CUDA_TRY(cudaPointerGetAttributes(&attributes, workspace));
    W4A16_FAIL_IF(attributes.type != cudaMemoryTypeDevice &&
                      attributes.type != cudaMemoryTypeManaged,
                  W4A16_ERR_ARG, "workspace=%p is not device memory", workspace);
    W4A16_FAIL_IF(attributes.device != device, W4A16_ERR_ARG,
                  "workspace=%p is memory of device %d, not of the ctx's device %d", workspace,
                  attributes.device, device);
    return W4A16_OK;
}

/* Creates a ctx on `device` with workspace_bytes of its own workspace, or
 * the caller's (caller_workspace set). */
static w4a16_status create(int device, size_t workspace_bytes, int caller_workspace,
                           void *workspace, w4a16_ctx **out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    /* calloc: the remembered decode plans and cuBLASLt algorithms start empty. */
    w4a16_ctx *ctx = calloc(1, sizeof *ctx);
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_NOMEM, "no memory for a w4a16_ctx");
    int previous = -1;
    w4a16_status status = read_device(ctx, device);
    if (status == W4A16_OK) status = read_environment(ctx);
    if (status == W4A16_OK && caller_workspace)
        status = check_workspace(device, workspace, workspace_bytes);
    if (status == W4A16_OK) {
        /* Allocate on `device`, then give the caller back its current device. */
        CUDA_TRY_GOTO(status, cudaGetDevice(&previous), fail);
        CUDA_TRY_GOTO(status, cudaSetDevice(device), fail);
        status = allocate(ctx, caller_workspace ? 0 : workspace_bytes);
        CUDA_TRY_GOTO(status, cudaSetDevice(previous), fail);
    }
    if (status != W4A16_OK) goto fail;
    if (caller_workspace) {
        ctx->workspace = workspace_bytes > 0 ? workspace : NULL;
        ctx->workspace_bytes = workspace_bytes;
    }
    *out = ctx;
    return W4A16_OK;
fail:
    w4a16_ctx_destroy(ctx);
    return status;
}

w4a16_status w4a16_ctx_create(int device, size_t workspace_bytes, w4a16_ctx **out) {
    return create(device, workspace_bytes ? workspace_bytes : W4A16_DEFAULT_WORKSPACE_BYTES, 0,
                  NULL, out);
}

w4a16_status w4a16_ctx_create_with_workspace(int device, void *workspace, size_t bytes,
                                             w4a16_ctx **out) {
    return create(device, bytes, 1, workspace, out);
}

w4a16_status w4a16_ctx_set_workspace(w4a16_ctx *ctx, void *workspace, size_t bytes) {
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    W4A16_TRY(check_workspace(ctx->device, workspace, bytes));
    if (ctx->workspace_owned) CUDA_TRY(cudaFree(ctx->workspace)); /* waits for its work */
    ctx->workspace = bytes > 0 ? workspace : NULL;
    ctx->workspace_bytes = bytes;
    ctx->workspace_owned = 0;
    return W4A16_OK;
}

w4a16_status w4a16_ctx_set_kernel(w4a16_ctx *ctx, const char *name) {
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    W4A16_FAIL_IF(name == NULL, W4A16_ERR_ARG, "kernel name is NULL");
    W4A16_TRY(w4a16_kernel_parse(name, &ctx->forced));
    ctx->forced_by = W4A16_FORCED_BY_API;
    return W4A16_OK;
}

w4a16_status w4a16_ctx_set_batch_invariant(w4a16_ctx *ctx, int on) {
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_ARG, "ctx is NULL");
    W4A16_FAIL_IF(on != 0 && on != 1, W4A16_ERR_ARG, "on=%d is not 0 or 1", on);
    ctx->batch_invariant = on;
    return W4A16_OK;
}

void w4a16_ctx_destroy(w4a16_ctx *ctx) {
    if (ctx == NULL) return;
    if (ctx->side_stream != NULL) w4a16_cuda_cleanup(cudaStreamSynchronize(ctx->side_stream));
    for (int b = 0; b < 2; b++) {
        if (ctx->chunk_ready[b] != NULL) w4a16_cuda_cleanup(cudaEventDestroy(ctx->chunk_ready[b]));
        if (ctx->chunk_used[b] != NULL) w4a16_cuda_cleanup(cudaEventDestroy(ctx->chunk_used[b]));
    }
    if (ctx->fork != NULL) w4a16_cuda_cleanup(cudaEventDestroy(ctx->fork));
    if (ctx->side_stream != NULL) w4a16_cuda_cleanup(cudaStreamDestroy(ctx->side_stream));
    if (ctx->cublaslt != NULL) cublasLtDestroy(ctx->cublaslt);
    /* cudaFree waits for work still using the buffers. */
    w4a16_cuda_cleanup(cudaFree(ctx->cublas_workspace));
    w4a16_cuda_cleanup(cudaFree(ctx->tile_counters));
    if (ctx->workspace_owned) w4a16_cuda_cleanup(cudaFree(ctx->workspace));
    free(ctx);
}
