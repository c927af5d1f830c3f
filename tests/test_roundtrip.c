/* Quantize -> encode -> write a checkpoint folder -> open it with the
 * importer: the layer's source reproduces q, z and s (so Ŵ) exactly, for
 * every format, symmetric and asymmetric, every group size, weight and scale
 * dtype, and act-order where the format stores it; and the reference GEMM on
 * the opened layer stays within the quantizer's bound of the dense product. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/source.h"
#include "checkpoint_builder.h"
#include "common/dtype.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"
#include "quantize/quantize.h"
#include "quantize/unpacked.h"
#include "test_support.h"

static const char *const LAYER = "model.layers.0.mlp.gate_proj";

/* Writes w as the only quantized layer of a folder (with a dense embedding
 * beside it) and returns the opened checkpoint. */
static w4a16_checkpoint *write_and_open(const w4a16_unpacked *w, w4a16_format format,
                                        const char *dir, uint64_t *rng) {
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(w, format, LAYER, &list, NULL), W4A16_OK);
    uint16_t embedding[4 * 16];
    test_fill_random(embedding, W4A16_BF16, 4 * 16, -1, 1, rng);
    assert_int_equal(w4a16_tensor_list_add(&list, "model.embed_tokens.weight", W4A16_BF16, 2,
                                           (int64_t[]){4, 16}, embedding),
                     W4A16_OK);
    w4a16_quantization_params params = {
        .group_size = w->group_size, .symmetric = w->symmetric,
        .act_order = !w4a16_g_idx_is_trivial(w->g_idx, w->k, w->group_size)};
    json_t *quantization = NULL;
    assert_int_equal(w4a16_quantization_config(format, &params, &quantization), W4A16_OK);
    json_t *config = json_pack("{s:s, s:o}", "model_type", "llama", "quantization_config",
                               quantization);
    assert_int_equal(w4a16_checkpoint_write(dir, &list, config), W4A16_OK);
    json_decref(config);
    w4a16_tensor_list_free(&list);
    return test_open_ok(dir, W4A16_FORMAT_AUTO);
}

/* The opened layer holds exactly w's values (scales as the format stores them). */
static void expect_layer(const w4a16_checkpoint *ckpt, w4a16_format format,
                         const w4a16_unpacked *w, w4a16_source *src) {
    assert_int_equal(w4a16_checkpoint_format(ckpt), format);
    int64_t index;
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, LAYER, &index), W4A16_OK);
    w4a16_layer_info info;
    assert_int_equal(w4a16_checkpoint_layer(ckpt, index, &info), W4A16_OK);
    assert_int_equal(info.status, W4A16_LAYER_QUANTIZED);
    assert_int_equal(info.n, w->n);
    assert_int_equal(info.k, w->k);
    assert_int_equal(info.group_size, w->group_size);
    assert_int_equal(info.symmetric, w->symmetric);
    assert_int_equal(info.act_order, w->g_idx != NULL);
    test_source_of(ckpt, LAYER, src);
    w4a16_unpacked back;
    assert_int_equal(w4a16_unpack_source(src, &back), W4A16_OK);
    w4a16_dtype stored = w4a16_format_scales_dtype(format, w->scales_dtype);
    assert_int_equal(back.scales_dtype, stored);
    assert_int_equal(back.symmetric, w->symmetric);
    int64_t groups = w4a16_unpacked_groups(w);
    assert_memory_equal(back.q, w->q, (size_t)(w->n * w->k));
    if (!w->symmetric) assert_memory_equal(back.zeros, w->zeros, (size_t)(w->n * groups));
    for (int64_t i = 0; i < w->n * groups; i++)
        assert_true(back.scales[i] == w4a16_round_to_dtype(w->scales[i], stored));
    assert_true((back.g_idx == NULL) == (w->g_idx == NULL));
    if (w->g_idx != NULL)
        assert_memory_equal(back.g_idx, w->g_idx, (size_t)w->k * sizeof(int32_t));
    w4a16_unpacked_free(&back);
}

/* C = A · Ŵᵀ from the opened layer differs from A · Wᵀ by at most
 * sum_k |A[k]| s / 2: the quantizer's per-element bound. */
static void expect_reference_within_bound(const w4a16_source *src, const w4a16_unpacked *w,
                                          const void *dense, w4a16_dtype dense_dtype,
                                          uint64_t *rng) {
    uint16_t A[2 * 256];
    test_fill_random(A, W4A16_F16, 2 * w->k, -1, 1, rng);
    double C[2 * 64];
    assert_int_equal(w4a16_ref_gemm(src, A, W4A16_F16, w->k, NULL, 2, NULL, C), W4A16_OK);
    int64_t groups = w4a16_unpacked_groups(w);
    for (int64_t r = 0; r < 2; r++)
        for (int64_t n = 0; n < w->n; n++) {
            double exact = 0, bound = 0;
            for (int64_t k = 0; k < w->k; k++) {
                double a = w4a16_load_as_double(A, W4A16_F16, r * w->k + k);
                exact += a * w4a16_load_as_double(dense, dense_dtype, n * w->k + k);
                bound += fabs(a) * w->scales[n * groups + k / (w->k / groups)] / 2;
            }
            assert_true(fabs(C[r * w->n + n] - exact) <= bound * (1 + 1e-9));
        }
}

static void test_quantize_write_open(void **state) {
    (void)state;
    const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                    W4A16_FORMAT_CT};
    const int64_t group_sizes[] = {32, 64, 128, -1};
    const w4a16_dtype weight_dtypes[] = {W4A16_F32, W4A16_F16, W4A16_BF16};
    const w4a16_dtype ct_scale_dtypes[] = {W4A16_F16, W4A16_BF16, W4A16_F32};
    const int64_t n = 64, k = 256;
    uint64_t rng = 77;
    float dense[64 * 256];
    for (int f = 0; f < 4; f++)
        for (int gs = 0; gs < 4; gs++)
            for (int symmetric = 0; symmetric <= 1; symmetric++)
                for (int d = 0; d < 3; d++) {
                    /* AWQ and GPTQ store F16 scales; compressed-tensors any of three. */
                    w4a16_dtype scales_dtype =
                        formats[f] == W4A16_FORMAT_CT ? ct_scale_dtypes[(d + gs) % 3] : W4A16_F16;
                    test_fill_random(dense, weight_dtypes[d], n * k, -0.5, 0.7, &rng);
                    w4a16_unpacked w;
                    assert_int_equal(
                        w4a16_quantize_min_zero(dense, weight_dtypes[d], n, k, group_sizes[gs],
                                                symmetric, scales_dtype,
                                                w4a16_format_min_zero(formats[f]), &w),
                        W4A16_OK);
                    const char *dir = test_scratch_dir("roundtrip");
                    w4a16_checkpoint *ckpt = write_and_open(&w, formats[f], dir, &rng);
                    w4a16_source src;
                    expect_layer(ckpt, formats[f], &w, &src);
                    expect_reference_within_bound(&src, &w, dense, weight_dtypes[d], &rng);
                    w4a16_checkpoint_close(ckpt);
                    w4a16_unpacked_free(&w);
                }
}

/* Act-order: a shuffled g_idx survives GPTQ (desc_act) and compressed-tensors
 * (actorder "group"). */
static void test_act_order_write_open(void **state) {
    (void)state;
    const w4a16_format formats[] = {W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    const int64_t n = 32, k = 256;
    uint64_t rng = 78;
    float dense[32 * 256];
    for (int f = 0; f < 3; f++)
        for (int symmetric = 0; symmetric <= 1; symmetric++) {
            test_fill_random(dense, W4A16_F32, n * k, -1, 1, &rng);
            w4a16_unpacked w;
            assert_int_equal(w4a16_quantize_min_zero(dense, W4A16_F32, n, k, 64, symmetric,
                                                     W4A16_F16, w4a16_format_min_zero(formats[f]),
                                                     &w),
                             W4A16_OK);
            w.g_idx = malloc((size_t)k * sizeof *w.g_idx);
            for (int64_t c = 0; c < k; c++) w.g_idx[c] = (int32_t)(test_rng_next(&rng) % 4);
            w4a16_checkpoint *ckpt = write_and_open(&w, formats[f], test_scratch_dir("act"), &rng);
            w4a16_source src;
            expect_layer(ckpt, formats[f], &w, &src);
            w4a16_checkpoint_close(ckpt);
            w4a16_unpacked_free(&w);
        }
}

/* F32 scales written to AWQ are rounded to F16: the change is reported and the
 * file holds the rounded scales. (BF16 scales in F16's range need no rounding:
 * 8 significant bits fit in 11.) */
static void test_scales_rounded_to_f16(void **state) {
    (void)state;
    const int64_t n = 16, k = 128;
    uint64_t rng = 79;
    float dense[16 * 128];
    test_fill_random(dense, W4A16_F32, n * k, -1, 1, &rng);
    w4a16_unpacked w;
    assert_int_equal(w4a16_quantize(dense, W4A16_F32, n, k, 128, 0, W4A16_F32, &w), W4A16_OK);
    w4a16_tensor_list list = {0};
    double change = 0;
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_AWQ, LAYER, &list, &change), W4A16_OK);
    assert_true(change > 0 && change <= 1.0 / 2048);
    w4a16_tensor_list_free(&list);
    w4a16_checkpoint *ckpt = write_and_open(&w, W4A16_FORMAT_AWQ, test_scratch_dir("f16"), &rng);
    w4a16_source src;
    expect_layer(ckpt, W4A16_FORMAT_AWQ, &w, &src);
    w4a16_checkpoint_close(ckpt);
    w4a16_unpacked_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_write_open),
        cmocka_unit_test(test_act_order_write_open),
        cmocka_unit_test(test_scales_rounded_to_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
