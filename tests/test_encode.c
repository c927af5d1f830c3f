/* The format writers: known-answer words written out by hand, exact
 * encode -> source -> unpack round trips for every format and configuration,
 * conversions between formats, the errors, quantization_config objects and
 * the checkpoint folder writer. */
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

#include "checkpoint/layouts.h"
#include "checkpoint/safetensors.h"
#include "common/dtype.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"
#include "quantize/unpacked.h"
#include "test_support.h"

static const w4a16_format FORMATS[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                       W4A16_FORMAT_CT};

/* Random q, zeros in min_zero..15, scales exact in scales_dtype, and a random
 * g_idx when act_order. */
static w4a16_unpacked random_unpacked(int64_t n, int64_t k, int64_t group_size, int symmetric,
                                      w4a16_dtype scales_dtype, int32_t min_zero, int act_order,
                                      uint64_t *rng) {
    w4a16_unpacked w = {.n = n, .k = k, .group_size = group_size, .symmetric = symmetric,
                        .scales_dtype = scales_dtype};
    assert_int_equal(w4a16_unpacked_alloc(&w, act_order), W4A16_OK);
    int64_t groups = w4a16_unpacked_groups(&w);
    for (int64_t i = 0; i < n * k; i++) w.q[i] = (uint8_t)(test_rng_next(rng) % 16);
    for (int64_t i = 0; i < n * groups; i++) {
        float scale = (float)test_rng_uniform(rng, 1e-3, 1.0);
        w.scales[i] = w4a16_round_to_dtype(scale, scales_dtype);
        if (!symmetric) w.zeros[i] = (uint8_t)(min_zero + test_rng_next(rng) % (16 - min_zero));
    }
    if (act_order)
        for (int64_t c = 0; c < k; c++) w.g_idx[c] = (int32_t)(test_rng_next(rng) % groups);
    return w;
}

/* b is a after the format stored a's scales as stored_dtype. */
static void assert_unpacked_equal(const w4a16_unpacked *a, const w4a16_unpacked *b,
                                  w4a16_dtype stored_dtype) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->k, b->k);
    assert_int_equal(a->group_size, b->group_size);
    assert_int_equal(a->symmetric, b->symmetric);
    assert_int_equal(b->scales_dtype, stored_dtype);
    int64_t groups = w4a16_unpacked_groups(a);
    assert_memory_equal(a->q, b->q, (size_t)(a->n * a->k));
    if (!a->symmetric) assert_memory_equal(a->zeros, b->zeros, (size_t)(a->n * groups));
    for (int64_t i = 0; i < a->n * groups; i++)
        assert_true(b->scales[i] == w4a16_round_to_dtype(a->scales[i], stored_dtype));
    assert_true((a->g_idx == NULL) == (b->g_idx == NULL));
    if (a->g_idx != NULL) assert_memory_equal(a->g_idx, b->g_idx, (size_t)a->k * sizeof(int32_t));
}

/* Encodes, reads back as a reader of the format would, unpacks, compares;
 * also checks every Ŵ through w4a16_source_weight. */
static void round_trip(const w4a16_unpacked *w, w4a16_format format) {
    w4a16_tensor_list list = {0};
    double change = -1;
    assert_int_equal(w4a16_encode(w, format, "model.layers.0.proj", &list, &change), W4A16_OK);
    w4a16_dtype stored = w4a16_format_scales_dtype(format, w->scales_dtype);
    if (stored == w->scales_dtype) assert_true(change == 0);
    else assert_true(change <= 1.0 / 2048); /* half an F16 ulp, scales >= 1e-3 are normal */
    w4a16_source src;
    assert_int_equal(w4a16_encoded_source(&list, format, "model.layers.0.proj", w->n, w->k,
                                          w->group_size, w->symmetric, &src),
                     W4A16_OK);
    w4a16_unpacked back;
    assert_int_equal(w4a16_unpack_source(&src, &back), W4A16_OK);
    assert_unpacked_equal(w, &back, stored);
    int64_t groups = w4a16_unpacked_groups(w);
    for (int64_t n = 0; n < w->n; n++)
        for (int64_t k = 0; k < w->k; k++) {
            int64_t g = w->g_idx != NULL ? w->g_idx[k] : k / (w->k / groups);
            double expected = (w->q[n * w->k + k] - w4a16_unpacked_zero(w, n, g)) *
                              (double)w4a16_round_to_dtype(w->scales[n * groups + g], stored);
            assert_true(w4a16_source_weight(&src, n, k) == expected);
        }
    w4a16_unpacked_free(&back);
    w4a16_tensor_list_free(&list);
}

static void test_round_trip_every_configuration(void **state) {
    (void)state;
    const int64_t group_sizes[] = {32, 64, 128, -1};
    const w4a16_dtype scale_dtypes[] = {W4A16_F16, W4A16_BF16, W4A16_F32};
    uint64_t rng = 42;
    for (int f = 0; f < 4; f++)
        for (int gs = 0; gs < 4; gs++)
            for (int sd = 0; sd < 3; sd++)
                for (int symmetric = 0; symmetric <= 1; symmetric++) {
                    w4a16_unpacked w = random_unpacked(24, 256, group_sizes[gs], symmetric,
                                                       scale_dtypes[sd],
                                                       w4a16_format_min_zero(FORMATS[f]), 0, &rng);
                    round_trip(&w, FORMATS[f]);
                    w4a16_unpacked_free(&w);
                }
}

static void test_round_trip_act_order(void **state) {
    (void)state;
    uint64_t rng = 7;
    for (int f = 1; f < 4; f++) /* every format but AWQ */
        for (int symmetric = 0; symmetric <= 1; symmetric++) {
            w4a16_unpacked w = random_unpacked(16, 256, 64, symmetric, W4A16_F16,
                                               w4a16_format_min_zero(FORMATS[f]), 1, &rng);
            round_trip(&w, FORMATS[f]);
            w4a16_unpacked_free(&w);
        }
}

/* compressed-tensors allows N that is not a multiple of 8: zero points are padded. */
static void test_round_trip_ct_odd_n(void **state) {
    (void)state;
    uint64_t rng = 8;
    w4a16_unpacked w = random_unpacked(13, 64, 32, 0, W4A16_BF16, 0, 0, &rng);
    round_trip(&w, W4A16_FORMAT_CT);
    w4a16_unpacked_free(&w);
}

static const w4a16_st_write_tensor *tensor(const w4a16_tensor_list *list, const char *name) {
    const w4a16_st_write_tensor *t = w4a16_tensor_list_find(list, name);
    assert_non_null(t);
    return t;
}

static void assert_shape(const w4a16_st_write_tensor *t, w4a16_dtype dtype, int64_t d0,
                         int64_t d1) {
    assert_int_equal(t->dtype, dtype);
    assert_int_equal(t->ndim, d1 < 0 ? 1 : 2);
    assert_int_equal(t->shape[0], d0);
    if (d1 >= 0) assert_int_equal(t->shape[1], d1);
}

static void assert_words(const w4a16_st_write_tensor *t, uint32_t expected) {
    int64_t count = t->shape[0] * (t->ndim == 2 ? t->shape[1] : 1);
    for (int64_t i = 0; i < count; i++)
        assert_int_equal(((const uint32_t *)t->data)[i], expected);
}

/* A weight whose q[n, k] = `q_of_n ? n % 8 : k % 8`, zeros z[n, g] = n % 8 + zero_base. */
static w4a16_unpacked pattern_weight(int64_t n, int64_t k, int q_of_n, int symmetric,
                                     int zero_base) {
    uint64_t rng = 1;
    w4a16_unpacked w = random_unpacked(n, k, 32, symmetric, W4A16_F16, 0, 0, &rng);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < k; c++) w.q[r * k + c] = (uint8_t)(q_of_n ? r % 8 : c % 8);
    if (!symmetric)
        for (int64_t r = 0; r < n; r++)
            for (int64_t g = 0; g < k / 32; g++) w.zeros[r * (k / 32) + g] = (uint8_t)(r % 8 + zero_base);
    return w;
}

/* AWQ packs columns [0,2,4,6,1,3,5,7] into nibbles 0..7: values 0..7 read 0x75316420. */
static void test_awq_known_words(void **state) {
    (void)state;
    for (int symmetric = 0; symmetric <= 1; symmetric++) {
        w4a16_unpacked w = pattern_weight(16, 64, 1, symmetric, 0);
        w4a16_tensor_list list = {0};
        assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_AWQ, "l", &list, NULL), W4A16_OK);
        assert_int_equal(list.count, 3);
        const w4a16_st_write_tensor *qweight = tensor(&list, "l.qweight");
        assert_shape(qweight, W4A16_I32, 64, 2);
        assert_words(qweight, 0x75316420u);
        const w4a16_st_write_tensor *qzeros = tensor(&list, "l.qzeros");
        assert_shape(qzeros, W4A16_I32, 2, 2);
        assert_words(qzeros, symmetric ? 0x88888888u : 0x75316420u);
        const w4a16_st_write_tensor *scales = tensor(&list, "l.scales");
        assert_shape(scales, W4A16_F16, 2, 16); /* [G', N] */
        const uint16_t *s = scales->data;
        assert_true(w4a16_f16_to_float(s[1 * 16 + 5]) == w.scales[5 * 2 + 1]);
        w4a16_tensor_list_free(&list);
        w4a16_unpacked_free(&w);
    }
}

/* GPTQ packs 8 rows of K per word in order: 0x76543210; v1 stores z - 1, v2 z. */
static void test_gptq_known_words(void **state) {
    (void)state;
    for (int v2 = 0; v2 <= 1; v2++)
        for (int symmetric = 0; symmetric <= 1; symmetric++) {
            w4a16_format format = v2 ? W4A16_FORMAT_GPTQ_V2 : W4A16_FORMAT_GPTQ;
            /* zeros n % 8 + 1 (1..8): v1 stores n % 8, v2 stores n % 8 + 1 */
            w4a16_unpacked w = pattern_weight(16, 64, 0, symmetric, 1);
            w4a16_tensor_list list = {0};
            assert_int_equal(w4a16_encode(&w, format, "l", &list, NULL), W4A16_OK);
            assert_int_equal(list.count, 4);
            const w4a16_st_write_tensor *qweight = tensor(&list, "l.qweight");
            assert_shape(qweight, W4A16_I32, 8, 16);
            assert_words(qweight, 0x76543210u);
            const w4a16_st_write_tensor *qzeros = tensor(&list, "l.qzeros");
            assert_shape(qzeros, W4A16_I32, 2, 2);
            uint32_t expected_zeros = symmetric ? (v2 ? 0x88888888u : 0x77777777u)
                                                : (v2 ? 0x87654321u : 0x76543210u);
            assert_words(qzeros, expected_zeros);
            assert_shape(tensor(&list, "l.scales"), W4A16_F16, 2, 16);
            const w4a16_st_write_tensor *g_idx = tensor(&list, "l.g_idx");
            assert_shape(g_idx, W4A16_I32, 64, -1);
            for (int c = 0; c < 64; c++) assert_int_equal(((const int32_t *)g_idx->data)[c], c / 32);
            w4a16_tensor_list_free(&list);
            w4a16_unpacked_free(&w);
        }
}

/* compressed-tensors: q packed along K (0x76543210), zero points packed along N
 * into [ceil(N/8), G'], holding z; N = 12 pads the second row's top nibbles. */
static void test_ct_known_words(void **state) {
    (void)state;
    w4a16_unpacked w = pattern_weight(12, 64, 0, 0, 0);
    w.scales_dtype = W4A16_F32;
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_CT, "l", &list, NULL), W4A16_OK);
    assert_int_equal(list.count, 4);
    const w4a16_st_write_tensor *packed = tensor(&list, "l.weight_packed");
    assert_shape(packed, W4A16_I32, 12, 8);
    assert_words(packed, 0x76543210u);
    const w4a16_st_write_tensor *zp = tensor(&list, "l.weight_zero_point");
    assert_shape(zp, W4A16_I32, 2, 2);
    const uint32_t *zwords = zp->data;
    assert_int_equal(zwords[0], 0x76543210u); /* n 0..7, g 0 */
    assert_int_equal(zwords[1], 0x76543210u); /* n 0..7, g 1 */
    assert_int_equal(zwords[2], 0x00003210u); /* n 8..11 */
    const w4a16_st_write_tensor *scale = tensor(&list, "l.weight_scale");
    assert_shape(scale, W4A16_F32, 12, 2); /* [N, G'] */
    assert_true(((const float *)scale->data)[7 * 2 + 1] == w.scales[7 * 2 + 1]);
    const w4a16_st_write_tensor *shape = tensor(&list, "l.weight_shape");
    assert_shape(shape, W4A16_I64, 2, -1);
    assert_int_equal(((const int64_t *)shape->data)[0], 12);
    assert_int_equal(((const int64_t *)shape->data)[1], 64);
    assert_null(w4a16_tensor_list_find(&list, "l.weight_g_idx"));
    w4a16_tensor_list_free(&list);
    /* Symmetric: no zero point tensor. */
    w.symmetric = 1;
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_CT, "l", &list, NULL), W4A16_OK);
    assert_int_equal(list.count, 3);
    assert_null(w4a16_tensor_list_find(&list, "l.weight_zero_point"));
    w4a16_tensor_list_free(&list);
    w.symmetric = 0;
    w4a16_unpacked_free(&w);
}

static void expect_encode_error(const w4a16_unpacked *w, w4a16_format format, w4a16_status status,
                                const char *message_part) {
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_tensor_list_add(&list, "kept", W4A16_I32, 1, (int64_t[]){1}, "abcd"),
                     W4A16_OK);
    double change = 123;
    assert_int_equal(w4a16_encode(w, format, "l", &list, &change), status);
    assert_non_null(strstr(w4a16_last_error(), message_part));
    assert_int_equal(list.count, 1);
    assert_true(change == 123);
    w4a16_tensor_list_free(&list);
}

static void test_encode_errors(void **state) {
    (void)state;
    uint64_t rng = 11;
    w4a16_unpacked w = random_unpacked(16, 64, 32, 0, W4A16_F32, 1, 1, &rng);
    expect_encode_error(&w, W4A16_FORMAT_AWQ, W4A16_ERR_UNSUPPORTED, "act-order");
    free(w.g_idx);
    w.g_idx = NULL;
    w.zeros[5] = 0;
    expect_encode_error(&w, W4A16_FORMAT_GPTQ, W4A16_ERR_UNSUPPORTED, "zero point 0 at (n=2, g=1)");
    w.zeros[5] = 16; /* a GPTQ v1 stored 15: only GPTQ v1 holds it */
    for (int f = 0; f < 4; f++)
        if (FORMATS[f] != W4A16_FORMAT_GPTQ)
            expect_encode_error(&w, FORMATS[f], W4A16_ERR_UNSUPPORTED,
                                "zero point 16 at (n=2, g=1)");
    w.zeros[5] = 3;
    w.scales[9] = 1e5f; /* beyond F16, fine for F32 */
    expect_encode_error(&w, W4A16_FORMAT_AWQ, W4A16_ERR_UNSUPPORTED, "overflows F16");
    expect_encode_error(&w, W4A16_FORMAT_GPTQ_V2, W4A16_ERR_UNSUPPORTED, "overflows F16");
    w.q[17] = 16;
    expect_encode_error(&w, W4A16_FORMAT_CT, W4A16_ERR_ARG, "q[0, 17]=16");
    w.q[17] = 1;
    expect_encode_error(&w, W4A16_FORMAT_DENSE, W4A16_ERR_ARG, "dense");
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_CT, "l", &list, NULL), W4A16_OK);
    w4a16_tensor_list_free(&list);
    w4a16_unpacked_free(&w);

    w = random_unpacked(12, 64, 32, 1, W4A16_F16, 0, 0, &rng);
    expect_encode_error(&w, W4A16_FORMAT_AWQ, W4A16_ERR_SHAPE, "N=12");
    expect_encode_error(&w, W4A16_FORMAT_GPTQ, W4A16_ERR_SHAPE, "N=12");
    w4a16_unpacked_free(&w);
}

/* GPTQ v1 -> AWQ -> CT carries every value; a v1 stored 15 (z = 16) goes
 * back into v1 word for word and nowhere else. */
static void test_convert_between_formats(void **state) {
    (void)state;
    uint64_t rng = 21;
    w4a16_unpacked w = random_unpacked(16, 128, 64, 0, W4A16_F16, 1, 0, &rng);
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_GPTQ, "a", &list, NULL), W4A16_OK);
    w4a16_source src;
    assert_int_equal(w4a16_encoded_source(&list, W4A16_FORMAT_GPTQ, "a", 16, 128, 64, 0, &src),
                     W4A16_OK);
    w4a16_unpacked from_gptq;
    assert_int_equal(w4a16_unpack_source(&src, &from_gptq), W4A16_OK);
    assert_null(from_gptq.g_idx); /* the trivial g_idx is dropped */
    assert_int_equal(w4a16_encode(&from_gptq, W4A16_FORMAT_AWQ, "b", &list, NULL), W4A16_OK);
    assert_int_equal(w4a16_encoded_source(&list, W4A16_FORMAT_AWQ, "b", 16, 128, 64, 0, &src),
                     W4A16_OK);
    w4a16_unpacked from_awq;
    assert_int_equal(w4a16_unpack_source(&src, &from_awq), W4A16_OK);
    assert_unpacked_equal(&w, &from_awq, W4A16_F16);

    /* A v1 checkpoint whose stored 15 means z = 16 (readers add 1). */
    w4a16_format_layout layout;
    assert_int_equal(w4a16_format_layout_get(W4A16_FORMAT_GPTQ, 16, 128, 2, &layout), W4A16_OK);
    int32_t *qzeros = (int32_t *)tensor(&list, "a.qzeros")->data;
    w4a16_qlayout_put(&layout.qzeros, qzeros, 3, 1, 16);
    assert_int_equal(w4a16_encoded_source(&list, W4A16_FORMAT_GPTQ, "a", 16, 128, 64, 0, &src),
                     W4A16_OK);
    assert_int_equal(w4a16_source_weight(&src, 3, 64),
                     (from_gptq.q[3 * 128 + 64] - 16) * (double)from_gptq.scales[3 * 2 + 1]);
    w4a16_unpacked with_16;
    assert_int_equal(w4a16_unpack_source(&src, &with_16), W4A16_OK);
    assert_int_equal(with_16.zeros[3 * 2 + 1], 16);
    for (int f = 0; f < 4; f++)
        if (FORMATS[f] != W4A16_FORMAT_GPTQ)
            expect_encode_error(&with_16, FORMATS[f], W4A16_ERR_UNSUPPORTED, "zero point 16");
    /* v1 -> v1: every tensor identical, the 16 stored as the 15 it was read from. */
    assert_int_equal(w4a16_encode(&with_16, W4A16_FORMAT_GPTQ, "c", &list, NULL), W4A16_OK);
    const char *suffixes[] = {"qweight", "qzeros", "scales", "g_idx"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char a_name[32], c_name[32];
        snprintf(a_name, sizeof a_name, "a.%s", suffixes[i]);
        snprintf(c_name, sizeof c_name, "c.%s", suffixes[i]);
        const w4a16_st_write_tensor *a = tensor(&list, a_name), *c = tensor(&list, c_name);
        assert_int_equal(a->dtype, c->dtype);
        assert_int_equal(a->ndim, c->ndim);
        assert_memory_equal(a->shape, c->shape, (size_t)a->ndim * sizeof a->shape[0]);
        uint64_t bytes;
        assert_int_equal(w4a16_st_tensor_bytes(a->dtype, a->ndim, a->shape, &bytes), W4A16_OK);
        assert_memory_equal(a->data, c->data, (size_t)bytes);
    }
    uint32_t word = (uint32_t)((const int32_t *)tensor(&list, "c.qzeros")->data)[1 * 2 + 0];
    assert_int_equal((word >> 12) & 15u, 15); /* z[n=3, g=1]: row g=1, word n/8=0, nibble 3 */
    w4a16_unpacked_free(&with_16);
    w4a16_unpacked_free(&from_awq);
    w4a16_unpacked_free(&from_gptq);
    w4a16_unpacked_free(&w);
    w4a16_tensor_list_free(&list);
}

static void test_unpack_source_errors(void **state) {
    (void)state;
    w4a16_unpacked out;
    memset(&out, 0x3c, sizeof out);
    w4a16_unpacked untouched = out;
    assert_int_equal(w4a16_unpack_source(NULL, &out), W4A16_ERR_ARG);
    int32_t words[8] = {0};
    uint16_t scales[2] = {0x3c00, 0x3c00};
    w4a16_format_layout layout;
    assert_int_equal(w4a16_format_layout_get(W4A16_FORMAT_CT, 1, 64, 2, &layout), W4A16_OK);
    w4a16_source src = {.n = 1, .k = 64, .group_size = 32, .qweight = words,
                        .qweight_layout = layout.qweight, .scales = scales,
                        .scales_dtype = W4A16_F16, .scales_stride_n = 2, .scales_stride_g = 1,
                        .on_device = 1};
    assert_int_equal(w4a16_unpack_source(&src, &out), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "device"));
    src.on_device = 0;
    src.group_size = 48;
    assert_int_equal(w4a16_unpack_source(&src, &out), W4A16_ERR_SHAPE);
    assert_string_equal(w4a16_last_error(), "K=64 is not a multiple of group_size=48");
    assert_memory_equal(&out, &untouched, sizeof out);
    src.group_size = 32;
    assert_int_equal(w4a16_unpack_source(&src, &out), W4A16_OK);
    w4a16_unpacked_free(&out);
}

static void assert_json(json_t *value, const char *expected) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, expected);
    free(text);
    json_decref(value);
}

static void test_quantization_config(void **state) {
    (void)state;
    json_t *config = NULL;
    const char *ignore[] = {"lm_head", "model.layers.0.mlp.down_proj"};
    w4a16_quantization_params params = {.group_size = 128, .symmetric = 0};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_AWQ, &params, &config), W4A16_OK);
    assert_json(config, "{\"bits\":4,\"group_size\":128,\"modules_to_not_convert\":null,"
                        "\"quant_method\":\"awq\",\"version\":\"gemm\",\"zero_point\":true}");
    params = (w4a16_quantization_params){.group_size = 32, .symmetric = 1, .ignore = ignore,
                                         .ignore_count = 1};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_AWQ, &params, &config), W4A16_OK);
    assert_json(config, "{\"bits\":4,\"group_size\":32,\"modules_to_not_convert\":[\"lm_head\"],"
                        "\"quant_method\":\"awq\",\"version\":\"gemm\",\"zero_point\":false}");
    params = (w4a16_quantization_params){.group_size = 128, .symmetric = 1, .act_order = 1};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_GPTQ, &params, &config), W4A16_OK);
    assert_json(config, "{\"bits\":4,\"checkpoint_format\":\"gptq\",\"desc_act\":true,"
                        "\"group_size\":128,\"quant_method\":\"gptq\",\"sym\":true}");
    params = (w4a16_quantization_params){.group_size = -1, .ignore = ignore, .ignore_count = 2};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_GPTQ_V2, &params, &config), W4A16_OK);
    assert_json(config, "{\"bits\":4,\"checkpoint_format\":\"gptq_v2\",\"desc_act\":false,"
                        "\"dynamic\":{\"-:lm_head$\":{},"
                        "\"-:model\\\\.layers\\\\.0\\\\.mlp\\\\.down_proj$\":{}},"
                        "\"group_size\":-1,\"quant_method\":\"gptq\",\"sym\":false}");
    params = (w4a16_quantization_params){.group_size = 64, .symmetric = 1, .ignore = ignore,
                                         .ignore_count = 1};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_CT, &params, &config), W4A16_OK);
    assert_json(config,
                "{\"config_groups\":{\"group_0\":{\"input_activations\":null,"
                "\"output_activations\":null,\"targets\":[\"Linear\"],\"weights\":{"
                "\"actorder\":null,\"dynamic\":false,\"group_size\":64,\"num_bits\":4,"
                "\"strategy\":\"group\",\"symmetric\":true,\"type\":\"int\"}}},"
                "\"format\":\"pack-quantized\",\"ignore\":[\"lm_head\"],"
                "\"quant_method\":\"compressed-tensors\",\"quantization_status\":\"compressed\"}");
    params = (w4a16_quantization_params){.group_size = -1, .act_order = 1};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_CT, &params, &config), W4A16_OK);
    assert_json(config,
                "{\"config_groups\":{\"group_0\":{\"input_activations\":null,"
                "\"output_activations\":null,\"targets\":[\"Linear\"],\"weights\":{"
                "\"actorder\":\"group\",\"dynamic\":false,\"group_size\":null,\"num_bits\":4,"
                "\"strategy\":\"channel\",\"symmetric\":false,\"type\":\"int\"}}},"
                "\"format\":\"pack-quantized\",\"ignore\":[],"
                "\"quant_method\":\"compressed-tensors\",\"quantization_status\":\"compressed\"}");
    config = NULL;
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_AWQ, &params, &config),
                     W4A16_ERR_UNSUPPORTED);
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_DENSE, &params, &config),
                     W4A16_ERR_ARG);
    params.group_size = 0;
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_CT, &params, &config), W4A16_ERR_ARG);
    assert_null(config);
}

/* The folder writer: model.safetensors with every tensor and format=pt, config.json. */
static void test_checkpoint_write(void **state) {
    (void)state;
    uint64_t rng = 31;
    w4a16_unpacked w = random_unpacked(8, 64, 32, 0, W4A16_BF16, 0, 0, &rng);
    w4a16_tensor_list list = {0};
    assert_int_equal(w4a16_encode(&w, W4A16_FORMAT_CT, "model.layers.0.mlp.up_proj", &list, NULL),
                     W4A16_OK);
    uint16_t norm[8];
    test_fill_random(norm, W4A16_BF16, 8, 0.5, 1.5, &rng);
    assert_int_equal(w4a16_tensor_list_add(&list, "model.norm.weight", W4A16_BF16, 1,
                                           (int64_t[]){8}, norm),
                     W4A16_OK);
    json_t *config = json_pack("{s:s, s:I}", "model_type", "qwen3", "hidden_size", 64);
    json_t *quantization = NULL;
    w4a16_quantization_params params = {.group_size = 32};
    assert_int_equal(w4a16_quantization_config(W4A16_FORMAT_CT, &params, &quantization), W4A16_OK);
    json_object_set_new(config, "quantization_config", quantization);
    const char *dir = test_scratch_dir("checkpoint_write");
    assert_int_equal(w4a16_checkpoint_write(dir, &list, config), W4A16_OK);

    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    w4a16_st_file file;
    assert_int_equal(w4a16_st_open(path, &file), W4A16_OK);
    assert_int_equal(file.tensor_count, list.count);
    for (int64_t i = 0; i < list.count; i++) {
        const w4a16_st_tensor *t = w4a16_st_find(&file, list.tensors[i].name);
        assert_non_null(t);
        assert_int_equal(t->dtype, list.tensors[i].dtype);
        assert_memory_equal(t->data, list.tensors[i].data, t->end - t->begin);
    }
    assert_string_equal(w4a16_st_metadata_get(&file, "format"), "pt");
    w4a16_st_close(&file);
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *read_back = json_load_file(path, 0, NULL);
    assert_non_null(read_back);
    assert_true(json_equal(read_back, config));
    json_decref(read_back);

    assert_int_equal(w4a16_checkpoint_write("/nonexistent/folder", &list, config), W4A16_ERR_IO);
    json_decref(config);
    w4a16_tensor_list_free(&list);
    w4a16_unpacked_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_configuration),
        cmocka_unit_test(test_round_trip_act_order),
        cmocka_unit_test(test_round_trip_ct_odd_n),
        cmocka_unit_test(test_awq_known_words),
        cmocka_unit_test(test_gptq_known_words),
        cmocka_unit_test(test_ct_known_words),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_convert_between_formats),
        cmocka_unit_test(test_unpack_source_errors),
        cmocka_unit_test(test_quantization_config),
        cmocka_unit_test(test_checkpoint_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
