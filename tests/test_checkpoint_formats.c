/* Reading each checkpoint format: hand-packed known-answer words, then
 * random layers in every variant (symmetric, asymmetric, per-channel,
 * act-order) read back exactly, with the layer list and the tensor list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint_builder.h"
#include "common/dtype.h"
#include "test_support.h"

static void f16_scales(uint16_t *scales, int64_t count) {
    for (int64_t i = 0; i < count; i++) scales[i] = w4a16_float_to_f16(0.25f * (float)(i + 1));
}

static int32_t q_at(const w4a16_source *src, int64_t n, int64_t k) {
    return w4a16_qlayout_get(&src->qweight_layout, src->qweight, n, k);
}

static int32_t z_at(const w4a16_source *src, int64_t n, int64_t g) {
    return w4a16_qlayout_get(&src->qzeros_layout, src->qzeros, n, g);
}

static uint16_t scale_bits_at(const w4a16_source *src, int64_t n, int64_t g) {
    return ((const uint16_t *)src->scales)[n * src->scales_stride_n + g * src->scales_stride_g];
}

/* Writes the hand-packed layer "layer" with its config, opens it as `format`
 * and checks the shape the source reports. */
static w4a16_checkpoint *open_known(const test_ckpt *c, const char *dir, const char *config,
                                    w4a16_format format, int64_t group_size, w4a16_source *src) {
    test_ckpt_write_folder(c, dir, config);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), format);
    test_source_of(ckpt, "layer", src);
    assert_int_equal(src->n, 8);
    assert_int_equal(src->k, 16);
    assert_int_equal(src->group_size, group_size);
    return ckpt;
}

/* ------------------------------------------------------------ known answers */

/* AWQ packs columns [0,2,4,6,1,3,5,7] into nibbles 0..7: columns 0..7 holding
 * values 0..7 give the word 0x75316420. */
static void test_awq_known_words(void **state) {
    (void)state;
    test_ckpt c = {0};
    int32_t qweight[16], qzeros[1] = {(int32_t)0x75316420};
    for (int i = 0; i < 16; i++) qweight[i] = (int32_t)0x75316420;
    uint16_t scales[8];
    f16_scales(scales, 8);
    test_ckpt_add_2d(&c, "layer.qweight", W4A16_I32, 16, 1, qweight);
    test_ckpt_add_2d(&c, "layer.qzeros", W4A16_I32, 1, 1, qzeros);
    test_ckpt_add_2d(&c, "layer.scales", W4A16_F16, 1, 8, scales);
    w4a16_source src;
    w4a16_checkpoint *ckpt = open_known(
        &c, test_scratch_dir("ckpt_awq_known"),
        "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 16, "
        "\"zero_point\": true, \"version\": \"gemm\"}}",
        W4A16_FORMAT_AWQ, 16, &src);
    for (int n = 0; n < 8; n++) {
        for (int k = 0; k < 16; k++) assert_int_equal(q_at(&src, n, k), n);
        assert_int_equal(z_at(&src, n, 0), n);
        assert_int_equal(scale_bits_at(&src, n, 0), scales[n]);
    }
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
}

/* GPTQ packs 8 rows of K into a word (nibble i = row 8r + i) and stores
 * zeros minus one, sequential along N; v1 readers add 1 back without
 * masking, so a stored 15 is z = 16. v2 stores z itself. */
static void check_gptq_known_words(w4a16_format format, const char *checkpoint_format) {
    test_ckpt c = {0};
    int32_t qweight[2 * 8], qzeros[2] = {(int32_t)0xF6543210u, (int32_t)0x0123456Fu};
    for (int i = 0; i < 16; i++) qweight[i] = (int32_t)0x76543210;
    uint16_t scales[16];
    f16_scales(scales, 16);
    test_ckpt_add_2d(&c, "layer.qweight", W4A16_I32, 2, 8, qweight);
    test_ckpt_add_2d(&c, "layer.qzeros", W4A16_I32, 2, 1, qzeros);
    test_ckpt_add_2d(&c, "layer.scales", W4A16_F16, 2, 8, scales);
    char config[512];
    snprintf(config, sizeof config,
             "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, "
             "\"group_size\": 8, \"sym\": false, \"desc_act\": false, "
             "\"checkpoint_format\": \"%s\"}}",
             checkpoint_format);
    w4a16_source src;
    w4a16_checkpoint *ckpt =
        open_known(&c, test_scratch_dir(checkpoint_format), config, format, 8, &src);
    int offset = format == W4A16_FORMAT_GPTQ ? 1 : 0;
    for (int n = 0; n < 8; n++) {
        for (int k = 0; k < 16; k++) assert_int_equal(q_at(&src, n, k), k % 8);
        int stored0 = n == 7 ? 15 : n, stored1 = n == 0 ? 15 : 7 - n;
        assert_int_equal(z_at(&src, n, 0), stored0 + offset);
        assert_int_equal(z_at(&src, n, 1), stored1 + offset);
        assert_int_equal(scale_bits_at(&src, n, 1), scales[8 + n]);
    }
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
}

static void test_gptq_known_words(void **state) {
    (void)state;
    check_gptq_known_words(W4A16_FORMAT_GPTQ, "gptq");
    check_gptq_known_words(W4A16_FORMAT_GPTQ_V2, "gptq_v2");
}

/* compressed-tensors: weight_packed [N, K/8] packs columns 8c + i into nibble
 * i; weight_zero_point [N/8, groups] packs 8 rows of N per word and holds the
 * zero point + 8 (so the unsigned z). */
static void test_ct_known_words(void **state) {
    (void)state;
    test_ckpt c = {0};
    int32_t packed[8 * 2], zero_point[2] = {0x01234567, (int32_t)0x89ABCDEFu};
    for (int i = 0; i < 16; i++) packed[i] = (int32_t)0x76543210;
    uint16_t scales[16];
    f16_scales(scales, 16);
    int64_t shape_values[2] = {8, 16}, shape_shape[1] = {2};
    test_ckpt_add_2d(&c, "layer.weight_packed", W4A16_I32, 8, 2, packed);
    test_ckpt_add_2d(&c, "layer.weight_zero_point", W4A16_I32, 1, 2, zero_point);
    test_ckpt_add_2d(&c, "layer.weight_scale", W4A16_F16, 8, 2, scales);
    test_ckpt_add(&c, "layer.weight_shape", W4A16_I64, 1, shape_shape, shape_values);
    w4a16_source src;
    w4a16_checkpoint *ckpt = open_known(
        &c, test_scratch_dir("ckpt_ct_known"),
        "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
        "\"pack-quantized\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], "
        "\"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": false, \"strategy\": "
        "\"group\", \"group_size\": 8}}}, \"ignore\": []}}",
        W4A16_FORMAT_CT, 8, &src);
    for (int n = 0; n < 8; n++) {
        for (int k = 0; k < 16; k++) assert_int_equal(q_at(&src, n, k), k % 8);
        assert_int_equal(z_at(&src, n, 0), 7 - n);
        assert_int_equal(z_at(&src, n, 1), 15 - n);
        for (int g = 0; g < 2; g++) assert_int_equal(scale_bits_at(&src, n, g), scales[2 * n + g]);
    }
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
}

/* --------------------------------------------------------- random variants */

typedef struct {
    const char *name;
    int64_t group_size; /* -1 per-channel */
    int asym, act_order;
} variant;

static const variant VARIANTS[] = {
    {"asym_g32", 32, 1, 0},           {"sym_g64", 64, 0, 0},
    {"asym_per_channel", -1, 1, 0},   {"sym_per_channel", -1, 0, 0},
    {"asym_act_order_g32", 32, 1, 1}, {"sym_act_order_g16", 16, 0, 1},
};

static void config_for(w4a16_format format, const variant *v, char *text, size_t size) {
    switch (format) {
    case W4A16_FORMAT_AWQ:
        snprintf(text, size,
                 "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
                 "\"group_size\": %lld, \"zero_point\": %s, \"version\": \"gemm\"}}",
                 (long long)v->group_size, v->asym ? "true" : "false");
        return;
    case W4A16_FORMAT_GPTQ:
    case W4A16_FORMAT_GPTQ_V2:
        snprintf(text, size,
                 "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, "
                 "\"group_size\": %lld, \"sym\": %s, \"desc_act\": %s, \"checkpoint_format\": "
                 "\"%s\"}}",
                 (long long)v->group_size, v->asym ? "false" : "true",
                 v->act_order ? "true" : "false", w4a16_format_name(format));
        return;
    default:
        snprintf(text, size,
                 "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", "
                 "\"format\": \"pack-quantized\", \"config_groups\": {\"group_0\": {"
                 "\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, \"type\": \"int\", "
                 "\"symmetric\": %s, \"strategy\": \"%s\", \"group_size\": %lld, "
                 "\"actorder\": %s}}}, \"ignore\": [\"lm_head\"]}}",
                 v->asym ? "false" : "true", v->group_size < 0 ? "channel" : "group",
                 (long long)v->group_size, v->act_order ? "\"group\"" : "null");
        return;
    }
}

/* Two quantized layers, a dense lm_head and a norm: the layers read back
 * exactly, lm_head is listed unquantized where the config says so, and every
 * tensor points at its layer. */
static void check_variant(w4a16_format format, const variant *v, uint64_t seed) {
    char dir_name[128];
    snprintf(dir_name, sizeof dir_name, "ckpt_%s_%s", w4a16_format_name(format), v->name);
    const char *dir = test_scratch_dir(dir_name);
    uint64_t rng = seed;
    test_layer up, down;
    test_layer_random(&up, format, 48, 128, v->group_size, v->asym, v->act_order, &rng);
    test_layer_random(&down, format, 24, 256, v->group_size, v->asym, v->act_order, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, format, "model.layers.0.mlp.up_proj", &up);
    test_ckpt_add_layer(&c, format, "model.layers.0.mlp.down_proj", &down);
    test_ckpt_add_dense(&c, "lm_head.weight", 16, 24, &rng);
    test_ckpt_add_dense(&c, "model.norm.weight", 1, 24, &rng);
    char config[1024];
    config_for(format, v, config, sizeof config);
    test_ckpt_write_folder(&c, dir, config);

    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), format);
    int ct = format == W4A16_FORMAT_CT;
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), ct ? 3 : 2);
    w4a16_layer_info info;
    assert_int_equal(w4a16_checkpoint_layer(ckpt, 0, &info), W4A16_OK);
    if (ct) {
        assert_string_equal(info.name, "lm_head");
        assert_int_equal(info.status, W4A16_LAYER_UNQUANTIZED);
        assert_int_equal(info.n, 16);
        assert_int_equal(info.k, 24);
        assert_int_equal(w4a16_checkpoint_layer(ckpt, 1, &info), W4A16_OK);
    }
    assert_string_equal(info.name, "model.layers.0.mlp.down_proj");
    assert_int_equal(info.status, W4A16_LAYER_QUANTIZED);
    assert_string_equal(info.reason, "");
    assert_int_equal(info.n, 24);
    assert_int_equal(info.k, 256);
    assert_int_equal(info.group_size, v->group_size);
    assert_int_equal(info.symmetric, !v->asym);
    assert_int_equal(info.act_order, v->act_order);

    w4a16_source src;
    test_source_of(ckpt, "model.layers.0.mlp.up_proj", &src);
    test_expect_source(&src, &up);
    assert_int_equal(w4a16_source_validate(&src), W4A16_OK);
    test_source_of(ckpt, "model.layers.0.mlp.down_proj", &src);
    test_expect_source(&src, &down);

    /* Tensors in name order, each with the quantized layer it belongs to. */
    int64_t count = w4a16_checkpoint_tensor_count(ckpt);
    assert_int_equal(count, c.count);
    const char *previous = "";
    for (int64_t t = 0; t < count; t++) {
        w4a16_tensor_info tensor;
        assert_int_equal(w4a16_checkpoint_tensor(ckpt, t, &tensor), W4A16_OK);
        assert_true(strcmp(previous, tensor.name) < 0);
        previous = tensor.name;
        int64_t expected = -1;
        static const char *const layers[] = {"model.layers.0.mlp.down_proj",
                                             "model.layers.0.mlp.up_proj"};
        for (int l = 0; l < 2; l++) {
            size_t length = strlen(layers[l]);
            if (strncmp(tensor.name, layers[l], length) == 0 && tensor.name[length] == '.')
                assert_int_equal(w4a16_checkpoint_find_layer(ckpt, layers[l], &expected), W4A16_OK);
        }
        assert_int_equal(tensor.layer, expected);
    }
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
    test_layer_free(&up);
    test_layer_free(&down);
}

static void run_variants(w4a16_format format, uint64_t seed) {
    for (size_t i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++) {
        /* AWQ has no act-order. */
        if (format == W4A16_FORMAT_AWQ && VARIANTS[i].act_order) continue;
        check_variant(format, &VARIANTS[i], seed + i);
    }
}

static void test_awq_variants(void **state) {
    (void)state;
    run_variants(W4A16_FORMAT_AWQ, 0xa1);
}

static void test_gptq_variants(void **state) {
    (void)state;
    run_variants(W4A16_FORMAT_GPTQ, 0xb1);
}

static void test_gptq_v2_variants(void **state) {
    (void)state;
    run_variants(W4A16_FORMAT_GPTQ_V2, 0xc1);
}

static void test_ct_variants(void **state) {
    (void)state;
    run_variants(W4A16_FORMAT_CT, 0xd1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_awq_known_words), cmocka_unit_test(test_gptq_known_words),
        cmocka_unit_test(test_ct_known_words),  cmocka_unit_test(test_awq_variants),
        cmocka_unit_test(test_gptq_variants),   cmocka_unit_test(test_gptq_v2_variants),
        cmocka_unit_test(test_ct_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
