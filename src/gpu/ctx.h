/* The context behind w4a16_ctx: a cuBLASLt handle with its own workspace,
 * the library's workspace (the ctx's or the caller's), a second stream and
 * the events that join it to the caller's stream, the device's properties,
 * the forced kernel, the settings read from the environment once at
 * creation, and what calls remember for the next (decode plans, the
 * fallback's cuBLASLt algorithms). */
#ifndef W4A16_GPU_CTX_H
#define W4A16_GPU_CTX_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "gpu/dispatch.h"
#include "gpu/lt_algo_cache.h"
#include "kernel_plan/decode_plan.h"

enum {
    W4A16_DEFAULT_WORKSPACE_BYTES = 64 << 20,
    /* cuBLAS's own workspace, passed to every cublasLtMatmul: ctx-owned and of
     * one size everywhere, since cuBLAS chooses its algorithm (and so the
     * result's bits) by the workspace it may use. 32 MiB is what cuBLAS itself
     * takes by default on Hopper. */
    W4A16_CUBLAS_WORKSPACE_BYTES = 32 << 20,
    /* A caller's workspace starts on this boundary (cudaMalloc gives 256). */
    W4A16_WORKSPACE_ALIGN = 256,
    /* (shape, M, kernel) choices remembered for W4A16_LOG's log-once. */
    W4A16_LOGGED_CHOICES = 512,
    /* Decode plans remembered: a model's layers cycle through a few shapes. */
    W4A16_DECODE_PLANS = 16,
};

/* How the fallback splits W into chunks (W4A16_FALLBACK_SPLIT; see fallback.c). */
typedef enum { W4A16_SPLIT_HEAD = 0, W4A16_SPLIT_NONE, W4A16_SPLIT_EVEN } w4a16_fallback_split;

/* Who forced the ctx's kernel, for the messages of a forced kernel that cannot run. */
typedef enum { W4A16_FORCED_BY_ENV = 0, W4A16_FORCED_BY_API } w4a16_forced_by;

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

    cublasLtHandle_t cublaslt;
    void *cublas_workspace;  /* W4A16_CUBLAS_WORKSPACE_BYTES, ctx-owned */
    void *workspace;         /* 256-byte aligned; NULL when workspace_bytes is 0 */
    size_t workspace_bytes;
    int workspace_owned;     /* 1: the ctx allocated it and frees it */
    int32_t *tile_counters;  /* sm90_prefill's arrivals of tile parts (split K, stream-K):
                                [W4A16_SM90_MAX_COUNTED_TILES][2],
                                zeroed at creation, left zero by every launch */

    cudaStream_t side_stream; /* the fallback dequantizes the next chunk here */
    cudaEvent_t fork;         /* caller's stream -> side stream */
    cudaEvent_t chunk_ready[2]; /* side -> caller's stream: W buffer b is written */
    cudaEvent_t chunk_used[2];  /* caller's stream -> side: the GEMM on buffer b is done */

    w4a16_kernel forced;       /* W4A16_KERNEL_AUTO unless forced */
    w4a16_forced_by forced_by; /* W4A16_KERNEL at creation, or w4a16_ctx_set_kernel */
    int batch_invariant;       /* w4a16_ctx_set_batch_invariant: sm90_prefill, one plan for all M */
    w4a16_fallback_split fallback_split; /* W4A16_FALLBACK_SPLIT; none when unset */
    int decode_splits;   /* W4A16_DECODE_SPLITS: K-ranges of the decode kernel; 0: planned */
    int pdl;             /* programmatic dependent launch of decode and sm90_prefill; W4A16_PDL=0: off */
    int sm90_block_m, sm90_splits, sm90_mode; /* W4A16_SM90_PLAN; block_m 0: planned */
    int log_choices;     /* W4A16_LOG=1 or a log callback, at creation */
    w4a16_choice_key logged[W4A16_LOGGED_CHOICES];
    int n_logged;
    int logged_full; /* the table filled up, and the log said so */

    /* Recent decode plans (gpu/decode.c), replaced round-robin. */
    w4a16_decode_plan_entry decode_plans[W4A16_DECODE_PLANS];
    int n_decode_plans, next_decode_plan;
    /* Clusters of S decode CTAs that run at once, with one or two CTAs an SM
     * ([ctas_per_sm - 1][S]): 0 not asked yet, -1 the driver did not say. */
    int decode_clusters[W4A16_DECODE_CTAS_BY_REGISTERS][W4A16_DECODE_MAX_SPLITS + 1];

    /* The fallback's cuBLASLt algorithms (gpu/cublaslt_gemm.c), valid for
     * `cublaslt` on this device only. */
    w4a16_lt_algo_cache lt_algos;
};

#endif
