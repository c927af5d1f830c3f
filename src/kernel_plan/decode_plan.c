/* The decode kernel's split choice and shared-memory layout (see
 * decode_plan.h).
 *
 * The model (bench/NOTES.md "v3" and "decode plan v5"; its constants fitted
 * to the H100's split sweep with bench/fit_decode_plan.py, which mirrors
 * this code): CTAs run in waves of whole clusters, as many as the driver
 * places at once (a cluster stays in one GPC); a wave costs its bytes at a
 * DRAM rate plus one CTA's own chain of tiles (its warps are issue-bound,
 * 8 warps x 8 tiles x 512 bytes per "loaded latency"), plus a fill; a split
 * call pays a cluster reduction; the CTAs' staging of their K-ranges of A
 * shares L2. The fitted constants are a model's, not the hardware's peaks
 * (the DRAM term comes out above the copy rate: the per-CTA chain takes
 * most of the time). */
#include "kernel_plan/decode_plan.h"

#include <stddef.h>
#include <stdint.h>

static const double DRAM_BYTES_PER_US = 1.265e7;
static const double LOADED_LATENCY_US = 1.275;
static const double WAVE_FILL_US = 3.624;
static const double LAUNCH_US = 0.0;
static const double CLUSTER_REDUCE_US = 0.117;
static const double STAGE_BYTES_PER_US = 1.35e6; /* the call's staging of A, from L2 */
static const double FEWER_SPLITS_MARGIN = 0.02; /* prefer fewer K-ranges within 2% */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

w4a16_decode_smem w4a16_decode_smem_layout(const w4a16_decode_shape *shape, int k_tiles,
                                           int groups, int splits) {
    w4a16_decode_smem s;
    const int64_t token_blocks = shape->M > 8 ? 2 : 1;
    s.a_pitch = (int64_t)k_tiles * 64 * 2 + 16;
    s.scale_offset = shape->M * s.a_pitch;
    s.zero_offset = s.scale_offset + (int64_t)groups * W4A16_DECODE_ROWS * shape->scale_bytes;
    s.perm_offset = s.zero_offset + (shape->asymmetric ? (int64_t)groups * W4A16_DECODE_ROWS : 0);
    const int64_t end = s.perm_offset + (shape->act_order ? (int64_t)k_tiles * 64 * 4 : 0);
    /* One float4 per lane per token block per warp: a warp's 16 x 8 sums. */
    s.partial_bytes = splits > 1 ? W4A16_DECODE_WARPS * token_blocks * 32 * 16 : 0;
    s.bytes = max64(end, s.partial_bytes);
    return s;
}

/* The most groups any of the K-ranges touches: scale rows a CTA stages. */
static int groups_per_range(const w4a16_decode_shape *shape, int64_t k_tiles_total, int splits) {
    if (shape->group_size < 0) return 1; /* per-channel: one group, whatever k_padded holds */
    int most = 0;
    for (int s = 0; s < splits; s++) {
        const int64_t begin = w4a16_decode_range_begin(k_tiles_total, splits, s);
        const int64_t end = w4a16_decode_range_begin(k_tiles_total, splits, s + 1);
        const int64_t first = 64 * begin / shape->group_size;
        const int64_t last = (64 * end - 1) / shape->group_size;
        if (last - first + 1 > most) most = (int)(last - first + 1);
    }
    return most;
}

/* One wave of `active` CTAs, each streaming `bytes_per_cta` of weights: the
 * wave's bytes at the DRAM's rate, plus one CTA's own chain of loads (its
 * warps issue, they do not only wait: bench/NOTES.md "decode plan v5"). */
static double wave_us(int64_t active, double bytes_per_cta) {
    const double per_cta_rate = (double)W4A16_DECODE_WARPS * W4A16_DECODE_DEPTH * 512 /
                                LOADED_LATENCY_US;
    return (double)active * bytes_per_cta / DRAM_BYTES_PER_US + bytes_per_cta / per_cta_rate +
           WAVE_FILL_US;
}

/* CTAs that run at once: whole clusters of `splits`. */
static int64_t cta_slots(const w4a16_decode_device *device, int splits, int ctas_per_sm,
                         int64_t smem_bytes) {
    const int64_t sms = device->sm_count > 0 ? device->sm_count : 1;
    int64_t clusters = sms * ctas_per_sm / splits;
    if (splits > 1 && device->max_clusters != NULL) {
        const int known = device->max_clusters(device->opaque, splits, ctas_per_sm, smem_bytes);
        if (known > 0) clusters = known;
    }
    return max64(clusters, 1) * splits;
}

/* The plan for `splits` K-ranges; splits = 0 in it when it does not fit. */
static w4a16_decode_plan plan_for(const w4a16_decode_shape *shape,
                                  const w4a16_decode_device *device, int splits) {
    w4a16_decode_plan plan = {0, 0, 0, {0, 0, 0, 0, 0, 0}, 0, 0, 0.0};
    const int64_t k_tiles_total = shape->k_padded / 64;
    const int64_t n_tiles = shape->n_padded / 16;
    const int k_tiles = (int)ceil_div(k_tiles_total, splits);
    const int groups = groups_per_range(shape, k_tiles_total, splits);
    const w4a16_decode_smem smem = w4a16_decode_smem_layout(shape, k_tiles, groups, splits);
    if (smem.bytes > device->smem_per_block) return plan;
    const int64_t by_smem = device->smem_per_sm / (smem.bytes + W4A16_DECODE_SMEM_RESERVED);
    const int ctas_per_sm = (int)min64(W4A16_DECODE_CTAS_BY_REGISTERS, by_smem);
    if (ctas_per_sm < 1) return plan;
    plan.splits = splits;
    plan.k_tiles = k_tiles;
    plan.groups = groups;
    plan.smem = smem;
    plan.ctas_per_sm = ctas_per_sm;
    plan.ctas = ceil_div(n_tiles, W4A16_DECODE_WARPS) * splits;
    const int64_t slots = cta_slots(device, splits, ctas_per_sm, smem.bytes);
    const double bytes_per_cta = (double)W4A16_DECODE_WARPS * k_tiles * 512;
    const int64_t full_waves = plan.ctas / slots, rest = plan.ctas % slots;
    double us = LAUNCH_US + (double)full_waves * wave_us(slots, bytes_per_cta);
    if (rest > 0) us += wave_us(rest, bytes_per_cta);
    if (splits > 1) us += CLUSTER_REDUCE_US;
    /* Every CTA stages its K-range of A: the call's staging shares L2. */
    us += (double)plan.ctas * shape->M * k_tiles * 64 * 2 / STAGE_BYTES_PER_US;
    plan.predicted_us = us;
    return plan;
}

w4a16_decode_plan w4a16_decode_plan_choose(const w4a16_decode_shape *shape,
                                           const w4a16_decode_device *device, int forced_splits) {
    const int64_t k_tiles_total = shape->k_padded / 64;
    const int most = (int)min64(W4A16_DECODE_MAX_SPLITS, max64(k_tiles_total, 1));
    if (forced_splits > 0) return plan_for(shape, device, (int)min64(forced_splits, most));
    w4a16_decode_plan best = {0, 0, 0, {0, 0, 0, 0, 0, 0}, 0, 0, 0.0};
    for (int splits = 1; splits <= most; splits++) {
        const w4a16_decode_plan plan = plan_for(shape, device, splits);
        if (plan.splits == 0) continue;
        if (best.splits == 0 ||
            plan.predicted_us < best.predicted_us * (1.0 - FEWER_SPLITS_MARGIN))
            best = plan;
    }
    return best;
}
