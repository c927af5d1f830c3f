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
    /* Hopper. Measured on the H100 80GB HBM3 with `w4a16 bench` (bench/RESULTS.md,
     * 2026-12-07, commits 7d17e21 and 0e378cd; f16 g128 sym unless said; Qwen3-4B
     * and llama3-70b shapes). The H200 shares the class until measured. */
    {"sm_90",
     9,
     {
         /* M <= 16, the decode kernels' own limit (two n8 token blocks). decode v3
          * is 1.23-2.26x cuBLAS on the Qwen3-4B shapes and 1.5-3.5x on llama3-70b's,
          * ahead of sm90_prefill at every M <= 8 and within 10% of it at M = 16
          * (o_proj 9.3 against 8.5 us, down 14.6 against 13.8). decode_v2 where
          * decode declines (a K too long for A in shared memory). */
         {16, {DECODE, DECODE_V2}},
         /* 17 <= M <= 1024: sm90_prefill beats the fallback on every measured
          * shape but o_proj at 512; at M = 1024 it wins on four of the eight
          * Qwen3-4B and llama3-70b shapes (gate_up, up, down and o_proj of 70B)
          * by 5-15% and loses on the other four by 5-13%. */
         {1024, {SM90_PREFILL}},
         /* M > 1024: the fallback (dequantize + cuBLAS) measured 3-40% faster
          * than sm90_prefill v1/v2 at M >= 2048 on every shape but Qwen's
          * gate_up at 2048 (2% slower). */
         {INT64_MAX, {FALLBACK}},
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
