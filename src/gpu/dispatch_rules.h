/* auto's rule (docs/DESIGN.md §5): per device class, bands of M, each with
 * the kernels auto tries in order; the first that can take the call runs
 * (gpu/dispatch.c asks each kernel's cannot_run). The bands' bounds are the
 * crossovers `w4a16 tune` measures; each entry in dispatch_rules.c names the
 * measurement behind it. Host arithmetic only, tested on the CPU
 * (tests/test_dispatch_rules.c). */
#ifndef W4A16_GPU_DISPATCH_RULES_H
#define W4A16_GPU_DISPATCH_RULES_H

#include <stdint.h>

#include "gpu/kernel_id.h"

enum {
    W4A16_RULE_KERNELS = 3, /* kernels a band may name */
    W4A16_RULE_BANDS = 6,   /* bands a rule may have */
};

typedef struct {
    /* The band holds the M above the previous band's max_m up to this one;
     * the last band's is INT64_MAX. */
    int64_t max_m;
    /* In order of preference; the slots after the last are W4A16_KERNEL_AUTO. */
    w4a16_kernel kernels[W4A16_RULE_KERNELS];
} w4a16_dispatch_band;

/* Weights whose decode tiles cost more than a plain weight's, so that decode
 * hands over to sm90_prefill at a lower M: act-order (A gathered through
 * perm, element by element) or a group size that splits a 64-column tile
 * (G = 32, 48, ...: the scales change within a tile). */
typedef enum {
    W4A16_WEIGHTS_PLAIN = 0,
    W4A16_WEIGHTS_GATHERED_OR_FINE = 1,
} w4a16_weight_class;

w4a16_weight_class w4a16_weight_class_of(int act_order, int64_t group_size);

typedef struct {
    const char *device_class; /* "sm_90", or "default" for the devices not measured */
    int sm_major;             /* the class's compute capability major; 0 in "default" */
    w4a16_weight_class weights; /* the weights the rule is for */
    w4a16_dispatch_band bands[W4A16_RULE_BANDS];
    int n_bands;
} w4a16_dispatch_rule;

/* The rule of a device of compute capability sm_major.x for a class of
 * weights: its device class's for those weights, else its device class's
 * for plain weights, else the default rule. Never NULL. */
const w4a16_dispatch_rule *w4a16_dispatch_rule_for(int sm_major, w4a16_weight_class weights);
/* The band holding M (M <= 0: the first). Never NULL. */
const w4a16_dispatch_band *w4a16_dispatch_rule_band(const w4a16_dispatch_rule *rule, int64_t M);
/* Every rule, for tests and for `w4a16 tune`'s report. */
const w4a16_dispatch_rule *w4a16_dispatch_rules(int *count);

#endif
