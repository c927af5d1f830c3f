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
     * commit 8a56269, sm90_prefill v8), and `w4a16 bench` (bench/RESULTS.md);
     * the decode band re-measured with both kernels launched programmatically
     * and decode's cluster-aware plan (bench/results/2026-12-07-h100-v5-tune.json
     * and -v5-tune-unmerged.json). The H200 shares the class until measured. */
    {"sm_90",
     9,
     W4A16_WEIGHTS_PLAIN,
     {
         /* M <= 16: decode is the fastest at every M from 1 to 16 on all seven
          * shapes of the two tunes of 2026-12-07 23:2x UTC (at 9..16 by 3-38%
          * over sm90_prefill; down by 4-7% at 9-11 and 14, within 3% else).
          * Until then (PDL off, decode's plan blind to clusters) sm90_prefill
          * had won at 9..16. decode_v2 where decode declines (a K too long
          * for A in shared memory), then sm90_prefill. */
         {16, {DECODE, DECODE_V2, SM90_PREFILL}},
         /* M >= 17: sm90_prefill beats the fallback at every M of both sweeps
          * but k/v (1024 x 2560) at M = 384..1024 (by 4-8% in the v5 tune;
          * an M band cannot tell k/v from q), and cuBLAS itself at
          * M = 8192 on three of four shapes. The fallback stays for what
          * sm90_prefill declines (A not 16-byte aligned, lda not a multiple
          * of 8, G < 32). */
         {INT64_MAX, {SM90_PREFILL}},
     },
     2},
    /* Hopper, act-order or G = 32 (`w4a16 bench --act-order` and `--group 32`
     * at M = 1 and 16, bench/results/2026-12-07-h100-v5-act-order.json and
     * -v5-g32-decode.json): decode at M = 1 is 1.4-2.3x cuBLAS with act-order
     * (sm90_prefill 0.8-1.4x), but at M = 16 sm90_prefill is the faster on
     * every Qwen3-4B shape (act-order: 13-51% faster; G = 32: 4-36%), since
     * decode gathers A element by element, or applies two groups' scales a
     * tile. The hand-over at 8 measured (`w4a16 tune --act-order` and
     * `--group 32` at M = 1..16, tree ef81445, bench/results/2026-12-08-h100-
     * tune-act-order.json and -tune-g32.json): of every hand-over from 0 to
     * 16 over both sweeps, 8 has the least worst slowdown against the fastest
     * kernel (1.20x: gate_up G = 32 at M = 8; act-order alone 1.12x). */
    {"sm_90",
     9,
     W4A16_WEIGHTS_GATHERED_OR_FINE,
     {
         {8, {DECODE, DECODE_V2, SM90_PREFILL}},
         {INT64_MAX, {SM90_PREFILL, DECODE, DECODE_V2}},
     },
     2},
    /* Every other device (sm_80 and later; not measured): the kernels that run
     * there. decode_v2 at M <= 8 measured 0.90-1.22x cuBLAS and 2-3x the
     * fallback on the H100 (bench/NOTES.md, v2), so it keeps its own limit. */
    {"default",
     0,
     W4A16_WEIGHTS_PLAIN,
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

w4a16_weight_class w4a16_weight_class_of(int act_order, int64_t group_size) {
    return act_order || (group_size > 0 && group_size % 64 != 0) ? W4A16_WEIGHTS_GATHERED_OR_FINE
                                                                 : W4A16_WEIGHTS_PLAIN;
}

const w4a16_dispatch_rule *w4a16_dispatch_rule_for(int sm_major, w4a16_weight_class weights) {
    for (int i = 0; i < RULE_COUNT; i++)
        if (RULES[i].sm_major == sm_major && RULES[i].weights == weights) return &RULES[i];
    for (int i = 0; i < RULE_COUNT; i++)
        if (RULES[i].sm_major == sm_major && RULES[i].weights == W4A16_WEIGHTS_PLAIN)
            return &RULES[i];
    return &RULES[RULE_COUNT - 1];
}

const w4a16_dispatch_band *w4a16_dispatch_rule_band(const w4a16_dispatch_rule *rule, int64_t M) {
    for (int i = 0; i < rule->n_bands - 1; i++)
        if (M <= rule->bands[i].max_m) return &rule->bands[i];
    return &rule->bands[rule->n_bands - 1];
}
