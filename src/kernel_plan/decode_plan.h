/* How the Hopper decode kernel (src/cuda/sm90_decode.cu) cuts one call: the
 * number of K-ranges (one CTA each, reduced inside a thread-block cluster),
 * and each CTA's shared memory: its K-range of A, its rows' scales and zeros
 * for the groups that range touches, act-order's slice of perm. Pure host
 * arithmetic, no CUDA: unit-tested on the CPU. */
#ifndef W4A16_KERNEL_PLAN_DECODE_PLAN_H
#define W4A16_KERNEL_PLAN_DECODE_PLAN_H

#include <stdint.h>

enum {
    W4A16_DECODE_WARPS = 8,        /* a CTA: one n-tile of 16 rows per warp */
    W4A16_DECODE_ROWS = 16 * W4A16_DECODE_WARPS,
    W4A16_DECODE_DEPTH = 8,        /* weight tiles in flight per warp (registers) */
    W4A16_DECODE_MAX_TOKENS = 16,  /* two n8 token blocks of mma.sync m16n8k16 */
    W4A16_DECODE_MAX_SPLITS = 8,   /* the largest portable cluster */
    W4A16_DECODE_CTAS_BY_REGISTERS = 2, /* __launch_bounds__(256, 2): <= 128 registers */
    W4A16_DECODE_SMEM_RESERVED = 1024,  /* the driver's shared memory per CTA */
};

/* What the plan depends on. */
typedef struct {
    int64_t M;           /* 1 .. W4A16_DECODE_MAX_TOKENS */
    int64_t n_padded, k_padded;
    int64_t group_size;  /* G; -1: per-channel */
    int scale_bytes;     /* 2 or 4 */
    int asymmetric;      /* zeros staged too */
    int act_order;       /* perm's slice staged too */
} w4a16_decode_shape;

typedef struct {
    int sm_count;
    int64_t smem_per_sm;    /* cudaDevAttrMaxSharedMemoryPerMultiprocessor */
    int64_t smem_per_block; /* cudaDevAttrMaxSharedMemoryPerBlockOptin */
    /* Clusters of `splits` CTAs of `smem_bytes` (ctas_per_sm of them fit an
     * SM) that run at once, as the driver says; <= 0 or a NULL function: not
     * known, and the plan assumes every SM's slots fill. A cluster stays in
     * one GPC, so on the H100 fewer run than SMs x CTAs / splits. */
    int (*max_clusters)(void *opaque, int splits, int ctas_per_sm, int64_t smem_bytes);
    void *opaque;
} w4a16_decode_device;

/* One CTA's shared memory, in bytes from its start; every offset is a
 * multiple of 16. A's rows are k_tiles * 64 columns plus 16 bytes, so the
 * 16-byte chunks of 8 rows at one column fall in 8 different bank groups
 * (ldmatrix without conflicts). After the main loop, a split CTA reuses the
 * start for its fp32 sums (partial_bytes), read by the cluster. */
typedef struct {
    int64_t a_pitch;
    int64_t scale_offset, zero_offset, perm_offset;
    int64_t partial_bytes;
    int64_t bytes;          /* the launch's dynamic shared memory */
} w4a16_decode_smem;

typedef struct {
    int splits;             /* K-ranges = cluster size; 0: no plan fits */
    int k_tiles;            /* the most 64-wide k-tiles one K-range takes */
    int groups;             /* the most scale rows one CTA stages */
    w4a16_decode_smem smem;
    int ctas_per_sm;
    int64_t ctas;
    double predicted_us;    /* the model's time for the call */
} w4a16_decode_plan;

/* K-range s of `splits` over `k_tiles_total` tiles: [begin, end), the same
 * formula as the kernel's. */
static inline int64_t w4a16_decode_range_begin(int64_t k_tiles_total, int splits, int s) {
    return k_tiles_total * s / splits;
}

/* The shared-memory layout for a K-range of `k_tiles` tiles, `groups` scale
 * rows and `splits` K-ranges. */
w4a16_decode_smem w4a16_decode_smem_layout(const w4a16_decode_shape *shape, int k_tiles,
                                           int groups, int splits);

/* The fastest plan by the model, or with `forced_splits` > 0 that many
 * K-ranges (at most the k-tiles there are). splits = 0 when nothing fits in
 * shared memory (a K too long for M tokens even split 8 ways, or the forced
 * split). */
w4a16_decode_plan w4a16_decode_plan_choose(const w4a16_decode_shape *shape,
                                           const w4a16_decode_device *device, int forced_splits);

#endif
