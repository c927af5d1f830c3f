/* w4a16_ctx: creation reads the device and the environment once, and
 * allocates everything w4a16_gemm will need, so that gemm itself allocates
 * nothing and can be captured in a CUDA graph. */
#include "gpu/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gpu/cuda_check.h"
#include "kernel_plan/decode_plan.h"

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

static w4a16_status read_environment(w4a16_ctx *ctx) {
    const char *kernel = getenv("W4A16_KERNEL");
    ctx->forced = W4A16_KERNEL_AUTO;
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
    return W4A16_OK;
}

static w4a16_status allocate(w4a16_ctx *ctx, size_t workspace_bytes) {
    ctx->workspace_bytes = workspace_bytes;
    W4A16_TRY(w4a16_device_alloc(&ctx->workspace, workspace_bytes, "the ctx workspace"));
    W4A16_TRY(w4a16_device_alloc(&ctx->cublas_workspace, W4A16_CUBLAS_WORKSPACE_BYTES,
                                 "cuBLAS's workspace"));
    CUBLAS_TRY(cublasCreate(&ctx->cublas));
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

w4a16_status w4a16_ctx_create(int device, size_t workspace_bytes, w4a16_ctx **out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    w4a16_ctx *ctx = calloc(1, sizeof *ctx);
    W4A16_FAIL_IF(ctx == NULL, W4A16_ERR_NOMEM, "no memory for a w4a16_ctx");
    int previous = -1;
    w4a16_status status = read_device(ctx, device);
    if (status == W4A16_OK) status = read_environment(ctx);
    if (status == W4A16_OK) {
        /* Allocate on `device`, then give the caller back its current device. */
        CUDA_TRY_GOTO(status, cudaGetDevice(&previous), fail);
        CUDA_TRY_GOTO(status, cudaSetDevice(device), fail);
        status = allocate(ctx, workspace_bytes ? workspace_bytes : W4A16_DEFAULT_WORKSPACE_BYTES);
        CUDA_TRY_GOTO(status, cudaSetDevice(previous), fail);
    }
    if (status != W4A16_OK) goto fail;
    *out = ctx;
    return W4A16_OK;
fail:
    w4a16_ctx_destroy(ctx);
    return status;
}

void w4a16_ctx_destroy(w4a16_ctx *ctx) {
    if (ctx == NULL) return;
    if (ctx->side_stream != NULL) cudaStreamSynchronize(ctx->side_stream);
    for (int b = 0; b < 2; b++) {
        if (ctx->chunk_ready[b] != NULL) cudaEventDestroy(ctx->chunk_ready[b]);
        if (ctx->chunk_used[b] != NULL) cudaEventDestroy(ctx->chunk_used[b]);
    }
    if (ctx->fork != NULL) cudaEventDestroy(ctx->fork);
    if (ctx->side_stream != NULL) cudaStreamDestroy(ctx->side_stream);
    if (ctx->cublas != NULL) cublasDestroy(ctx->cublas);
    /* cudaFree waits for work still using the buffers. */
    cudaFree(ctx->cublas_workspace);
    cudaFree(ctx->workspace);
    (void)cudaGetLastError();
    free(ctx);
}
