/* The row-range forms that let threads share a layer: quantizing, unpacking
 * and encoding rows in ranges of any split, taken in any order, gives the
 * same bytes as the one-step calls; encoder ranges must keep the 8 rows of a
 * word together; the plan lists exactly the tensors encode writes; the fast
 * word packers agree with the one-value layout accessors on every format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/layouts.h"
#include "checkpoint/source.h"
#include "quantize/encode.h"
#include "quantize/quantize.h"
#include "quantize/unpacked.h"
#include "test_support.h"

static const w4a16_format FORMATS[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                       W4A16_FORMAT_CT};

/* Row boundaries: multiples of 8 in a shuffled order of ranges. */
enum { SPLITS = 4 };
static const int64_t BOUNDS[SPLITS + 1] = {0, 8, 40, 48, 72};
static const int ORDER[SPLITS] = {2, 0, 3, 1};

static void assert_lists_equal(const w4a16_tensor_list *a, const w4a16_tensor_list *b) {
    assert_int_equal(a->count, b->count);
    for (int64_t i = 0; i < a->count; i++) {
        const w4a16_st_write_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->ndim, y->ndim);
        uint64_t bytes = 0;
        assert_int_equal(w4a16_st_tensor_bytes(x->dtype, x->ndim, x->shape, &bytes), W4A16_OK);
        assert_memory_equal(x->shape, y->shape, sizeof x->shape);
        if (x->data != NULL && y->data != NULL) assert_memory_equal(x->data, y->data, bytes);
    }
}

static void test_quantize_and_encode_in_ranges(void **state) {
    (void)state;
    const int64_t n = BOUNDS[SPLITS], k = 256;
    uint64_t rng = 0x4a9e;
    uint16_t *weight = malloc((size_t)(n * k) * 2);
    assert_non_null(weight);
    test_fill_random(weight, W4A16_F16, n * k, -0.3, 0.2, &rng);
    for (int f = 0; f < 4; f++)
        for (int symmetric = 0; symmetric <= 1; symmetric++) {
            w4a16_format format = FORMATS[f];
            int32_t min_zero = w4a16_format_min_zero(format);
            w4a16_unpacked whole, split;
            assert_int_equal(w4a16_quantize_min_zero(weight, W4A16_F16, n, k, 64, symmetric,
                                                     W4A16_F16, min_zero, &whole),
                             W4A16_OK);
            assert_int_equal(w4a16_quantize_begin(n, k, 64, symmetric, W4A16_F16, &split), W4A16_OK);
            w4a16_tensor_list expected = {0}, got = {0}, plan = {0};
            assert_int_equal(w4a16_encode(&whole, format, "l", &expected, NULL), W4A16_OK);
            w4a16_encoder encoder;
            assert_int_equal(w4a16_encoder_begin(&split, format, "l", &got, &encoder), W4A16_OK);
            for (int s = 0; s < SPLITS; s++) {
                int64_t begin = BOUNDS[ORDER[s]], end = BOUNDS[ORDER[s] + 1];
                assert_int_equal(w4a16_quantize_rows(weight, W4A16_F16, min_zero, begin, end, &split),
                                 W4A16_OK);
                assert_int_equal(w4a16_encoder_rows(&encoder, begin, end, NULL), W4A16_OK);
            }
            assert_memory_equal(whole.q, split.q, (size_t)(n * k));
            assert_lists_equal(&expected, &got);
            /* The plan names the same tensors, dtypes and shapes, without data. */
            assert_int_equal(w4a16_encode_plan(format, n, k, 64, symmetric, 0, W4A16_F16, "l", &plan),
                             W4A16_OK);
            assert_lists_equal(&expected, &plan);
            for (int64_t i = 0; i < plan.count; i++) assert_null(plan.tensors[i].data);
            /* Ranges that split a word's 8 rows are refused. */
            assert_int_equal(w4a16_encoder_rows(&encoder, 4, 16, NULL), W4A16_ERR_ARG);
            assert_int_equal(w4a16_encoder_rows(&encoder, 8, 12, NULL), W4A16_ERR_ARG);
            assert_int_equal(w4a16_encoder_rows(&encoder, 64, 80, NULL), W4A16_ERR_ARG);
            w4a16_tensor_list_free(&expected);
            w4a16_tensor_list_free(&got);
            w4a16_tensor_list_free(&plan);
            w4a16_unpacked_free(&whole);
            w4a16_unpacked_free(&split);
        }
    free(weight);
}

/* The plan of an act-order layer, and the errors it shares with encode. */
static void test_plan_act_order_and_errors(void **state) {
    (void)state;
    w4a16_tensor_list plan = {0};
    assert_int_equal(w4a16_encode_plan(W4A16_FORMAT_CT, 16, 64, 32, 1, 1, W4A16_BF16, "l", &plan),
                     W4A16_OK);
    assert_int_equal(plan.count, 4); /* scale, packed, g_idx, shape: no zero point when symmetric */
    assert_non_null(w4a16_tensor_list_find(&plan, "l.weight_g_idx"));
    assert_int_equal(w4a16_tensor_list_find(&plan, "l.weight_scale")->dtype, W4A16_BF16);
    assert_int_equal(w4a16_encode_plan(W4A16_FORMAT_AWQ, 16, 64, 32, 0, 1, W4A16_F16, "m", &plan),
                     W4A16_ERR_UNSUPPORTED);
    assert_int_equal(w4a16_encode_plan(W4A16_FORMAT_AWQ, 4, 64, 32, 0, 0, W4A16_F16, "m", &plan),
                     W4A16_ERR_SHAPE);
    assert_non_null(strstr(w4a16_last_error(), "N=4"));
    assert_int_equal(w4a16_encode_plan(W4A16_FORMAT_GPTQ, 16, 96, 64, 0, 0, W4A16_F16, "m", &plan),
                     W4A16_ERR_SHAPE);
    assert_int_equal(plan.count, 4); /* nothing appended by the failures */
    w4a16_tensor_list_free(&plan);
}

/* Every format's words, packed and unpacked a row range at a time, against
 * w4a16_qlayout_put / w4a16_qlayout_get one value at a time. */
static void test_word_packers_match_the_accessors(void **state) {
    (void)state;
    const int64_t k = 48, groups = 3;
    uint64_t rng = 0x9ac;
    uint8_t values[24 * 48], back[24 * 48];
    for (int f = 0; f < 4; f++) {
        /* ct takes N not a multiple of 8 (its last zero word is partly filled). */
        int64_t n = FORMATS[f] == W4A16_FORMAT_CT ? 21 : 24;
        w4a16_format_layout layout;
        assert_int_equal(w4a16_format_layout_get(FORMATS[f], n, k, groups, &layout), W4A16_OK);
        const w4a16_qlayout *layouts[2] = {&layout.qweight, &layout.qzeros};
        const int64_t *shapes[2] = {layout.qweight_shape, layout.qzeros_shape};
        const int64_t cols[2] = {k, groups};
        for (int t = 0; t < 2; t++) {
            size_t words = (size_t)(shapes[t][0] * shapes[t][1]);
            int32_t *fast = calloc(words, 4), *slow = calloc(words, 4);
            assert_true(fast != NULL && slow != NULL);
            for (int64_t i = 0; i < n * cols[t]; i++)
                values[i] = (uint8_t)(layouts[t]->offset + test_rng_next(&rng) % 16);
            for (int64_t r = 0; r < n; r++)
                for (int64_t c = 0; c < cols[t]; c++)
                    w4a16_qlayout_put(layouts[t], slow, r, c, values[r * cols[t] + c]);
            w4a16_qlayout_pack_rows(layouts[t], fast, values, cols[t], 0, n, cols[t], 8, n);
            w4a16_qlayout_pack_rows(layouts[t], fast, values, cols[t], 0, n, cols[t], 0, 8);
            assert_memory_equal(fast, slow, words * 4);
            memset(back, 0xff, sizeof back);
            w4a16_qlayout_unpack_rows(layouts[t], fast, cols[t], 5, n, back, cols[t]);
            w4a16_qlayout_unpack_rows(layouts[t], fast, cols[t], 0, 5, back, cols[t]);
            for (int64_t r = 0; r < n; r++)
                for (int64_t c = 0; c < cols[t]; c++)
                    assert_int_equal(back[r * cols[t] + c], w4a16_qlayout_get(layouts[t], fast, r, c));
            assert_memory_equal(back, values, (size_t)(n * cols[t]));
            free(fast);
            free(slow);
        }
    }
}

static void test_unpack_source_in_ranges(void **state) {
    (void)state;
    const int64_t n = 24, k = 128;
    uint64_t rng = 0x3b1;
    float *weight = malloc((size_t)(n * k) * 4);
    assert_non_null(weight);
    test_fill_random(weight, W4A16_F32, n * k, -1.0, 1.5, &rng);
    w4a16_unpacked w, whole, split;
    assert_int_equal(w4a16_quantize_min_zero(weight, W4A16_F32, n, k, 32, 0, W4A16_BF16, 1, &w),
                     W4A16_OK);
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_GPTQ, "l", &list, NULL), W4A16_OK);
    w4a16_source src;
    assert_int_equal(w4a16_encoded_source(&list, W4A16_FORMAT_GPTQ, "l", n, k, 32, 0, &src), W4A16_OK);
    assert_int_equal(w4a16_unpack_source(&src, &whole), W4A16_OK);
    assert_int_equal(w4a16_unpack_source_begin(&src, &split), W4A16_OK);
    w4a16_unpack_source_rows(&src, 13, n, &split);
    w4a16_unpack_source_rows(&src, 0, 13, &split);
    assert_memory_equal(whole.q, split.q, (size_t)(n * k));
    assert_memory_equal(whole.zeros, split.zeros, (size_t)(n * 4));
    assert_memory_equal(whole.scales, split.scales, (size_t)(n * 4) * sizeof(float));
    assert_memory_equal(w.q, whole.q, (size_t)(n * k));
    w4a16_unpacked_free(&w);
    w4a16_unpacked_free(&whole);
    w4a16_unpacked_free(&split);
    w4a16_tensor_list_free(&list);
    free(weight);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_and_encode_in_ranges),
        cmocka_unit_test(test_plan_act_order_and_errors),
        cmocka_unit_test(test_word_packers_match_the_accessors),
        cmocka_unit_test(test_unpack_source_in_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
