/* auto's rule per device class (see dispatch_rules.h). To change a
 * crossover: run `w4a16 tune` on the device (scripts/gpu-check OUTDIR bench
 * with W4A16_BENCH_SETS=tune writes tune.json), set the band's bound from its
 * "suggested rule" and per-shape crossovers, and name the run here. */
#include "gpu/dispatch_rules.h"

#define DECODE W4A16_KERNEL_DECODE
#define DECODE_V2 W4A16_KERNEL_DECODE_V2
#define SM90_PREFILL W4A16_KERNEL_SM90_PREFILL
#define FALLBACK W4A16_KERNEL_FALLBACK

static const w4a16_dispatch_rule RULES[] = {
    /* Hopper. Measured on the H100 80GB HBM3 with `w4a16 tune` (f16 g128 sym):
     * the Qwen3-4B shapes at M = 8..8192 (bench/results/tune-2026-12-07-h100.json,
     * commit b6e5582, sm90_prefill v7), then the unmerged Qwen3-4B projections
     * the rule was not fitted on (bench/results/tune-unmerged-2026-12-07-h100.json,
     * commit 8a56269, sm90_prefill v8), and `w4a16 bench` (bench/RESULTS.md).
     * The H200 shares the class until measured. */
    {"sm_90",
     9,
     {
         /* M <= 8: decode is the fastest at M = 1..8 on every shape of both
          * tunes. At 12 and 16 sm90_prefill v8 (its narrow plans) beats it on
          * all three unmerged shapes by 7-19% (v7 had won only two of four
          * merged ones) and, in v8's bench (2026-12-07-h100-v8-band-f16.json),
          * on qkv, o_proj and down; decode stays 12-14% faster on gate_up.
          * decode_v2 where decode declines (a K too long for A in shared
          * memory). */
         {8, {DECODE, DECODE_V2}},
         /* M = 9..16: sm90_prefill, or decode when the ctx's workspace cannot
          * hold a row of act-order's permuted A (decode needs none). */
         {16, {SM90_PREFILL, DECODE, DECODE_V2}},
         /* M >= 17: sm90_prefill beats the fallback at every M of both sweeps
          * but k/v (1024 x 2560) at M = 1024 (by 4%), and cuBLAS itself at
          * M = 8192 on three of four shapes. The fallback stays for what
          * sm90_prefill declines (A not 16-byte aligned, lda not a multiple
          * of 8, G < 32). */
         {INT64_MAX, {SM90_PREFILL}},
     },
     3},
    /* Every other device (sm_80 and later; not measured): the kernels that run
     * there. decode_v2 at M <= 8 measured 0.90-1.22x cuBLAS and 2-3x the
     * fallback on the H100 (bench/NOTES.md, v2), so it keeps its own limit. */
    {"default",
     0,
     {
         {16, {DECODE_V2}},
         {INT64_MAX, {FALLBACK}},
     },
     2},
};
#define RULE_COUNT ((int)(sizeof RULES / sizeof RULES[0]))

const w4a16_dispatch_rule *w4a16_dispatch_rules(int *count) {
    *count = RULE_COUNT;
    return RULES;
}

const w4a16_dispatch_rule *w4a16_dispatch_rule_for(int sm_major) {
    for (int i = 0; i < RULE_COUNT; i++)
        if (RULES[i].sm_major == sm_major) return &RULES[i];
    return &RULES[RULE_COUNT - 1];
}

const w4a16_dispatch_band *w4a16_dispatch_rule_band(const w4a16_dispatch_rule *rule, int64_t M) {
    for (int i = 0; i < rule->n_bands - 1; i++)
        if (M <= rule->bands[i].max_m) return &rule->bands[i];
    return &rule->bands[rule->n_bands - 1];
}
