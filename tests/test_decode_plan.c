/* The decode kernel's split choice and shared-memory layout
 * (src/kernel_plan/decode_plan.c) on the H100's figures: a layer wide enough
 * to fill the GPU does not split, narrow ones (N = 2560) do, every plan fits
 * shared memory with aligned regions, a K too long for M tokens has no plan,
 * a forced split is honoured (clamped to the k-tiles there are), and the
 * staged groups cover every K-range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel_plan/decode_plan.h"

static const w4a16_decode_device H100 = {132, 233472, 232448, NULL, NULL};

/* A driver that runs 30 clusters of 8 at two CTAs an SM (not 33), asked with
 * what the plan knows. */
static int asked_splits, asked_ctas_per_sm;
static int64_t asked_smem;
static int thirty_clusters_of_8(void *opaque, int splits, int ctas_per_sm, int64_t smem_bytes) {
    (void)opaque;
    asked_splits = splits, asked_ctas_per_sm = ctas_per_sm, asked_smem = smem_bytes;
    return splits == 8 ? 30 : -1;
}

static w4a16_decode_shape shape_of(int64_t M, int64_t n, int64_t k, int64_t group_size) {
    const w4a16_decode_shape shape = {M, (n + 63) / 64 * 64, (k + 63) / 64 * 64, group_size, 2, 0, 0};
    return shape;
}

static void assert_plan_fits(const w4a16_decode_shape *shape, const w4a16_decode_plan *plan) {
    assert_true(plan->splits >= 1 && plan->splits <= W4A16_DECODE_MAX_SPLITS);
    assert_true(plan->splits <= shape->k_padded / 64);
    assert_true(plan->smem.bytes <= H100.smem_per_block);
    assert_true(plan->ctas_per_sm >= 1 && plan->ctas_per_sm <= W4A16_DECODE_CTAS_BY_REGISTERS);
    assert_true((plan->ctas_per_sm) * (plan->smem.bytes + W4A16_DECODE_SMEM_RESERVED) <=
                H100.smem_per_sm);
    assert_int_equal(plan->smem.a_pitch % 16, 0);
    assert_int_equal(plan->smem.scale_offset % 16, 0);
    assert_int_equal(plan->smem.zero_offset % 16, 0);
    assert_int_equal(plan->smem.perm_offset % 16, 0);
    /* 8 rows' 16-byte chunks at one column hit 8 bank groups: pitch / 16 odd. */
    assert_int_equal(plan->smem.a_pitch / 16 % 2, 1);
    assert_true(plan->smem.a_pitch >= plan->k_tiles * 128);
    assert_true(plan->smem.scale_offset >= shape->M * plan->smem.a_pitch);
    assert_true(plan->smem.bytes >= plan->smem.partial_bytes);
    assert_true(plan->predicted_us > 0);
}

/* gate_up (19456 x 2560): 152 CTAs of 8 n-tiles already fill 132 SMs. */
static void test_wide_layer_does_not_split(void **state) {
    (void)state;
    for (int64_t M = 1; M <= 16; M++) {
        const w4a16_decode_shape shape = shape_of(M, 19456, 2560, 128);
        const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, 0);
        assert_plan_fits(&shape, &plan);
        assert_int_equal(plan.splits, 1);
        assert_int_equal(plan.ctas, 152);
        assert_int_equal(plan.smem.partial_bytes, 0);
    }
}

/* o_proj and down (N = 2560): 20 CTAs alone; K must split. */
static void test_narrow_layers_split(void **state) {
    (void)state;
    const int64_t ks[] = {4096, 9728};
    for (int i = 0; i < 2; i++)
        for (int64_t M = 1; M <= 16; M += 15) {
            const w4a16_decode_shape shape = shape_of(M, 2560, ks[i], 128);
            const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, 0);
            assert_plan_fits(&shape, &plan);
            assert_true(plan.splits >= 4);
            assert_int_equal(plan.ctas, 20 * plan.splits);
            assert_int_equal(plan.smem.partial_bytes, 8 * (M > 8 ? 2 : 1) * 32 * 16);
        }
}

/* Every M of every shape the bench sweeps has a plan that fits. */
static void test_every_bench_shape_fits(void **state) {
    (void)state;
    const int64_t shapes[][2] = {{6144, 2560},  {2560, 4096},  {19456, 2560}, {2560, 9728},
                                 {4096, 2560},  {1024, 2560},  {9728, 2560},  {10240, 8192},
                                 {8192, 8192},  {28672, 8192}, {8192, 28672}, {57344, 8192}};
    const int64_t groups[] = {32, 64, 128, -1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int g = 0; g < 4; g++)
            for (int64_t M = 1; M <= 16; M++) {
                w4a16_decode_shape shape = shape_of(M, shapes[s][0], shapes[s][1], groups[g]);
                shape.asymmetric = (int)(M % 2);
                shape.act_order = groups[g] > 0 && M % 3 == 0;
                shape.scale_bytes = M % 5 == 0 ? 4 : 2;
                const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, 0);
                assert_plan_fits(&shape, &plan);
            }
}

/* The 70B down projection (K = 28672) at M = 16: 917 KB of A, so at least
 * five K-ranges before a CTA's share fits. */
static void test_long_k_splits_to_fit(void **state) {
    (void)state;
    const w4a16_decode_shape shape = shape_of(16, 8192, 28672, 128);
    const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, 0);
    assert_plan_fits(&shape, &plan);
    assert_true(plan.splits >= 5);
    assert_true(plan.k_tiles * 64 * 2 * 16 <= H100.smem_per_block);
}

/* K = 131072 at M = 16: 512 KB of A per CTA even split 8 ways. */
static void test_too_long_k_has_no_plan(void **state) {
    (void)state;
    const w4a16_decode_shape shape = shape_of(16, 4096, 131072, 128);
    assert_int_equal(w4a16_decode_plan_choose(&shape, &H100, 0).splits, 0);
    assert_int_equal(w4a16_decode_plan_choose(&shape, &H100, 8).splits, 0);
    const w4a16_decode_shape one_token = shape_of(1, 4096, 131072, 128);
    assert_true(w4a16_decode_plan_choose(&one_token, &H100, 0).splits >= 1);
}

/* q (4096 x 2560) split 8 ways is 32 clusters: with room for 33 one wave,
 * with room for 30 (a cluster stays in one GPC) two; the driver's count is
 * asked with the plan's own figures, and an unknown count falls back. */
static void test_clusters_that_do_not_fit_take_a_second_wave(void **state) {
    (void)state;
    w4a16_decode_device gpcs = H100;
    gpcs.max_clusters = thirty_clusters_of_8;
    const w4a16_decode_shape shape = shape_of(1, 4096, 2560, 128);
    const w4a16_decode_plan ideal = w4a16_decode_plan_choose(&shape, &H100, 8);
    const w4a16_decode_plan real = w4a16_decode_plan_choose(&shape, &gpcs, 8);
    assert_int_equal(real.ctas, 256);
    assert_int_equal(asked_splits, 8);
    assert_int_equal(asked_ctas_per_sm, real.ctas_per_sm);
    assert_int_equal(asked_smem, real.smem.bytes);
    assert_true(real.predicted_us > ideal.predicted_us * 1.2);
    assert_true(w4a16_decode_plan_choose(&shape, &gpcs, 0).splits < 8);
    const w4a16_decode_plan unknown = w4a16_decode_plan_choose(&shape, &gpcs, 4);
    assert_true(unknown.predicted_us == w4a16_decode_plan_choose(&shape, &H100, 4).predicted_us);
}

/* A forced split is used as given, clamped to the k-tiles (K = 200: 4). */
static void test_forced_splits(void **state) {
    (void)state;
    const w4a16_decode_shape shape = shape_of(9, 19456, 2560, 64);
    for (int s = 1; s <= W4A16_DECODE_MAX_SPLITS; s++) {
        const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, s);
        assert_plan_fits(&shape, &plan);
        assert_int_equal(plan.splits, s);
        assert_int_equal(plan.k_tiles, (40 + s - 1) / s);
    }
    const w4a16_decode_shape short_k = shape_of(3, 64, 200, -1);
    const w4a16_decode_plan plan = w4a16_decode_plan_choose(&short_k, &H100, 8);
    assert_plan_fits(&short_k, &plan);
    assert_int_equal(plan.splits, 4);
    assert_int_equal(plan.k_tiles, 1);
}

/* The staged scale rows cover the groups of every K-range, whatever G:
 * per-channel one; G = 48 and 32 more than one per k-tile. */
static void test_groups_cover_every_range(void **state) {
    (void)state;
    const int64_t groups[] = {-1, 32, 48, 64, 96, 128, 4160};
    for (int g = 0; g < 7; g++)
        for (int s = 1; s <= W4A16_DECODE_MAX_SPLITS; s++) {
            const w4a16_decode_shape shape = shape_of(4, 128, 4160, groups[g]);
            const w4a16_decode_plan plan = w4a16_decode_plan_choose(&shape, &H100, s);
            assert_int_equal(plan.splits, s);
            const int64_t tiles = shape.k_padded / 64;
            for (int r = 0; r < s; r++) {
                const int64_t begin = w4a16_decode_range_begin(tiles, s, r);
                const int64_t end = w4a16_decode_range_begin(tiles, s, r + 1);
                assert_true(end - begin >= 1 && end - begin <= plan.k_tiles);
                if (groups[g] < 0) {
                    assert_int_equal(plan.groups, 1);
                    continue;
                }
                const int64_t touched = (64 * end - 1) / groups[g] - 64 * begin / groups[g] + 1;
                assert_true(touched <= plan.groups);
            }
        }
}

/* Zeros, act-order's perm and fp32 scales each take their room. */
static void test_layout_regions(void **state) {
    (void)state;
    w4a16_decode_shape shape = shape_of(5, 256, 1024, 64);
    const w4a16_decode_smem plain = w4a16_decode_smem_layout(&shape, 16, 17, 1);
    assert_int_equal(plain.a_pitch, 16 * 128 + 16);
    assert_int_equal(plain.scale_offset, 5 * plain.a_pitch);
    assert_int_equal(plain.zero_offset, plain.scale_offset + 17 * W4A16_DECODE_ROWS * 2);
    assert_int_equal(plain.perm_offset, plain.zero_offset);
    assert_int_equal(plain.bytes, plain.perm_offset);
    assert_int_equal(plain.partial_bytes, 0);
    shape.asymmetric = 1;
    shape.act_order = 1;
    shape.scale_bytes = 4;
    const w4a16_decode_smem full = w4a16_decode_smem_layout(&shape, 16, 17, 2);
    assert_int_equal(full.zero_offset, full.scale_offset + 17 * W4A16_DECODE_ROWS * 4);
    assert_int_equal(full.perm_offset, full.zero_offset + 17 * W4A16_DECODE_ROWS);
    assert_int_equal(full.bytes, full.perm_offset + 16 * 64 * 4);
    assert_int_equal(full.partial_bytes, 8 * 32 * 16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_layer_does_not_split),
        cmocka_unit_test(test_narrow_layers_split),
        cmocka_unit_test(test_every_bench_shape_fits),
        cmocka_unit_test(test_long_k_splits_to_fit),
        cmocka_unit_test(test_too_long_k_has_no_plan),
        cmocka_unit_test(test_forced_splits),
        cmocka_unit_test(test_clusters_that_do_not_fit_take_a_second_wave),
        cmocka_unit_test(test_groups_cover_every_range),
        cmocka_unit_test(test_layout_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
