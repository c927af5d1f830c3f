/* The packed layout's index math (src/packed/packed_layout.h), the pack plan
 * (shapes, sizes, errors) and the act-order order, on the host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/layouts.h"
#include "packed/pack_plan.h"
#include "packed/packed_layout.h"

/* Every fragment element of every lane maps to the (word, nibble) that
 * w4a16_packed_locate gives its (n, k), and the 1024 positions of a tile are
 * all distinct. */
static void test_fragment_matches_locate(void **state) {
    (void)state;
    uint8_t seen[W4A16_TILE_WORDS][8];
    memset(seen, 0, sizeof seen);
    for (int lane = 0; lane < 32; lane++)
        for (int step = 0; step < 4; step++)
            for (int a = 0; a < 8; a++) {
                int64_t n = w4a16_frag_row(lane, a), k = 16 * step + w4a16_frag_col(lane, a);
                w4a16_packed_pos pos = w4a16_packed_locate(n, k, 64);
                assert_int_equal(pos.word, lane * 4 + step);
                assert_int_equal(pos.shift, 4 * w4a16_frag_nibble(a));
                seen[pos.word][pos.shift / 4]++;
            }
    for (int w = 0; w < W4A16_TILE_WORDS; w++)
        for (int nib = 0; nib < 8; nib++) assert_int_equal(seen[w][nib], 1);
}

/* The m16n8k16 A fragment: a0,a1 (g, 2t..2t+1), a2,a3 (g+8, ...), a4..a7 at +8 columns. */
static void test_fragment_is_mma_a_operand(void **state) {
    (void)state;
    for (int lane = 0; lane < 32; lane++) {
        int g = lane / 4, t = lane % 4;
        const int rows[8] = {g, g, g + 8, g + 8, g, g, g + 8, g + 8};
        const int cols[8] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1,
                             2 * t + 8, 2 * t + 9, 2 * t + 8, 2 * t + 9};
        for (int a = 0; a < 8; a++) {
            assert_int_equal(w4a16_frag_row(lane, a), rows[a]);
            assert_int_equal(w4a16_frag_col(lane, a), cols[a]);
        }
    }
}

/* (word >> 4p) & 0x000f000f is the pair (a[2p], a[2p+1]): low and high half. */
static void test_pair_masks(void **state) {
    (void)state;
    uint32_t word = 0;
    for (int a = 0; a < 8; a++) word |= (uint32_t)(a + 1) << (4 * w4a16_frag_nibble(a));
    for (int p = 0; p < 4; p++) {
        uint32_t v = (word >> (4 * p)) & 0x000f000fu;
        assert_int_equal(v & 0xf, 2 * p + 1);
        assert_int_equal(v >> 16, 2 * p + 2);
    }
}

/* Tiles are [k / 64][n / 16]: the next 16 rows are the next tile, the next
 * 64 columns come after all rows' tiles. */
static void test_tile_order(void **state) {
    (void)state;
    const int64_t n_padded = 192;
    assert_int_equal(w4a16_packed_locate(16, 0, n_padded).word, W4A16_TILE_WORDS);
    assert_int_equal(w4a16_packed_locate(0, 64, n_padded).word, (n_padded / 16) * W4A16_TILE_WORDS);
    assert_int_equal(w4a16_packed_locate(191, 127, n_padded).word,
                     2 * (n_padded / 16) * W4A16_TILE_WORDS - 1);
}

static void test_packed_groups(void **state) {
    (void)state;
    assert_int_equal(w4a16_packed_groups(32, 96), 4);  /* k_padded 128: one padding group */
    assert_int_equal(w4a16_packed_groups(-1, 96), 2);  /* per-channel: columns 96.. are group 1 */
    assert_int_equal(w4a16_packed_groups(-1, 128), 1);
    assert_int_equal(w4a16_packed_groups(128, 2560), 20);
    assert_int_equal(w4a16_packed_groups(64, 9728), 152);
}

/* A source whose words are never read: the plan only looks at shapes and pointers. */
typedef struct {
    int32_t words[64];
    uint16_t scales[64];
    int32_t g_idx[256];
    w4a16_source src;
} fake_source;

static void fake_make(fake_source *f, w4a16_format format, int64_t n, int64_t k, int64_t group,
                      int asymmetric) {
    memset(f, 0, sizeof *f);
    w4a16_format_layout layout;
    int64_t groups = group < 0 ? 1 : k / group;
    assert_int_equal(w4a16_format_layout_get(format, n, k, groups, &layout), W4A16_OK);
    f->src.n = n;
    f->src.k = k;
    f->src.group_size = group;
    f->src.qweight = f->words;
    f->src.qweight_layout = layout.qweight;
    f->src.qzeros = asymmetric ? f->words : NULL;
    f->src.qzeros_layout = layout.qzeros;
    f->src.scales = f->scales;
    f->src.scales_dtype = W4A16_F16;
    f->src.scales_stride_n = layout.scales_stride_n;
    f->src.scales_stride_g = layout.scales_stride_g;
}

static void test_pack_sizes(void **state) {
    (void)state;
    fake_source a, b;
    fake_make(&a, W4A16_FORMAT_AWQ, 72, 96, 32, 1);
    w4a16_pack_sizes sizes;
    assert_int_equal(w4a16_pack_size(&a.src, 1, NULL, &sizes), W4A16_OK);
    assert_int_equal(sizes.qweight_bytes, 128 * 128 / 2);
    assert_int_equal(sizes.scales_bytes, 4 * 128 * 2);
    assert_int_equal(sizes.zeros_bytes, 4 * 128);
    assert_int_equal(sizes.perm_bytes, 0);

    /* Merged qkv-like sources, then a slice of rows 40..140 and columns 32..96. */
    fake_make(&a, W4A16_FORMAT_GPTQ, 64, 128, 32, 0);
    fake_make(&b, W4A16_FORMAT_GPTQ, 96, 128, 32, 0);
    b.src.g_idx = b.g_idx;
    for (int j = 0; j < 128; j++) b.g_idx[j] = j / 32;
    w4a16_source both[2] = {a.src, b.src};
    w4a16_slice slice = {40, 140, 32, 96};
    w4a16_pack_plan plan;
    assert_int_equal(w4a16_pack_plan_make(both, 2, &slice, &plan), W4A16_OK);
    assert_int_equal(plan.total_n, 160);
    assert_int_equal(plan.row_begin[1], 64);
    assert_int_equal(plan.n, 100);
    assert_int_equal(plan.k, 64);
    assert_int_equal(plan.n_padded, 128);
    assert_int_equal(plan.k_padded, 64);
    assert_int_equal(plan.groups, 2);
    assert_int_equal(plan.groups_padded, 2);
    assert_int_equal(plan.sizes.zeros_bytes, 0);
    assert_int_equal(plan.sizes.perm_bytes, 64 * 4);

    /* Per-channel keeps one group whatever the column slice. */
    fake_make(&a, W4A16_FORMAT_CT, 8, 200, -1, 1);
    w4a16_slice columns = {0, 8, 8, 108};
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, &columns, &plan), W4A16_OK);
    assert_int_equal(plan.k, 100);
    assert_int_equal(plan.group_cols, 100);
    assert_int_equal(plan.groups, 1);
    assert_int_equal(plan.groups_padded, 2);
}

static void test_plan_errors(void **state) {
    (void)state;
    fake_source a, b;
    fake_make(&a, W4A16_FORMAT_GPTQ, 64, 128, 32, 1);
    fake_make(&b, W4A16_FORMAT_GPTQ, 64, 256, 32, 1);
    w4a16_pack_plan plan;
    w4a16_source both[2] = {a.src, b.src};
    assert_int_equal(w4a16_pack_plan_make(both, 2, NULL, &plan), W4A16_ERR_SHAPE);
    assert_non_null(strstr(w4a16_last_error(), "k=256"));
    assert_int_equal(w4a16_pack_plan_make(both, 0, NULL, &plan), W4A16_ERR_ARG);
    w4a16_slice rows = {0, 65, 0, 128};
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, &rows, &plan), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "[0, 65)"));
    w4a16_slice columns = {0, 64, 16, 128};
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, &columns, &plan), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "group_size=32"));
    fake_make(&a, W4A16_FORMAT_GPTQ, 64, 120, 24, 1);
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, NULL, &plan), W4A16_OK);
    fake_make(&a, W4A16_FORMAT_GPTQ, 64, 120, 15, 1);
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, NULL, &plan), W4A16_ERR_UNSUPPORTED);
    assert_non_null(strstr(w4a16_last_error(), "odd"));
}

static void test_pack_order(void **state) {
    (void)state;
    fake_source a;
    fake_make(&a, W4A16_FORMAT_GPTQ, 64, 128, 32, 1);
    a.src.g_idx = a.g_idx;
    /* Columns cycle through the 4 groups: group g holds columns g, g + 4, ... */
    for (int j = 0; j < 128; j++) a.g_idx[j] = j % 4;
    w4a16_pack_plan plan;
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, NULL, &plan), W4A16_OK);
    int32_t perm[128], group_of[4];
    int permuted = -1;
    assert_int_equal(w4a16_pack_order(&plan, a.g_idx, perm, group_of, &permuted), W4A16_OK);
    assert_int_equal(permuted, 1);
    for (int j = 0; j < 128; j++) assert_int_equal(perm[j], (j % 32) * 4 + j / 32); /* stable */
    for (int g = 0; g < 4; g++) assert_int_equal(group_of[g], g);

    /* A slice of columns 0..64 holds 16 columns of each group: not packable. */
    w4a16_slice half = {0, 64, 0, 64};
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, &half, &plan), W4A16_OK);
    assert_int_equal(w4a16_pack_order(&plan, a.g_idx, perm, group_of, &permuted),
                     W4A16_ERR_UNSUPPORTED);
    assert_non_null(strstr(w4a16_last_error(), "g_idx"));

    /* Trivial g_idx: no permutation. */
    for (int j = 0; j < 128; j++) a.g_idx[j] = j / 32;
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, NULL, &plan), W4A16_OK);
    assert_int_equal(w4a16_pack_order(&plan, a.g_idx, perm, group_of, &permuted), W4A16_OK);
    assert_int_equal(permuted, 0);

    /* Groups in reverse order: group_of follows the sorted order. */
    for (int j = 0; j < 128; j++) a.g_idx[j] = 3 - j / 32;
    w4a16_slice upper = {0, 64, 64, 128};
    assert_int_equal(w4a16_pack_plan_make(&a.src, 1, &upper, &plan), W4A16_OK);
    assert_int_equal(w4a16_pack_order(&plan, a.g_idx, perm, group_of, &permuted), W4A16_OK);
    assert_int_equal(permuted, 1);
    assert_int_equal(group_of[0], 0);
    assert_int_equal(group_of[1], 1);
    assert_int_equal(perm[0], 32);
    assert_int_equal(perm[32], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragment_matches_locate),
        cmocka_unit_test(test_fragment_is_mma_a_operand),
        cmocka_unit_test(test_pair_masks),
        cmocka_unit_test(test_tile_order),
        cmocka_unit_test(test_packed_groups),
        cmocka_unit_test(test_pack_sizes),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_pack_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
