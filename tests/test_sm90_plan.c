/* The Hopper kernel's tile and split choice (src/kernel_plan/sm90_plan.c):
 * the token tile covers M without a wider tile than needed, K splits only when
 * the tiles alone cannot fill the SMs and the partials fit the workspace, and
 * a call that fills the GPU with whole tiles does not split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel_plan/sm90_plan.h"

enum { SMS = 132 };
static const size_t WORKSPACE = 64 << 20;

static void test_tile_covers_small_m(void **state) {
    (void)state;
    const int64_t ms[] = {17, 32, 33, 64, 65, 128, 129, 256};
    const int want[] = {32, 32, 64, 64, 128, 128, 256, 256};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(ms[i], 6144, 2560, SMS, WORKSPACE);
        assert_true(plan.block_m <= want[i]);
        assert_true(plan.block_m >= 32);
        assert_true(plan.splits >= 1 && plan.splits <= W4A16_SM90_MAX_SPLITS);
        assert_true(plan.predicted_us > 0);
    }
}

static void test_large_m_does_not_split(void **state) {
    (void)state;
    const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(8192, 19456, 2560, SMS, WORKSPACE);
    assert_int_equal(plan.block_m, 256);
    assert_int_equal(plan.splits, 1);
    assert_int_equal(plan.units, 152 * 32);
}

/* o_proj (2560 x 4096) at M = 17 is 20 tiles on 132 SMs: K must be shared
 * out, by split-K or stream-K, over most of the SMs. */
static void test_few_tiles_split_k(void **state) {
    (void)state;
    const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(17, 2560, 4096, SMS, WORKSPACE);
    assert_true(plan.splits > 1 || plan.streamk);
    assert_true(plan.streamk ? plan.grid >= SMS / 2 : plan.units >= SMS / 2);
    assert_true(w4a16_sm90_partial_bytes(&plan, 17, 2560) <= WORKSPACE);
}

/* gate_up (19456 x 2560) at M = 100: 152 tiles of 128 tokens are 1.15 rounds
 * of 132 SMs; stream-K shares the k-blocks evenly over all of them, two
 * partial tiles per CTA. Over several m-tiles (down at M = 2048) or several
 * rounds (M = 8192) it does not: down at 2048 runs 260 whole tiles of 160. */
static void test_ragged_rounds_use_streamk(void **state) {
    (void)state;
    const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(100, 19456, 2560, SMS, WORKSPACE);
    assert_int_equal(plan.streamk, 1);
    assert_int_equal(plan.splits, 1);
    assert_int_equal(plan.block_m, 128);
    assert_int_equal(plan.grid, SMS);
    assert_true(plan.units <= W4A16_SM90_MAX_COUNTED_TILES);
    assert_int_equal(w4a16_sm90_partial_bytes(&plan, 100, 19456),
                     (size_t)SMS * 2 * W4A16_SM90_ROWS * plan.block_m * 4);
    /* Without room for the partial tiles it falls back to whole tiles. */
    const w4a16_sm90_plan none = w4a16_sm90_plan_choose(100, 19456, 2560, SMS, 0);
    assert_int_equal(none.streamk, 0);
    assert_int_equal(none.splits, 1);
    const w4a16_sm90_plan down = w4a16_sm90_plan_choose(2048, 2560, 9728, SMS, WORKSPACE);
    assert_int_equal(down.streamk, 0);
    assert_int_equal(down.block_m, 160);
    assert_int_equal(w4a16_sm90_plan_choose(8192, 2560, 4096, SMS, WORKSPACE).streamk, 0);
    assert_int_equal(w4a16_sm90_plan_choose(64, 2560, 9728, SMS, WORKSPACE).streamk, 0);
}

/* o_proj (2560 x 4096) at M = 1024: 256-token tiles are 80 on 132 SMs; a
 * width between 128 and 256 fits more of them in one round (192: 120). */
static void test_width_fits_the_round(void **state) {
    (void)state;
    const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(1024, 2560, 4096, SMS, WORKSPACE);
    assert_true(plan.block_m > 128 && plan.block_m < 256 && plan.block_m % 32 == 0);
    assert_int_equal(plan.splits, 1);
    assert_true(plan.units > 80 && plan.units <= SMS);
    /* The picks the GPU tests rely on to cover each width (test_gpu_gemm_sm90.c). */
    const struct {
        int64_t M, n, k;
        int block_m;
    } picks[] = {{1000, 2560, 4096, 192}, {2100, 1024, 1024, 160}, {3300, 1024, 1024, 224},
                 {2700, 1024, 1024, 192}};
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
        const w4a16_sm90_plan pick =
            w4a16_sm90_plan_choose(picks[i].M, picks[i].n, picks[i].k, SMS, WORKSPACE);
        assert_int_equal(pick.block_m, picks[i].block_m);
        assert_int_equal(pick.splits, 1);
        assert_int_equal(pick.streamk, 0);
    }
}

static void test_workspace_limits_splits(void **state) {
    (void)state;
    const w4a16_sm90_plan none = w4a16_sm90_plan_choose(64, 2560, 9728, SMS, 0);
    assert_int_equal(none.splits, 1);
    assert_int_equal(w4a16_sm90_partial_bytes(&none, 64, 2560), 0);
    const size_t small = (size_t)2 * 64 * 2560 * 4; /* room for two splits */
    const w4a16_sm90_plan two = w4a16_sm90_plan_choose(64, 2560, 9728, SMS, small);
    assert_true(two.splits <= 2);
    assert_true(w4a16_sm90_partial_bytes(&two, 64, 2560) <= small);
}

/* Each split keeps at least two k-blocks: K = 128 (two blocks) never splits. */
static void test_short_k_does_not_split(void **state) {
    (void)state;
    const w4a16_sm90_plan plan = w4a16_sm90_plan_choose(40, 128, 128, SMS, WORKSPACE);
    assert_int_equal(plan.splits, 1);
}

/* The 32- and 64-token tiles run two CTAs an SM: their grid may reach twice
 * the SMs (gate_up at M = 64: stream-K over 264 CTAs), and only small M
 * chooses them; wider tiles keep one CTA an SM. */
static void test_narrow_tiles_pair_on_an_sm(void **state) {
    (void)state;
    assert_int_equal(w4a16_sm90_ctas_per_sm(32), 2);
    assert_int_equal(w4a16_sm90_ctas_per_sm(64), 2);
    assert_int_equal(w4a16_sm90_ctas_per_sm(128), 1);
    assert_int_equal(w4a16_sm90_grid(1000, 64, SMS), 2 * SMS);
    assert_int_equal(w4a16_sm90_grid(1000, 128, SMS), SMS);
    assert_int_equal(w4a16_sm90_grid(100, 32, SMS), 100);
    const w4a16_sm90_plan small = w4a16_sm90_plan_choose(64, 19456, 2560, SMS, WORKSPACE);
    assert_true(small.block_m <= 64);
    assert_true(small.grid > SMS && small.grid <= 2 * SMS);
    for (int64_t m = 257; m <= 8192; m *= 2) {
        const w4a16_sm90_plan wide = w4a16_sm90_plan_choose(m, 6144, 2560, SMS, WORKSPACE);
        assert_true(wide.block_m >= 128);
        assert_true(wide.grid <= SMS);
    }
}

/* A given plan (W4A16_SM90_PLAN's): the grid and units follow from it; an
 * unknown width, splits out of range, stream-K with splits, or tiles in
 * parts beyond the ctx's counters is no plan. Split K's parts take a whole
 * tile of fp32 per K-range, ragged tiles too. */
static void test_plan_make(void **state) {
    (void)state;
    const w4a16_sm90_plan split = w4a16_sm90_plan_make(64, 2560, 4096, SMS, 64, 3, W4A16_SM90_WHOLE);
    assert_int_equal(split.block_m, 64);
    assert_int_equal(split.splits, 3);
    assert_int_equal(split.units, 20 * 3);
    assert_int_equal(split.grid, 60);
    assert_int_equal(w4a16_sm90_partial_bytes(&split, 64, 2560), (size_t)3 * 64 * 2560 * 4);
    const w4a16_sm90_plan ragged = w4a16_sm90_plan_make(100, 2560, 4096, SMS, 64, 3, W4A16_SM90_WHOLE);
    assert_int_equal(ragged.units, 20 * 2 * 3);
    assert_int_equal(w4a16_sm90_partial_bytes(&ragged, 100, 2560), (size_t)3 * 40 * 128 * 64 * 4);
    /* 152 x 64 = 9728 tiles of 32 tokens: more than the ctx counts. */
    assert_int_equal(w4a16_sm90_plan_make(2048, 19456, 2560, SMS, 32, 2, W4A16_SM90_WHOLE).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(2048, 19456, 2560, SMS, 32, 1, W4A16_SM90_STREAMK).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(2048, 19456, 2560, SMS, 32, 1, W4A16_SM90_WHOLE).block_m, 32);
    assert_true(152 * 64 > W4A16_SM90_MAX_COUNTED_TILES);
    const w4a16_sm90_plan sk = w4a16_sm90_plan_make(2048, 2560, 9728, SMS, 256, 1, W4A16_SM90_STREAMK);
    assert_int_equal(sk.streamk, 1);
    assert_int_equal(sk.units, 160);
    assert_int_equal(sk.grid, SMS);
    assert_int_equal(w4a16_sm90_plan_make(64, 2560, 4096, SMS, 48, 1, W4A16_SM90_WHOLE).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(64, 2560, 4096, SMS, 64, 0, W4A16_SM90_WHOLE).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(64, 2560, 4096, SMS, 64, W4A16_SM90_MAX_SPLITS + 1, W4A16_SM90_WHOLE).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(64, 2560, 4096, SMS, 64, 2, W4A16_SM90_STREAMK).block_m, 0);
    /* The hybrid: down at M = 2048 is 160 tiles of 256 on 132 SMs: one whole
     * round of 132, then the 28 tiles' k-blocks shared over all 132 CTAs. */
    const w4a16_sm90_plan hy = w4a16_sm90_plan_make(2048, 2560, 9728, SMS, 256, 1, W4A16_SM90_HYBRID);
    assert_int_equal(hy.streamk, 1);
    assert_int_equal(hy.dp_tiles, SMS);
    assert_int_equal(hy.grid, SMS);
    assert_int_equal(hy.units, 160);
    /* No whole round (down at M = 256: 20 tiles), or no tiles left after the
     * whole rounds (132 x 12 tiles): no hybrid. */
    assert_int_equal(w4a16_sm90_plan_make(256, 2560, 9728, SMS, 256, 1, W4A16_SM90_HYBRID).block_m, 0);
    assert_int_equal(w4a16_sm90_plan_make(256 * 12, 128 * 132, 1024, SMS, 256, 1, W4A16_SM90_HYBRID).block_m, 0);
    /* One k-block in all: nothing for two CTAs to share. */
    assert_int_equal(w4a16_sm90_plan_make(17, 128, 64, SMS, 32, 1, W4A16_SM90_STREAMK).block_m, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tile_covers_small_m),  cmocka_unit_test(test_large_m_does_not_split),
        cmocka_unit_test(test_few_tiles_split_k),    cmocka_unit_test(test_workspace_limits_splits),
        cmocka_unit_test(test_short_k_does_not_split), cmocka_unit_test(test_ragged_rounds_use_streamk),
        cmocka_unit_test(test_width_fits_the_round), cmocka_unit_test(test_narrow_tiles_pair_on_an_sm),
        cmocka_unit_test(test_plan_make),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
