/* The context behind w4a16_ctx: a cuBLAS handle with its own workspace, the
 * library's workspace, a second stream and the events that join it to the
 * caller's stream, the device's properties, and the settings read from the
 * environment once at creation. */
#ifndef W4A16_GPU_CTX_H
#define W4A16_GPU_CTX_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "gpu/dispatch.h"
#include "kernel_plan/decode_plan.h"

enum {
    W4A16_DEFAULT_WORKSPACE_BYTES = 64 << 20,
    /* cuBLAS's own workspace, set on the handle each call so that graph capture never
     * makes it allocate; 32 MiB is what cuBLAS itself takes by default on Hopper. */
    W4A16_CUBLAS_WORKSPACE_BYTES = 32 << 20,
    /* (shape, M, kernel) choices remembered for W4A16_LOG's log-once. */
    W4A16_LOGGED_CHOICES = 512,
    /* Decode plans remembered: a model's layers cycle through a few shapes. */
    W4A16_DECODE_PLANS = 16,
};

/* How the fallback splits W into chunks (W4A16_FALLBACK_SPLIT; see fallback.c). */
typedef enum { W4A16_SPLIT_HEAD = 0, W4A16_SPLIT_NONE, W4A16_SPLIT_EVEN } w4a16_fallback_split;

typedef struct {
    w4a16_decode_shape shape;
    w4a16_decode_plan plan;
} w4a16_decode_plan_entry;

typedef struct {
    int64_t n, k, group_size, m;
    int32_t act_dtype, asymmetric, act_order, kernel;
} w4a16_choice_key;

struct w4a16_ctx {
    int device;
    int sm_major, sm_minor, sm_count;
    int64_t l2_bytes, smem_per_block_optin, smem_per_sm;
    char device_name[256];

    cublasHandle_t cublas;
    cudaStream_t cublas_stream; /* the stream (and our workspace) last set on the handle */
    int cublas_stream_set;
    void *cublas_workspace;
    void *workspace; /* 256-byte aligned (cudaMalloc) */
    size_t workspace_bytes;

    cudaStream_t side_stream; /* the fallback dequantizes the next chunk here */
    cudaEvent_t fork;         /* caller's stream -> side stream */
    cudaEvent_t chunk_ready[2]; /* side -> caller's stream: W buffer b is written */
    cudaEvent_t chunk_used[2];  /* caller's stream -> side: the GEMM on buffer b is done */

    w4a16_kernel forced; /* W4A16_KERNEL; W4A16_KERNEL_AUTO when unset */
    w4a16_fallback_split fallback_split; /* W4A16_FALLBACK_SPLIT; none when unset */
    int decode_splits;   /* W4A16_DECODE_SPLITS: K-ranges of the decode kernel; 0: planned */
    int log_choices;     /* W4A16_LOG=1 or a log callback, at creation */
    w4a16_choice_key logged[W4A16_LOGGED_CHOICES];
    int n_logged;
    int logged_full; /* the table filled up, and the log said so */

    /* Recent decode plans (gpu/decode.c), replaced round-robin. */
    w4a16_decode_plan_entry decode_plans[W4A16_DECODE_PLANS];
    int n_decode_plans, next_decode_plan;
};

#endif
