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
    /* Hopper. Measured on the H100 80GB HBM3 with `w4a16 tune` (f16 g128 sym,
     * Qwen3-4B shapes, M = 8..8192; bench/results/tune-2026-12-07-h100.json,
     * commit b6e5582, sm90_prefill v7) and `w4a16 bench` (bench/RESULTS.md).
     * The H200 shares the class until measured. */
    {"sm_90",
     9,
     {
         /* M <= 16, the decode kernels' own limit (two n8 token blocks). At
          * M = 8 decode is the fastest on all four shapes; at 12 and 16 it and
          * sm90_prefill v7 each win two shapes by 5-13% (decode qkv, gate_up;
          * sm90_prefill o_proj, down), so the band stays where it was
          * measured before (decode v3 1.23-2.26x cuBLAS). decode_v2 where
          * decode declines (a K too long for A in shared memory). */
         {16, {DECODE, DECODE_V2}},
         /* M >= 17: sm90_prefill v7 beats the fallback at every M of the sweep
          * on every shape (and cuBLAS itself at M = 8192: 1.03-1.08x) but
          * o_proj and down at M = 2048, 7-14% slower there (stream-K), and
          * o_proj at 4096 (2%). The fallback stays for what sm90_prefill
          * declines (A not 16-byte aligned, lda not a multiple of 8, G < 32). */
         {INT64_MAX, {SM90_PREFILL}},
     },
     2},
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
