/* How the Hopper kernel cuts one GEMM: the token tile (wgmma's N) and the
 * number of K ranges, chosen from a cost model of the kernel's persistent
 * schedule. Pure host arithmetic, no CUDA: unit-tested on the CPU. */
#ifndef W4A16_KERNEL_PLAN_SM90_PLAN_H
#define W4A16_KERNEL_PLAN_SM90_PLAN_H

#include <stddef.h>
#include <stdint.h>

enum {
    W4A16_SM90_ROWS = 128,     /* weight rows per CTA tile */
    W4A16_SM90_BLOCK_K = 64,   /* k per pipeline stage */
    W4A16_SM90_MAX_SPLITS = 16,
    /* Tiles made of parts (split K, stream-K) count their arrivals in the
     * ctx, one counter per tile and row half: plans that make parts have at
     * most this many tiles. */
    W4A16_SM90_MAX_COUNTED_TILES = 8192,
    /* Batch-invariant mode's one token tile for every M. */
    W4A16_SM90_INVARIANT_BLOCK_M = 64,
    /* Token tiles up to this width run two CTAs an SM: their registers and
     * shared memory fit twice, and the second CTA's warps hide the latency of
     * the first's dequantization (ncu, qkv at M = 64: one CTA an SM left the
     * tensor pipe 81% idle, its consumer warps stalled on their own
     * instruction dependencies). */
    W4A16_SM90_PAIRED_MAX_BM = 64,
};

/* CTAs that share an SM at a token tile of `block_m`: the persistent grid's
 * size is this times the SMs. */
static inline int w4a16_sm90_ctas_per_sm(int block_m) {
    return block_m <= W4A16_SM90_PAIRED_MAX_BM ? 2 : 1;
}

typedef struct {
    int block_m;       /* tokens per tile: 32, 64, 128, 160, 192, 224 or 256 */
    int splits;        /* K ranges; > 1 needs a tile of fp32 a range in the workspace */
    int streamk;       /* 1: the tiles' k-blocks are shared out evenly over the grid instead
                          (splits is 1); partial tiles meet in the workspace */
    int64_t units;     /* tiles x splits: the persistent grid's work items */
    int grid;          /* CTAs: at most w4a16_sm90_ctas_per_sm(block_m) per SM */
    double predicted_us; /* the model's time for the call */
    int dp_tiles;      /* stream-K: tiles run whole first, in rounds of the grid; the
                          k-blocks of the rest are shared out (0: all shared out) */
} w4a16_sm90_plan;

/* How a plan covers the tiles: whole tiles (each maybe split in K), stream-K
 * (every CTA an equal share of all k-blocks), or whole rounds of tiles
 * followed by stream-K over the tiles left. */
typedef enum { W4A16_SM90_WHOLE = 0, W4A16_SM90_STREAMK = 1, W4A16_SM90_HYBRID = 2 } w4a16_sm90_mode;

/* Bytes of fp32 tile parts a plan needs (0 when it does not split K): split
 * K's tile per K-range of each tile, or stream-K's two per CTA. */
size_t w4a16_sm90_partial_bytes(const w4a16_sm90_plan *plan, int64_t M, int64_t n_padded);

/* The persistent grid of a plan without stream-K: a CTA per unit, at most
 * w4a16_sm90_ctas_per_sm(block_m) per SM. */
int w4a16_sm90_grid(int64_t units, int block_m, int sm_count);

/* The plan of `block_m` tokens a tile and `splits` K ranges (splits 1 for the
 * stream-K modes), with its grid and the model's time, or block_m 0 when no
 * such plan exists: block_m not one of the widths, splits outside
 * 1..W4A16_SM90_MAX_SPLITS, stream-K with fewer than two k-blocks a CTA, the
 * hybrid without both a whole round and tiles left over, or tiles in parts
 * (split K, stream-K) beyond W4A16_SM90_MAX_COUNTED_TILES. For A/B runs of
 * plans (W4A16_SM90_PLAN) and for the choice below. */
w4a16_sm90_plan w4a16_sm90_plan_make(int64_t M, int64_t n_padded, int64_t k_padded, int sm_count,
                                     int block_m, int splits, w4a16_sm90_mode mode);

/* The fastest plan by the model for M tokens against an n_padded x k_padded
 * packed weight on `sm_count` SMs, splitting K only while the partials fit in
 * `workspace_bytes` (SIZE_MAX: no limit). Never fails: a plan with one split
 * always exists. */
w4a16_sm90_plan w4a16_sm90_plan_choose(int64_t M, int64_t n_padded, int64_t k_padded,
                                       int sm_count, size_t workspace_bytes);

#endif
