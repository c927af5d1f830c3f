/* Launchers of the kernels in src/cuda/ (*.cu files), callable from the host C code.
 * Each returns the launch's cudaGetLastError(): the caller (src/gpu/) has
 * cleared any error pending from earlier work at the entry of the public call
 * (w4a16_cuda_check_pending), so the error is the launch's own. Shapes are
 * checked by the caller. */
#ifndef W4A16_CUDA_KERNELS_H
#define W4A16_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "kernel_plan/decode_plan.h"
#include "w4a16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One source as the pack kernels read it. Host sources are staged on the
 * device as compact boxes, so each tensor carries the source coordinates of
 * its first element (0 for a tensor read in place). */
typedef struct {
    const int32_t *qweight;
    w4a16_qlayout qweight_layout;
    const int32_t *qzeros; /* NULL: symmetric, z = 8 */
    w4a16_qlayout qzeros_layout;
    const void *scales;
    int64_t scales_stride_n, scales_stride_g;
    int64_t row_end;   /* packed rows [previous source's row_end, row_end) come from here */
    int64_t row_shift; /* source row = packed row + row_shift */
    int64_t qweight_n0, qweight_k0, qzeros_n0, qzeros_g0, scales_n0, scales_g0;
} w4a16_pack_view;

typedef struct {
    int32_t n_sources;
    w4a16_pack_view src[W4A16_PACK_MAX_SOURCES];
    int64_t n, k, n_padded, k_padded; /* the packed result */
    int64_t groups, groups_padded;
    int64_t k_begin;          /* source column of slice column 0 */
    const int32_t *perm;      /* device [k]: slice column of packed column j; NULL: j */
    int32_t *perm_out;        /* device [k]: the packed weight's copy of perm; NULL: none */
    const int32_t *group_of;  /* device [groups]: source group of packed group; NULL: */
    int64_t group_base;       /*   group_base + packed group */
    int32_t scale_bytes;      /* 2 or 4: scales are copied bit for bit */
    uint32_t *qweight;        /* outputs, device */
    void *scales;
    uint8_t *zeros;           /* NULL: the result is symmetric */
} w4a16_pack_args;

/* Writes qweight, scales and zeros of the packed layout (src/packed/packed_layout.h),
 * and copies perm to perm_out, in one launch. */
cudaError_t w4a16_launch_pack(const w4a16_pack_args *args, cudaStream_t stream);

/* The fallback's dequantize: rows [row_begin, row_begin + rows) of the packed
 * weight as W[rows][ldo] in w->act_dtype, all k_padded columns (padding is 0).
 * row_begin and rows are multiples of 16, row_begin + rows <= n_padded;
 * out is 16-byte aligned and ldo >= k_padded a multiple of 8. */
cudaError_t w4a16_launch_dequantize(const w4a16_weight *w, int64_t row_begin, int64_t rows,
                                    void *out, int64_t ldo, cudaStream_t stream);

/* The decode kernel v3 (sm90_decode.cu, Hopper): C[M][n] = A[M][k] · Wᵀ
 * (+ bias[n]) in one launch, for 1 <= M <= 16, K split over a cluster of
 * `splits` CTAs. The caller (src/gpu/decode.c) checked that it can take the
 * call (G a multiple of 16 and >= 32 or per-channel, k_padded * G < 2^32;
 * w4a16_gemm checked qweight, scales and zeros 16-byte aligned) and planned it
 * (src/kernel_plan/decode_plan.h). A and C: any 2-byte alignment (A 16-byte
 * aligned with lda a multiple of 8 and no perm is copied 16 bytes at a time;
 * otherwise element by element). */
typedef struct {
    const w4a16_weight *w;
    const void *A;
    int64_t lda;
    void *C;
    int64_t ldc;
    int64_t M;
    const void *bias;      /* [n] or NULL */
    int splits;            /* K-ranges, the cluster size: 1 .. W4A16_DECODE_MAX_SPLITS */
    w4a16_decode_smem smem; /* the plan's shared-memory layout; smem.bytes per CTA */
    int64_t smem_limit;    /* the device's opt-in maximum per CTA */
    int pdl;               /* launch programmatically: start during the previous
                              kernel's tail, prefetching the first weight tiles
                              into L2, and wait for it before loading anything
                              or writing C (W4A16_PDL=0 turns it off) */
} w4a16_decode_args;

cudaError_t w4a16_launch_decode(const w4a16_decode_args *args, cudaStream_t stream);

/* How many clusters of `splits` decode CTAs of `smem_bytes` each the current
 * device runs at once (cudaOccupancyMaxActiveClusters: the driver knows how
 * its SMs group into GPCs, which a count of SMs does not tell). */
cudaError_t w4a16_decode_max_clusters(int splits, int64_t smem_bytes, int64_t smem_limit,
                                      int *clusters);

/* The decode kernel v2 (gemm_small_m.cu, sm_80+), kept for GPUs before
 * Hopper and for A/B runs: the same contract in one launch, K split over a
 * CTA's warps, no shared-memory staging. The caller (src/gpu/decode_v2.c)
 * checked G a multiple of 16 and >= 32 (or per-channel), k_padded * G < 2^32.
 * A 4-byte aligned with even lda reads pairs; otherwise, and with w->perm,
 * single elements. */
cudaError_t w4a16_launch_decode_v2(const w4a16_weight *w, const void *A, int64_t lda, void *C,
                                   int64_t ldc, int64_t M, const void *bias,
                                   cudaStream_t stream);

/* out[m][j] = A[m][perm[j]] for 16-bit elements, j < k; columns k..ldo-1 are
 * zeroed. out is 16-byte aligned, ldo = round_up(k, 8). */
cudaError_t w4a16_launch_permute_columns(const void *A, int64_t lda, int64_t rows, int64_t k,
                                         const int32_t *perm, void *out, int64_t ldo,
                                         cudaStream_t stream);

/* The Hopper kernel (sm90_prefill.cu). The caller (src/gpu/sm90.c) checked
 * that it can take the call and chose the token tile and the K split. */
typedef struct {
    const w4a16_weight *w;
    const void *A;     /* 16-byte aligned, lda a multiple of 8; perm already applied */
    int64_t lda;
    void *C;           /* any 2-byte alignment */
    int64_t ldc;
    int64_t M;
    const void *bias;  /* [n] or NULL */
    int block_m;       /* tokens per tile: 32, 64, 128, 160, 192, 224 or 256 */
    int splits;        /* K ranges; > 1: the tile's last K-range sums them (fp32 parts) */
    float *partials;   /* split K, stream-K: the tiles' fp32 parts (w4a16_sm90_partial_bytes);
                          16-byte aligned */
    int streamk;       /* 1: k-blocks shared evenly over `grid` CTAs (splits ignored) */
    int dp_tiles;      /* stream-K: tiles run whole first, a multiple of grid (0: none) */
    int grid;          /* the persistent grid's CTAs (the plan's) */
    int32_t *counters; /* split K, stream-K: [tiles][2] zeros, left zero by the kernel */
    int pdl;           /* launch programmatically: start during the previous kernel's tail,
                          prefetching the first stages' weights into L2, and wait for it
                          before any copy (W4A16_PDL, up to 16 rows: src/gpu/sm90.c) */
} w4a16_sm90_args;

cudaError_t w4a16_launch_sm90_prefill(const w4a16_sm90_args *args, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
