/* The Hopper kernel's tile and split choice (see sm90_plan.h).
 *
 * The model (H100 figures; bench/NOTES.md has the measurements to refit it):
 * a CTA works through its units one after another, so the call takes
 * ceil(units / slots) rounds of one unit's time, slots being the SMs, or twice
 * them for the narrow tiles that pair two CTAs on an SM. A unit is k-blocks of
 * 64, each costing a fixed part plus a part per token, plus a fixed cost to
 * start and store it. Splitting K makes each unit write its fp32 part of the
 * tile and the tile's last part read them all (costed as one pass over the
 * parts); stream-K shares all k-blocks out evenly instead, at the cost of a
 * partial tile or two per CTA. */
#include "kernel_plan/sm90_plan.h"

#include <stdint.h>

/* The constants are fitted (bench/NOTES.md, v8) to 117 times of v8 on the
 * H100: the four Qwen3-4B shapes at M = 64 and 256 under 11 forced plans
 * (W4A16_SM90_PLAN) and the default plans at M = 17 to 8192; the model's
 * times are within 16% of them (rms of the log ratio). SPLIT_BYTES_PER_US is
 * v1's measurement, kept out of the fit: the sweep had no large partials.
 * bench/fit_sm90_plan.py holds the same model in Python and refits it to a
 * plans sweep (scripts/gpu-check with W4A16_BENCH_SETS=plans).
 * A k-block's tensor work and dequantization on one SM, a fixed cost plus a
 * cost per token. */
static const double BLOCK_FIXED_US = 0.124;
static const double BLOCK_US_PER_TOKEN = 0.00222;
static const double FIXUP_BYTES_PER_SM_US = 48.7e3;  /* stream-K's partial tiles */
static const double SPLIT_BYTES_PER_US = 2.0e6;      /* split K's parts, mostly in L2 */
/* A unit's start (its first blocks' latency) and its epilogue. */
static const double UNIT_OVERHEAD_US = 3.2;
static const double LAUNCH_US = 0.13;
static const int MIN_BLOCKS_PER_SPLIT = 2;
/* A CTA's k-block when a second CTA shares its SM (the narrow tiles with more
 * CTAs than SMs): the pair gets only ~1.2x the blocks of one CTA alone. */
static const double PAIRED_SLOWDOWN = 1.67;
static const int64_t PAIRED_MAX_M = 256;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static size_t tile_part_bytes(int block_m) {
    return (size_t)W4A16_SM90_ROWS * (size_t)block_m * sizeof(float);
}

size_t w4a16_sm90_partial_bytes(const w4a16_sm90_plan *plan, int64_t M, int64_t n_padded) {
    if (plan->streamk) return (size_t)plan->grid * 2 * tile_part_bytes(plan->block_m);
    if (plan->splits <= 1) return 0;
    const int64_t tiles = ceil_div(n_padded, W4A16_SM90_ROWS) * ceil_div(M, plan->block_m);
    return (size_t)plan->splits * (size_t)tiles * tile_part_bytes(plan->block_m);
}

/* One k-block of a tile on one SM (its tensor work and dequantization, which
 * also covers its bytes: 4 KB of weights a block keeps 132 SMs within the
 * DRAM's rate down to 32 tokens), slower when `ctas` CTAs exceed the SMs and
 * the tile width pairs them on an SM. */
static double block_us(int block_m, int64_t ctas, int sm_count) {
    const int shared = w4a16_sm90_ctas_per_sm(block_m) > 1 && ctas > sm_count;
    return (BLOCK_FIXED_US + BLOCK_US_PER_TOKEN * block_m) * (shared ? PAIRED_SLOWDOWN : 1.0);
}

static double predict(int64_t M, int64_t n_padded, int64_t k_padded, int sm_count, int block_m,
                      int splits, int64_t *units_out) {
    const int64_t n_tiles = ceil_div(n_padded, W4A16_SM90_ROWS);
    const int64_t m_tiles = ceil_div(M, block_m);
    const int64_t k_blocks = k_padded / W4A16_SM90_BLOCK_K;
    const int64_t units = n_tiles * m_tiles * splits;
    const int64_t slots = (int64_t)sm_count * w4a16_sm90_ctas_per_sm(block_m);
    const double unit =
        (double)ceil_div(k_blocks, splits) * block_us(block_m, units, sm_count) + UNIT_OVERHEAD_US;
    double total = LAUNCH_US + (double)ceil_div(units, slots) * unit;
    /* Split K: the parts written and summed, as the reduction kernel of v8
     * cost them (the in-kernel sum measured the same GPU time: o_proj at
     * M = 64, 32 tokens x 3, 11.1 µs against 10.8). */
    if (splits > 1)
        total += LAUNCH_US + (double)splits * M * n_padded * 4 * 2 / SPLIT_BYTES_PER_US;
    *units_out = units;
    return total;
}

/* Stream-K over `tiles` tiles on `grid` CTAs: every CTA takes an equal share
 * of their k-blocks; the tiles cut at a share's ends meet through the
 * workspace, the last to arrive adding them up (a partial tile written, up to
 * two read). */
static double predict_shares(int64_t tiles, int64_t k_blocks, int64_t grid, int block_m,
                             int sm_count) {
    const int64_t share = ceil_div(tiles * k_blocks, grid);
    const double tile_bytes = (double)tile_part_bytes(block_m);
    /* The last CTA to finish a tile reads every share's part of it: more than
     * two when a tile is shared by several CTAs (few tiles, long K). */
    const int64_t parts = tiles >= grid ? 2 : ceil_div(grid, tiles) + 1;
    return (double)share * block_us(block_m, grid, sm_count) +
           (double)(share / k_blocks + 2) * UNIT_OVERHEAD_US +
           (double)(parts + 1) * tile_bytes / FIXUP_BYTES_PER_SM_US;
}

int w4a16_sm90_grid(int64_t units, int block_m, int sm_count) {
    const int64_t slots = (int64_t)(sm_count > 0 ? sm_count : 1) * w4a16_sm90_ctas_per_sm(block_m);
    return (int)(units < slots ? units : slots);
}

static void consider(w4a16_sm90_plan *best, int *have, w4a16_sm90_plan plan) {
    if (!*have || plan.predicted_us < best->predicted_us) {
        *best = plan;
        *have = 1;
    }
}

static const int WIDTHS[] = {32, 64, 128, 160, 192, 224, 256};

w4a16_sm90_plan w4a16_sm90_plan_make(int64_t M, int64_t n_padded, int64_t k_padded, int sm_count,
                                     int block_m, int splits, w4a16_sm90_mode mode) {
    w4a16_sm90_plan plan = {0, 1, 0, 0, 0, 0.0, 0};
    int known = 0;
    for (size_t w = 0; w < sizeof WIDTHS / sizeof WIDTHS[0]; w++) known |= WIDTHS[w] == block_m;
    if (!known || splits < 1 || splits > W4A16_SM90_MAX_SPLITS ||
        (mode != W4A16_SM90_WHOLE && splits != 1))
        return plan;
    if (sm_count < 1) sm_count = 1;
    const int64_t tiles = ceil_div(n_padded, W4A16_SM90_ROWS) * ceil_div(M, block_m);
    /* Tiles in parts count their arrivals in the ctx's counters. */
    if ((mode != W4A16_SM90_WHOLE || splits > 1) && tiles > W4A16_SM90_MAX_COUNTED_TILES)
        return plan;
    if (mode != W4A16_SM90_WHOLE) {
        const int64_t k_blocks = k_padded / W4A16_SM90_BLOCK_K;
        const int64_t slots = (int64_t)sm_count * w4a16_sm90_ctas_per_sm(block_m);
        /* Whole rounds first (the hybrid), then at least two k-blocks a share. */
        const int64_t rounds = mode == W4A16_SM90_HYBRID ? tiles / slots : 0;
        const int64_t left = (tiles - rounds * slots) * k_blocks;
        int64_t grid = rounds > 0 ? slots : left / MIN_BLOCKS_PER_SPLIT;
        if (grid > slots) grid = slots;
        if (grid < 1 || left < MIN_BLOCKS_PER_SPLIT * grid ||
            (mode == W4A16_SM90_HYBRID && rounds == 0))
            return plan;
        plan.block_m = block_m;
        plan.streamk = 1;
        plan.units = tiles;
        plan.grid = (int)grid;
        plan.dp_tiles = (int)(rounds * grid);
        plan.predicted_us = LAUNCH_US +
                            (double)rounds * ((double)k_blocks * block_us(block_m, grid, sm_count) +
                                              UNIT_OVERHEAD_US) +
                            predict_shares(tiles - rounds * grid, k_blocks, grid, block_m, sm_count);
        return plan;
    }
    plan.block_m = block_m;
    plan.splits = splits;
    plan.predicted_us = predict(M, n_padded, k_padded, sm_count, block_m, splits, &plan.units);
    plan.grid = w4a16_sm90_grid(plan.units, block_m, sm_count);
    return plan;
}

w4a16_sm90_plan w4a16_sm90_plan_choose(int64_t M, int64_t n_padded, int64_t k_padded,
                                       int sm_count, size_t workspace_bytes) {
    /* The widths between 128 and 256 fit the tiles to the SMs (o_proj at M =
     * 1024: 120 tiles of 192 tokens, not 80 of 256). Not 96: below 128
     * tokens a k-block costs the weights' dequantization and the pipeline's
     * round trip more than its tensor work (v2b: ~0.45 us a block at 32 and
     * 64 tokens), which this model does not see. */
    const int64_t k_blocks = k_padded / W4A16_SM90_BLOCK_K;
    w4a16_sm90_plan best = {256, 1, 0, 0, 1, 0.0, 0};
    int have = 0;
    if (sm_count < 1) sm_count = 1;
    for (size_t w = 0; w < sizeof WIDTHS / sizeof WIDTHS[0]; w++) {
        const int block_m = WIDTHS[w];
        /* A narrower tile already covers M in one: wider ones only waste work. */
        if (w > 0 && M <= WIDTHS[w - 1]) break;
        /* Two CTAs an SM only where one CTA's tiles leave SMs idle or its
         * latency shows (small M): above, the model has not been measured. */
        if (w4a16_sm90_ctas_per_sm(block_m) > 1 && M > PAIRED_MAX_M) continue;
        for (int splits = 1; splits <= W4A16_SM90_MAX_SPLITS; splits++) {
            if (splits > 1 && k_blocks / splits < MIN_BLOCKS_PER_SPLIT) break;
            w4a16_sm90_plan plan = w4a16_sm90_plan_make(M, n_padded, k_padded, sm_count, block_m,
                                                        splits, W4A16_SM90_WHOLE);
            if (plan.block_m == 0 || w4a16_sm90_partial_bytes(&plan, M, n_padded) > workspace_bytes)
                break;
            consider(&best, &have, plan);
        }
        /* Stream-K only where it measured faster: a little more than one round
         * of tiles (152 on 132 SMs) of one token tile (gate_up at M = 17..256,
         * bench/NOTES.md v2, v2b, v8). With fewer tiles than SMs each tile has
         * many parts to add up (split-K's second kernel was faster); over
         * several m-tiles the shares scatter the CTAs over A at once: down at
         * M = 2048 took 209-214 µs by stream-K over 160 tiles of 256 tokens
         * against 149 µs in 260 whole tiles of 160 (v8). */
        const int64_t m_tiles = ceil_div(M, block_m);
        const int64_t tiles = ceil_div(n_padded, W4A16_SM90_ROWS) * m_tiles;
        if (tiles > sm_count && 4 * tiles <= 5 * (int64_t)sm_count &&
            m_tiles == 1 && k_blocks >= 2 * MIN_BLOCKS_PER_SPLIT) {
            w4a16_sm90_plan plan =
                w4a16_sm90_plan_make(M, n_padded, k_padded, sm_count, block_m, 1, W4A16_SM90_STREAMK);
            if (plan.block_m != 0 && w4a16_sm90_partial_bytes(&plan, M, n_padded) <= workspace_bytes)
                consider(&best, &have, plan);
        }
    }
    return best;
}
