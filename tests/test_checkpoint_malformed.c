/* Quantized layers we cannot read: each broken rule (a missing tensor, a
 * wrong dtype, a shape the format's layout disagrees with, K not a multiple
 * of the group size, AWQ's N not a multiple of 8, a bad g_idx) lists that
 * layer as malformed with a reason naming the tensor and the rule (and its
 * source is W4A16_ERR_FORMAT), while the checkpoint's good layer still reads;
 * when no layer is readable, open fails. Also tensors the file stores
 * misaligned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

static const char *const GPTQ_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, "
    "\"sym\": false, \"desc_act\": false}}";
static const char *const GPTQ_ACT_ORDER_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, "
    "\"sym\": false, \"desc_act\": true}}";
static const char *const AWQ_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, "
    "\"zero_point\": true, \"version\": \"gemm\"}}";
static const char *const CT_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
    "\"pack-quantized\", \"config_groups\": {\"g\": {\"targets\": [\"Linear\"], \"weights\": "
    "{\"num_bits\": 4, \"type\": \"int\", \"symmetric\": false, \"strategy\": \"group\", "
    "\"group_size\": 32}}}}}";

/* Replaces the tensor `name` with another of the given dtype, shape and
 * (random) contents. */
static void replace(test_ckpt *c, const char *name, w4a16_dtype dtype, int32_t ndim,
                    const int64_t *shape) {
    test_ckpt_remove(c, name);
    uint64_t bytes;
    assert_int_equal(w4a16_st_tensor_bytes(dtype, ndim, shape, &bytes), W4A16_OK);
    uint8_t *data = malloc(bytes ? bytes : 1);
    assert_non_null(data);
    uint64_t rng = bytes;
    for (uint64_t i = 0; i < bytes; i++) data[i] = (uint8_t)(test_rng_next(&rng) >> 60);
    test_ckpt_add(c, name, dtype, ndim, shape, data);
    free(data);
}

static void retype(test_ckpt *c, const char *name, w4a16_dtype dtype) {
    w4a16_st_write_tensor *t = test_ckpt_get(c, name);
    assert_int_equal(w4a16_dtype_bits(t->dtype), w4a16_dtype_bits(dtype));
    t->dtype = dtype;
}

/* ------------------------------------------------------------ mutations */

static void remove_scales(test_ckpt *c) {
    test_ckpt_remove(c, "bad.scales");
}
static void remove_qzeros(test_ckpt *c) {
    test_ckpt_remove(c, "bad.qzeros");
}
static void remove_g_idx(test_ckpt *c) {
    test_ckpt_remove(c, "bad.g_idx");
}
static void qweight_u32(test_ckpt *c) {
    retype(c, "bad.qweight", W4A16_U32);
}
static void scales_i16(test_ckpt *c) {
    retype(c, "bad.scales", W4A16_I16);
}
static void g_idx_f32(test_ckpt *c) {
    retype(c, "bad.g_idx", W4A16_F32);
}

static void qweight_1d(test_ckpt *c) {
    int64_t shape[1] = {16 * 16};
    replace(c, "bad.qweight", W4A16_I32, 1, shape);
}

/* Empty, so the file is valid, but K = rows * 8 would overflow. */
static void qweight_huge_empty(test_ckpt *c) {
    int64_t shape[2] = {INT64_C(1) << 61, 0};
    replace(c, "bad.qweight", W4A16_I32, 2, shape);
}

static void qzeros_too_wide(test_ckpt *c) {
    int64_t shape[2] = {4, 3};
    replace(c, "bad.qzeros", W4A16_I32, 2, shape);
}

static void scales_too_wide(test_ckpt *c) {
    int64_t shape[2] = {4, 24};
    replace(c, "bad.scales", W4A16_F16, 2, shape);
}

static void g_idx_short(test_ckpt *c) {
    int64_t shape[1] = {120};
    replace(c, "bad.g_idx", W4A16_I32, 1, shape);
}

static void g_idx_out_of_range(test_ckpt *c) {
    int32_t *g_idx = (int32_t *)test_ckpt_get(c, "bad.g_idx")->data;
    g_idx[5] = 4;
}

static void g_idx_negative(test_ckpt *c) {
    int32_t *g_idx = (int32_t *)test_ckpt_get(c, "bad.g_idx")->data;
    g_idx[100] = -1;
}

/* AWQ's packed words hold 8 columns: N=12 cannot be stored. */
static void awq_n_12(test_ckpt *c) {
    int64_t qweight[2] = {128, 2}, qzeros[2] = {4, 2}, scales[2] = {4, 12};
    replace(c, "bad.qweight", W4A16_I32, 2, qweight);
    replace(c, "bad.qzeros", W4A16_I32, 2, qzeros);
    replace(c, "bad.scales", W4A16_F16, 2, scales);
}

static void awq_qweight_too_wide(test_ckpt *c) {
    int64_t shape[2] = {128, 3};
    replace(c, "bad.qweight", W4A16_I32, 2, shape);
}

static void ct_shape_disagrees(test_ckpt *c) {
    int64_t *values = (int64_t *)test_ckpt_get(c, "bad.weight_shape")->data;
    values[1] = 160;
}

static void ct_shape_f64(test_ckpt *c) {
    retype(c, "bad.weight_shape", W4A16_F64);
}
static void ct_remove_shape(test_ckpt *c) {
    test_ckpt_remove(c, "bad.weight_shape");
}
static void ct_remove_zero_point(test_ckpt *c) {
    test_ckpt_remove(c, "bad.weight_zero_point");
}

static void ct_zero_point_unpacked(test_ckpt *c) {
    int64_t shape[2] = {16, 4};
    replace(c, "bad.weight_zero_point", W4A16_I32, 2, shape);
}

typedef struct {
    const char *name;
    w4a16_format format;
    const char *config;
    int64_t bad_k, bad_group_size; /* how the bad layer is built */
    int act_order;
    void (*mutate)(test_ckpt *c);
    const char *reason;
} malformed_case;

static const malformed_case CASES[] = {
    {"missing_scales", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, remove_scales,
     "bad.scales: missing"},
    {"missing_qzeros", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, remove_qzeros,
     "bad.qzeros: missing"},
    {"qweight_dtype", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, qweight_u32,
     "bad.qweight: dtype U32, expected I32"},
    {"scales_dtype", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, scales_i16,
     "bad.scales: dtype I16, expected F16 or BF16 or F32"},
    {"qweight_1d", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, qweight_1d,
     "bad.qweight: 1 dimensions, expected 2"},
    {"qweight_huge_empty", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, qweight_huge_empty,
     "bad.qweight: dimension 0 is 2305843009213693952, too large for a linear layer"},
    {"qzeros_shape", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, qzeros_too_wide,
     "bad.qzeros: shape [4, 3], but gptq with N=16, K=128 and 4 group(s) stores [4, 2]"},
    {"scales_shape", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 128, 32, 0, scales_too_wide,
     "bad.scales: shape [4, 24], but gptq with N=16, K=128 and 4 group(s) stores [4, 16]"},
    {"k_not_multiple_of_group", W4A16_FORMAT_GPTQ, GPTQ_CONFIG, 136, 8, 0, NULL,
     "bad.qweight: K=136 is not a multiple of group_size=32"},
    {"g_idx_out_of_range", W4A16_FORMAT_GPTQ, GPTQ_ACT_ORDER_CONFIG, 128, 32, 1, g_idx_out_of_range,
     "bad.g_idx: g_idx[5]=4 is outside [0, 4)"},
    {"g_idx_negative", W4A16_FORMAT_GPTQ, GPTQ_ACT_ORDER_CONFIG, 128, 32, 1, g_idx_negative,
     "bad.g_idx: g_idx[100]=-1 is outside [0, 4)"},
    {"g_idx_short", W4A16_FORMAT_GPTQ, GPTQ_ACT_ORDER_CONFIG, 128, 32, 1, g_idx_short,
     "bad.g_idx: 120 entries, expected K=128"},
    {"g_idx_dtype", W4A16_FORMAT_GPTQ, GPTQ_ACT_ORDER_CONFIG, 128, 32, 1, g_idx_f32,
     "bad.g_idx: dtype F32, expected I32"},
    {"g_idx_missing_act_order", W4A16_FORMAT_GPTQ, GPTQ_ACT_ORDER_CONFIG, 128, 32, 1, remove_g_idx,
     "bad.g_idx: missing, but the config declares act-order"},
    {"awq_n_not_multiple_of_8", W4A16_FORMAT_AWQ, AWQ_CONFIG, 128, 32, 0, awq_n_12,
     "bad.scales: awq needs N a multiple of 8, got N=12"},
    {"awq_qweight_shape", W4A16_FORMAT_AWQ, AWQ_CONFIG, 128, 32, 0, awq_qweight_too_wide,
     "bad.qweight: shape [128, 3], but awq with N=16, K=128 and 4 group(s) stores [128, 2]"},
    {"ct_weight_shape_disagrees", W4A16_FORMAT_CT, CT_CONFIG, 128, 32, 0, ct_shape_disagrees,
     "bad.weight_packed: shape [16, 16], but ct with N=16, K=160 and 5 group(s) stores [16, 20]"},
    {"ct_weight_shape_dtype", W4A16_FORMAT_CT, CT_CONFIG, 128, 32, 0, ct_shape_f64,
     "bad.weight_shape: dtype F64, expected I64 or I32"},
    {"ct_weight_shape_missing", W4A16_FORMAT_CT, CT_CONFIG, 128, 32, 0, ct_remove_shape,
     "bad.weight_shape: missing"},
    {"ct_zero_point_missing", W4A16_FORMAT_CT, CT_CONFIG, 128, 32, 0, ct_remove_zero_point,
     "bad.weight_zero_point: missing"},
    {"ct_zero_point_unpacked", W4A16_FORMAT_CT, CT_CONFIG, 128, 32, 0, ct_zero_point_unpacked,
     "bad.weight_zero_point: shape [16, 4], but ct with N=16, K=128 and 4 group(s) stores [2, 4]"},
};

static void run_case(const malformed_case *mc, int with_good_layer) {
    char dir_name[128];
    snprintf(dir_name, sizeof dir_name, "malformed_%s_%d", mc->name, with_good_layer);
    const char *dir = test_scratch_dir(dir_name);
    uint64_t rng = 0xbad0 + strlen(mc->name);
    test_layer good, bad;
    test_layer_random(&good, mc->format, 16, 128, 32, 1, mc->act_order, &rng);
    test_layer_random(&bad, mc->format, 16, mc->bad_k, mc->bad_group_size, 1, mc->act_order, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, mc->format, "bad", &bad);
    if (with_good_layer) test_ckpt_add_layer(&c, mc->format, "good", &good);
    if (mc->mutate) mc->mutate(&c);
    test_ckpt_write_folder(&c, dir, mc->config);
    test_ckpt_free(&c);

    if (with_good_layer) {
        w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
        w4a16_layer_info info;
        test_layer_of(ckpt, "bad", &info);
        assert_int_equal(info.status, W4A16_LAYER_MALFORMED);
        if (strstr(info.reason, mc->reason) == NULL)
            fail_msg("%s: reason \"%s\" lacks \"%s\"", mc->name, info.reason, mc->reason);
        int64_t index;
        w4a16_source unread;
        assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "bad", &index), W4A16_OK);
        assert_int_equal(w4a16_checkpoint_source(ckpt, index, &unread), W4A16_ERR_FORMAT);
        test_expect_error_has("layer 'bad' is malformed: ");
        test_layer_of(ckpt, "good", &info);
        assert_int_equal(info.status, W4A16_LAYER_QUANTIZED);
        w4a16_source src;
        test_source_of(ckpt, "good", &src);
        test_expect_source(&src, &good);
        w4a16_checkpoint_close(ckpt);
    } else {
        w4a16_checkpoint *sentinel = (w4a16_checkpoint *)&sentinel, *ckpt = sentinel;
        assert_int_equal(w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, &ckpt), W4A16_ERR_FORMAT);
        assert_ptr_equal(ckpt, sentinel);
        test_expect_error_has("no readable");
        test_expect_error_has(mc->reason);
    }
    test_layer_free(&good);
    test_layer_free(&bad);
}

static void test_each_rule_gives_a_malformed_layer(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(&CASES[i], 1);
}

static void test_no_readable_layer_fails_open(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(&CASES[i], 0);
}

/* safetensors promises no alignment: a 3-byte tensor first (in a file laid
 * out in name order) leaves every later one at an odd offset, and the layer must still read exactly (the
 * sanitizer build checks that nothing reads an int32 at an odd address). */
static void test_misaligned_tensors_are_copied(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("malformed_misaligned");
    uint64_t rng = 0x0dd;
    test_layer l;
    test_layer_random(&l, W4A16_FORMAT_GPTQ, 16, 128, 32, 1, 1, &rng);
    test_ckpt c = {0};
    uint8_t pad[3] = {1, 2, 3};
    int64_t pad_shape[1] = {3};
    test_ckpt_add(&c, "a.pad", W4A16_U8, 1, pad_shape, pad);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "layer", &l);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    test_ckpt_write_name_order(&c, path);
    test_write_config(dir, "config.json", GPTQ_ACT_ORDER_CONFIG);
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    w4a16_tensor_info tensor;
    assert_int_equal(w4a16_checkpoint_tensor(ckpt, 1, &tensor), W4A16_OK);
    assert_string_equal(tensor.name, "layer.g_idx");
    assert_true((uintptr_t)tensor.data % 4 != 0);
    w4a16_source src;
    test_source_of(ckpt, "layer", &src);
    assert_true((uintptr_t)src.qweight % 4 == 0 && (uintptr_t)src.qzeros % 4 == 0);
    assert_true((uintptr_t)src.scales % 2 == 0 && (uintptr_t)src.g_idx % 4 == 0);
    test_expect_source(&src, &l);
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rule_gives_a_malformed_layer),
        cmocka_unit_test(test_no_readable_layer_fails_open),
        cmocka_unit_test(test_misaligned_tensors_are_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
