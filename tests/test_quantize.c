/* The RTN quantizer: every element within s/2 of its weight for every
 * configuration, known answers, the GPTQ v1 zero range, edge groups, errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/dtype.h"
#include "quantize/quantize.h"
#include "test_support.h"

/* A dense [n, k] weight whose groups sit at different offsets, so that
 * asymmetric groups include all-positive and all-negative ones. */
static void *random_weight(w4a16_dtype dtype, int64_t n, int64_t k, int64_t segment,
                           uint64_t *rng) {
    void *weight = malloc((size_t)(n * k) * 4);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < k; c += segment) {
            double center = test_rng_uniform(rng, -1.0, 1.0);
            double spread = test_rng_uniform(rng, 0.01, 1.0);
            size_t bytes = dtype == W4A16_F32 ? 4 : 2;
            test_fill_random((char *)weight + (size_t)(r * k + c) * bytes, dtype, segment,
                             center - spread, center + spread, rng);
        }
    return weight;
}

/* Checks ranges and |w - (q - z) s| <= s/2 for every element; returns the
 * largest error in units of its group's scale. */
static double check_within_half_step(const void *weight, w4a16_dtype dtype,
                                     const w4a16_unpacked *w, int32_t min_zero) {
    int64_t groups = w->group_size < 0 ? 1 : w->k / w->group_size;
    int64_t group_size = w->k / groups;
    double worst = 0;
    for (int64_t r = 0; r < w->n; r++)
        for (int64_t c = 0; c < w->k; c++) {
            int64_t g = r * groups + c / group_size;
            double scale = w->scales[g];
            assert_true(isfinite(scale) && scale > 0);
            assert_true(w4a16_round_to_dtype((float)scale, w->scales_dtype) == (float)scale);
            int zero = w->symmetric ? 8 : w->zeros[g];
            assert_true(zero >= min_zero && zero <= 15);
            assert_true(w->q[r * w->k + c] <= 15);
            double value = w4a16_load_as_double(weight, dtype, r * w->k + c);
            double error = fabs(value - (w->q[r * w->k + c] - zero) * scale);
            assert_true(error <= scale / 2);
            worst = fmax(worst, error / scale);
        }
    return worst;
}

static void test_every_configuration_within_half_step(void **state) {
    (void)state;
    const w4a16_dtype weight_dtypes[] = {W4A16_F32, W4A16_F16, W4A16_BF16};
    const w4a16_dtype scale_dtypes[] = {W4A16_F16, W4A16_BF16, W4A16_F32};
    const int64_t group_sizes[] = {32, 64, 128, -1};
    const int64_t n = 24, k = 256;
    uint64_t rng = 1234;
    for (int wd = 0; wd < 3; wd++)
        for (int sd = 0; sd < 3; sd++)
            for (int gs = 0; gs < 4; gs++)
                for (int symmetric = 0; symmetric <= 1; symmetric++)
                    for (int32_t min_zero = 0; min_zero <= (symmetric ? 0 : 1); min_zero++) {
                        int64_t segment = group_sizes[gs] < 0 ? k : group_sizes[gs];
                        void *weight = random_weight(weight_dtypes[wd], n, k, segment, &rng);
                        w4a16_unpacked w;
                        assert_int_equal(w4a16_quantize_min_zero(weight, weight_dtypes[wd], n, k,
                                                                 group_sizes[gs], symmetric,
                                                                 scale_dtypes[sd], min_zero, &w),
                                         W4A16_OK);
                        assert_true(w.symmetric == symmetric && w.scales_dtype == scale_dtypes[sd]);
                        assert_true(symmetric ? w.zeros == NULL : w.zeros != NULL);
                        assert_null(w.g_idx);
                        double worst = check_within_half_step(weight, weight_dtypes[wd], &w,
                                                              min_zero);
                        /* Random data uses the whole half step somewhere. */
                        assert_true(worst > 0.4);
                        w4a16_unpacked_free(&w);
                        assert_null(w.q);
                        free(weight);
                    }
}

/* The scale is the ideal one rounded, moved up at most a couple of ulps. */
static void test_scale_is_tight(void **state) {
    (void)state;
    uint64_t rng = 99;
    const int64_t n = 64, k = 128;
    for (int symmetric = 0; symmetric <= 1; symmetric++) {
        float *weight = random_weight(W4A16_F32, n, k, 32, &rng);
        w4a16_unpacked w;
        assert_int_equal(w4a16_quantize(weight, W4A16_F32, n, k, 32, symmetric, W4A16_BF16, &w),
                         W4A16_OK);
        for (int64_t i = 0; i < n * (k / 32); i++) {
            const float *group = weight + i * 32;
            double lo = 0, hi = 0, amax = 0;
            for (int j = 0; j < 32; j++) {
                lo = fmin(lo, group[j]);
                hi = fmax(hi, group[j]);
                amax = fmax(amax, fabs(group[j]));
            }
            double ideal = symmetric ? amax / 7.5 : (hi - lo) / 15;
            /* bf16 ulp is 2^-7 relative: nearest is within half of it, nudges add one. */
            assert_true(fabs(w.scales[i] - ideal) <= ideal * 1.5 / 128);
        }
        w4a16_unpacked_free(&w);
        free(weight);
    }
}

/* Hand-computed: s = 0.9375 / 7.5 = 0.125 (exact); rint halves go to even. */
static void test_symmetric_known_answer(void **state) {
    (void)state;
    float weight[32];
    for (int i = 0; i < 32; i++) weight[i] = 0.0625f * (float)((i % 7) - 3); /* |w| <= 0.1875 */
    weight[0] = -0.9375f; /* -7.5 -> -8 -> q 0 */
    weight[1] = 0.9375f;  /* 7.5 -> 8 -> q 16, clamped to 15: error exactly s/2 */
    weight[2] = 0.3f;     /* 2.4 -> 2 -> q 10 */
    weight[3] = -0.0625f; /* -0.5 -> -0 -> q 8 */
    weight[4] = 0.1875f;  /* 1.5 -> 2 -> q 10 */
    w4a16_unpacked w;
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 1, 32, 32, 1, W4A16_F16, &w), W4A16_OK);
    assert_true(w.scales[0] == 0.125f);
    const uint8_t expected[5] = {0, 15, 10, 8, 10};
    assert_memory_equal(w.q, expected, 5);
    w4a16_unpacked_free(&w);
}

/* Hand-computed: range [-0.5, 1.375] -> s = 1.875 / 15 = 0.125, z = 4. */
static void test_asymmetric_known_answer(void **state) {
    (void)state;
    float weight[32];
    for (int i = 0; i < 32; i++) weight[i] = 0.125f * (float)(i % 5);
    weight[0] = -0.5f;    /* -4 + 4 -> q 0 */
    weight[1] = 1.375f;   /* 11 + 4 -> q 15 */
    weight[2] = 0.1875f;  /* 1.5 -> 2, + 4 -> q 6 */
    weight[3] = -0.3125f; /* -2.5 -> -2, + 4 -> q 2 */
    w4a16_unpacked w;
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 1, 32, -1, 0, W4A16_BF16, &w), W4A16_OK);
    assert_true(w.scales[0] == 0.125f);
    assert_int_equal(w.zeros[0], 4);
    const uint8_t expected[4] = {0, 15, 6, 2};
    assert_memory_equal(w.q, expected, 4);
    w4a16_unpacked_free(&w);
}

/* All-positive groups want z = 0; GPTQ v1's range moves them to z = 1. */
static void test_min_zero_for_positive_groups(void **state) {
    (void)state;
    uint64_t rng = 5;
    const int64_t n = 8, k = 64;
    float weight[8 * 64];
    test_fill_random(weight, W4A16_F32, n * k, 0.25, 2.0, &rng);
    w4a16_unpacked w;
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, n, k, 32, 0, W4A16_F16, &w), W4A16_OK);
    for (int i = 0; i < n * 2; i++) assert_int_equal(w.zeros[i], 0);
    w4a16_unpacked_free(&w);
    assert_int_equal(w4a16_quantize_min_zero(weight, W4A16_F32, n, k, 32, 0, W4A16_F16, 1, &w),
                     W4A16_OK);
    for (int i = 0; i < n * 2; i++) assert_int_equal(w.zeros[i], 1);
    check_within_half_step(weight, W4A16_F32, &w, 1);
    w4a16_unpacked_free(&w);
}

/* All-zero groups get a finite nonzero scale and reproduce 0; tiny groups
 * whose scale underflows F16 still hold s/2. */
static void test_zero_and_tiny_groups(void **state) {
    (void)state;
    float weight[2 * 32];
    uint64_t rng = 77;
    memset(weight, 0, 32 * sizeof(float));
    test_fill_random(weight + 32, W4A16_F32, 32, -3e-9, 3e-9, &rng);
    for (int symmetric = 0; symmetric <= 1; symmetric++) {
        w4a16_unpacked w;
        assert_int_equal(w4a16_quantize(weight, W4A16_F32, 2, 32, 32, symmetric, W4A16_F16, &w),
                         W4A16_OK);
        check_within_half_step(weight, W4A16_F32, &w, 0);
        int zero = symmetric ? 8 : w.zeros[0];
        for (int i = 0; i < 32; i++) assert_int_equal(w.q[i], zero);
        w4a16_unpacked_free(&w);
    }
}

static void test_argument_errors(void **state) {
    (void)state;
    float weight[4 * 128];
    uint64_t rng = 3;
    test_fill_random(weight, W4A16_F32, 4 * 128, -1, 1, &rng);
    w4a16_unpacked w, untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    w = untouched;
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 96, 64, 1, W4A16_F16, &w),
                     W4A16_ERR_SHAPE);
    assert_string_equal(w4a16_last_error(), "K=96 is not a multiple of group_size=64");
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 48, 1, W4A16_F16, &w),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "group_size=48"));
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 0, 128, 32, 1, W4A16_F16, &w),
                     W4A16_ERR_SHAPE);
    assert_int_equal(w4a16_quantize(weight, W4A16_I32, 4, 128, 32, 1, W4A16_F16, &w),
                     W4A16_ERR_UNSUPPORTED);
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 32, 1, W4A16_F64, &w),
                     W4A16_ERR_UNSUPPORTED);
    assert_int_equal(w4a16_quantize(NULL, W4A16_F32, 4, 128, 32, 1, W4A16_F16, &w),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 32, 1, W4A16_F16, NULL),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_quantize_min_zero(weight, W4A16_F32, 4, 128, 32, 0, W4A16_F16, 2, &w),
                     W4A16_ERR_ARG);
    weight[3 * 128 + 5] = NAN;
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 32, 1, W4A16_F16, &w),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "weight[3, 5]"));
    weight[3 * 128 + 5] = 1e6f; /* 1e6 / 7.5 is beyond F16's 65504 */
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 32, 1, W4A16_F16, &w),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "row 3 group 0"));
    assert_non_null(strstr(w4a16_last_error(), "overflows F16"));
    assert_memory_equal(&w, &untouched, sizeof w);
    assert_int_equal(w4a16_quantize(weight, W4A16_F32, 4, 128, 32, 1, W4A16_BF16, &w), W4A16_OK);
    w4a16_unpacked_free(&w);
    w4a16_unpacked_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_configuration_within_half_step),
        cmocka_unit_test(test_scale_is_tight),
        cmocka_unit_test(test_symmetric_known_answer),
        cmocka_unit_test(test_asymmetric_known_answer),
        cmocka_unit_test(test_min_zero_for_positive_groups),
        cmocka_unit_test(test_zero_and_tiny_groups),
        cmocka_unit_test(test_argument_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
