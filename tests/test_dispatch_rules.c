/* auto's rule (src/gpu/dispatch_rules.c): Hopper's bands are today's
 * measured crossovers (decode to M = 16, sm90_prefill above), other devices
 * get the kernels that run there, and every rule is
 * well formed: bands ascending, the last open-ended, each naming a kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gpu/dispatch_rules.h"

static w4a16_kernel first_choice(int sm_major, int64_t m) {
    return w4a16_dispatch_rule_band(w4a16_dispatch_rule_for(sm_major, W4A16_WEIGHTS_PLAIN), m)->kernels[0];
}

static void test_hopper_bands(void **state) {
    (void)state;
    const w4a16_dispatch_rule *rule = w4a16_dispatch_rule_for(9, W4A16_WEIGHTS_PLAIN);
    assert_string_equal(rule->device_class, "sm_90");
    for (int64_t m = 0; m <= 16; m++) {
        const w4a16_dispatch_band *band = w4a16_dispatch_rule_band(rule, m);
        assert_int_equal(band->kernels[0], W4A16_KERNEL_DECODE);
        assert_int_equal(band->kernels[1], W4A16_KERNEL_DECODE_V2); /* where decode declines */
        assert_int_equal(band->kernels[2], W4A16_KERNEL_SM90_PREFILL);
    }
    const int64_t prefill[] = {17, 64, 1000, 1024, 1025, 2048, 8192, INT64_MAX};
    for (size_t i = 0; i < sizeof prefill / sizeof prefill[0]; i++)
        assert_int_equal(first_choice(9, prefill[i]), W4A16_KERNEL_SM90_PREFILL);
}

/* Act-order and groups that split a 64-column tile: decode hands over at 8;
 * those weights on other devices take the plain rule. */
static void test_gathered_or_fine_weights(void **state) {
    (void)state;
    assert_int_equal(w4a16_weight_class_of(1, 128), W4A16_WEIGHTS_GATHERED_OR_FINE);
    assert_int_equal(w4a16_weight_class_of(0, 32), W4A16_WEIGHTS_GATHERED_OR_FINE);
    assert_int_equal(w4a16_weight_class_of(0, 96), W4A16_WEIGHTS_GATHERED_OR_FINE);
    assert_int_equal(w4a16_weight_class_of(0, 64), W4A16_WEIGHTS_PLAIN);
    assert_int_equal(w4a16_weight_class_of(0, 128), W4A16_WEIGHTS_PLAIN);
    assert_int_equal(w4a16_weight_class_of(0, -1), W4A16_WEIGHTS_PLAIN);
    const w4a16_dispatch_rule *rule = w4a16_dispatch_rule_for(9, W4A16_WEIGHTS_GATHERED_OR_FINE);
    assert_string_equal(rule->device_class, "sm_90");
    assert_int_equal(rule->weights, W4A16_WEIGHTS_GATHERED_OR_FINE);
    for (int64_t m = 1; m <= 8; m++)
        assert_int_equal(w4a16_dispatch_rule_band(rule, m)->kernels[0], W4A16_KERNEL_DECODE);
    for (int64_t m = 9; m <= 16; m++) {
        const w4a16_dispatch_band *band = w4a16_dispatch_rule_band(rule, m);
        assert_int_equal(band->kernels[0], W4A16_KERNEL_SM90_PREFILL);
        assert_int_equal(band->kernels[1], W4A16_KERNEL_DECODE); /* sm90 lacks workspace */
    }
    assert_int_equal(w4a16_dispatch_rule_band(rule, 4096)->kernels[0], W4A16_KERNEL_SM90_PREFILL);
    assert_string_equal(w4a16_dispatch_rule_for(8, W4A16_WEIGHTS_GATHERED_OR_FINE)->device_class,
                        "default");
}

/* Ampere, Ada, Blackwell: not measured; never a Hopper-only kernel. */
static void test_other_devices_get_the_default(void **state) {
    (void)state;
    const int majors[] = {8, 10, 12, 7};
    for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
        const w4a16_dispatch_rule *rule = w4a16_dispatch_rule_for(majors[i], W4A16_WEIGHTS_PLAIN);
        assert_string_equal(rule->device_class, "default");
        assert_int_equal(first_choice(majors[i], 1), W4A16_KERNEL_DECODE_V2);
        assert_int_equal(first_choice(majors[i], 16), W4A16_KERNEL_DECODE_V2);
        assert_int_equal(first_choice(majors[i], 17), W4A16_KERNEL_FALLBACK);
        assert_int_equal(first_choice(majors[i], 8192), W4A16_KERNEL_FALLBACK);
        for (int b = 0; b < rule->n_bands; b++)
            for (int k = 0; k < W4A16_RULE_KERNELS; k++) {
                assert_int_not_equal(rule->bands[b].kernels[k], W4A16_KERNEL_DECODE);
                assert_int_not_equal(rule->bands[b].kernels[k], W4A16_KERNEL_SM90_PREFILL);
            }
    }
}

static void test_rules_are_well_formed(void **state) {
    (void)state;
    int count = 0;
    const w4a16_dispatch_rule *rules = w4a16_dispatch_rules(&count);
    assert_true(count >= 2);
    assert_string_equal(rules[count - 1].device_class, "default");
    for (int r = 0; r < count; r++) {
        const w4a16_dispatch_rule *rule = &rules[r];
        assert_true(rule->n_bands >= 1 && rule->n_bands <= W4A16_RULE_BANDS);
        assert_true(rule->bands[rule->n_bands - 1].max_m == INT64_MAX);
        for (int b = 0; b < rule->n_bands; b++) {
            const w4a16_dispatch_band *band = &rule->bands[b];
            if (b > 0) assert_true(band->max_m > rule->bands[b - 1].max_m);
            assert_int_not_equal(band->kernels[0], W4A16_KERNEL_AUTO);
            int ended = 0;
            for (int k = 0; k < W4A16_RULE_KERNELS; k++) {
                if (band->kernels[k] == W4A16_KERNEL_AUTO) ended = 1;
                else assert_false(ended); /* no gap in the list */
                assert_true(band->kernels[k] >= 0 && band->kernels[k] < W4A16_KERNEL_COUNT);
            }
            /* The band that M = max_m falls in is this one. */
            assert_ptr_equal(w4a16_dispatch_rule_band(rule, band->max_m), band);
        }
        if (r < count - 1) assert_ptr_equal(w4a16_dispatch_rule_for(rule->sm_major, rule->weights), rule);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hopper_bands),
        cmocka_unit_test(test_gathered_or_fine_weights),
        cmocka_unit_test(test_other_devices_get_the_default),
        cmocka_unit_test(test_rules_are_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
