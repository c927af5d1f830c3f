/* Deciding a checkpoint's format and parameters: config.json's
 * quantization_config, the legacy AWQ and GPTQ files, a format named by the
 * caller (parameters then come from the tensors), a bare file without a
 * config, and the per-layer rules (ignore, modules_to_not_convert, config
 * groups). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

static const char *const LAYER = "model.layers.0.mlp.up_proj";

/* One random layer in `format` written to a fresh folder with `config`
 * (NULL: none) beside it. */
static const char *write_one_layer(const char *name, w4a16_format format, int64_t group_size,
                                   int asym, int act_order, const char *config, test_layer *l) {
    const char *dir = test_scratch_dir(name);
    uint64_t rng = 0xc0f16 + strlen(name);
    test_layer_random(l, format, 16, 128, group_size, asym, act_order, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, format, LAYER, l);
    test_ckpt_add_dense(&c, "lm_head.weight", 24, 16, &rng);
    test_ckpt_write_folder(&c, dir, config);
    test_ckpt_free(&c);
    return dir;
}

static void expect_open_fails(const char *path, w4a16_format format, w4a16_status status,
                              const char *needle) {
    w4a16_checkpoint *sentinel = (w4a16_checkpoint *)&sentinel, *ckpt = sentinel;
    assert_int_equal(w4a16_checkpoint_open(path, format, &ckpt), status);
    assert_ptr_equal(ckpt, sentinel);
    test_expect_error_has(needle);
}

/* Opens path as `format`, checks the detected format and that LAYER reads back as l. */
static void expect_reads_back(const char *path, w4a16_format format, w4a16_format detected,
                              const test_layer *l) {
    w4a16_checkpoint *ckpt = test_open_ok(path, format);
    assert_int_equal(w4a16_checkpoint_format(ckpt), detected);
    w4a16_source src;
    test_source_of(ckpt, LAYER, &src);
    test_expect_source(&src, l);
    w4a16_checkpoint_close(ckpt);
}

/* ------------------------------------------------------------ detection */

static void test_legacy_awq_quant_config(void **state) {
    (void)state;
    test_layer l;
    const char *dir = write_one_layer("cfg_legacy_awq", W4A16_FORMAT_AWQ, 32, 1, 0,
                                      "{\"architectures\": [\"LlamaForCausalLM\"]}", &l);
    test_write_config(dir, "quant_config.json",
                      "{\"zero_point\": true, \"q_group_size\": 32, \"w_bit\": 4, "
                      "\"version\": \"GEMM\"}");
    expect_reads_back(dir, W4A16_FORMAT_AUTO, W4A16_FORMAT_AWQ, &l);
    test_layer_free(&l);
}

static void test_legacy_gptq_quantize_config(void **state) {
    (void)state;
    test_layer l;
    /* No config.json at all: the legacy file alone decides. */
    const char *dir = write_one_layer("cfg_legacy_gptq", W4A16_FORMAT_GPTQ, 32, 0, 1, NULL, &l);
    test_write_config(dir, "quantize_config.json",
                      "{\"bits\": 4, \"group_size\": 32, \"damp_percent\": 0.01, \"desc_act\": "
                      "true, \"sym\": true, \"true_sequential\": true}");
    expect_reads_back(dir, W4A16_FORMAT_AUTO, W4A16_FORMAT_GPTQ, &l);
    test_layer_free(&l);
    dir = write_one_layer("cfg_legacy_gptq_v2", W4A16_FORMAT_GPTQ_V2, 32, 1, 0, NULL, &l);
    test_write_config(dir, "quantize_config.json",
                      "{\"bits\": 4, \"group_size\": 32, \"desc_act\": false, \"sym\": false, "
                      "\"checkpoint_format\": \"gptq_v2\"}");
    expect_reads_back(dir, W4A16_FORMAT_AUTO, W4A16_FORMAT_GPTQ_V2, &l);
    test_layer_free(&l);
}

static void test_top_level_checkpoint_format(void **state) {
    (void)state;
    test_layer l;
    const char *dir = write_one_layer(
        "cfg_top_level_v2", W4A16_FORMAT_GPTQ_V2, 64, 1, 0,
        "{\"checkpoint_format\": \"gptq_v2\", \"quantization_config\": {\"quant_method\": "
        "\"gptq\", \"bits\": 4, \"group_size\": 64, \"sym\": false, \"desc_act\": false}}",
        &l);
    expect_reads_back(dir, W4A16_FORMAT_AUTO, W4A16_FORMAT_GPTQ_V2, &l);
    test_layer_free(&l);
}

static void test_dense_checkpoint(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("cfg_dense");
    uint64_t rng = 0xde45e;
    test_ckpt c = {0};
    test_ckpt_add_dense(&c, "model.layers.0.mlp.up_proj.weight", 32, 16, &rng);
    test_ckpt_add_dense(&c, "lm_head.weight", 24, 16, &rng);
    test_ckpt_write_folder(&c, dir, "{\"architectures\": [\"Qwen3ForCausalLM\"]}");
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), W4A16_FORMAT_DENSE);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 0);
    assert_int_equal(w4a16_checkpoint_tensor_count(ckpt), 2);
    for (int64_t t = 0; t < 2; t++) {
        w4a16_tensor_info tensor;
        assert_int_equal(w4a16_checkpoint_tensor(ckpt, t, &tensor), W4A16_OK);
        assert_int_equal(tensor.layer, -1);
        assert_int_equal(tensor.dtype, W4A16_F16);
        assert_int_equal(tensor.nbytes, tensor.shape[0] * tensor.shape[1] * 2);
    }
    w4a16_layer_info info;
    assert_int_equal(w4a16_checkpoint_layer(ckpt, 0, &info), W4A16_ERR_ARG);
    w4a16_checkpoint_close(ckpt);
}

static void test_bare_file_needs_its_format(void **state) {
    (void)state;
    test_layer l;
    const char *dir = write_one_layer("cfg_bare", W4A16_FORMAT_AWQ, 32, 1, 0, NULL, &l);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    expect_open_fails(path, W4A16_FORMAT_AUTO, W4A16_ERR_ARG,
                      "has no config.json: name its format");
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_ARG, "has no config.json");
    /* Named, it opens with the group size taken from the scales. */
    expect_reads_back(path, W4A16_FORMAT_AWQ, W4A16_FORMAT_AWQ, &l);
    test_layer_free(&l);
}

/* Without a config, parameters come from the tensors: group size from the
 * scales, zeros as stored (symmetric exactly when every zero is 8), g_idx
 * when present and not trivial. */
static void test_explicit_format_infers_parameters(void **state) {
    (void)state;
    static const struct {
        w4a16_format format;
        int64_t group_size;
        int asym, act_order;
    } cases[] = {
        {W4A16_FORMAT_GPTQ, 32, 1, 0},    {W4A16_FORMAT_GPTQ, 64, 0, 0},
        {W4A16_FORMAT_GPTQ, 16, 1, 1},    {W4A16_FORMAT_GPTQ_V2, -1, 1, 0},
        {W4A16_FORMAT_GPTQ_V2, 32, 0, 1}, {W4A16_FORMAT_CT, 32, 1, 0},
        {W4A16_FORMAT_CT, -1, 0, 0},      {W4A16_FORMAT_CT, 64, 0, 1},
        {W4A16_FORMAT_AWQ, -1, 1, 0},     {W4A16_FORMAT_AWQ, 64, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cfg_explicit_%zu", i);
        test_layer l;
        const char *dir = write_one_layer(name, cases[i].format, cases[i].group_size, cases[i].asym,
                                          cases[i].act_order, NULL, &l);
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        expect_reads_back(path, cases[i].format, cases[i].format, &l);
        test_layer_free(&l);
    }
}

/* A named format wins over the config; within GPTQ the config's parameters
 * stay and only the zeros' storage (v1: z - 1, v2: z) changes. */
static void test_explicit_format_overrides_config(void **state) {
    (void)state;
    test_layer l;
    const char *dir = write_one_layer(
        "cfg_override", W4A16_FORMAT_GPTQ_V2, 32, 1, 0,
        "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": "
        "32, \"sym\": false, \"desc_act\": false, \"checkpoint_format\": \"gptq\"}}",
        &l);
    expect_reads_back(dir, W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_GPTQ_V2, &l);
    /* Another family: the config is set aside, and the tensors hold no such layer. */
    expect_open_fails(dir, W4A16_FORMAT_CT, W4A16_ERR_FORMAT, "no ct layer");
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_DENSE);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 0);
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&l);
}

static void test_unknown_or_broken_config(void **state) {
    (void)state;
    test_layer l;
    const char *dir = write_one_layer(
        "cfg_unknown_method", W4A16_FORMAT_AWQ, 32, 1, 0,
        "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true}}",
        &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_UNSUPPORTED, "'bitsandbytes'");
    test_layer_free(&l);
    dir = write_one_layer("cfg_bad_json", W4A16_FORMAT_AWQ, 32, 1, 0,
                          "{\"quantization_config\": {\"quant_method\": \"awq\",", &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, "config.json: invalid JSON");
    test_layer_free(&l);
    dir = write_one_layer("cfg_bad_type", W4A16_FORMAT_AWQ, 32, 1, 0,
                          "{\"quantization_config\": {\"quant_method\": \"awq\", \"group_size\": "
                          "\"128\"}}",
                          &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, "'group_size' is not an integer");
    test_layer_free(&l);
    dir = write_one_layer("cfg_bad_regex", W4A16_FORMAT_CT, 32, 1, 0,
                          "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", "
                          "\"ignore\": [\"re:(unclosed\"]}}",
                          &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, "'re:(unclosed'");
    test_layer_free(&l);
    /* glibc's regcomp copies repeated subexpressions: a pattern that would take
     * gigabytes is refused. */
    dir = write_one_layer("cfg_huge_regex", W4A16_FORMAT_CT, 32, 1, 0,
                          "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", "
                          "\"ignore\": [\"re:(a{999}){999}\"]}}",
                          &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, "too large");
    test_layer_free(&l);
    dir = write_one_layer("cfg_no_method", W4A16_FORMAT_AWQ, 32, 1, 0,
                          "{\"quantization_config\": {\"bits\": 4}}", &l);
    expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, "no quant_method");
    test_layer_free(&l);
}

/* Configs we cannot read make every layer unsupported, so open fails saying why. */
static void test_unsupported_variants_fail_with_reason(void **state) {
    (void)state;
    static const struct {
        w4a16_format format;
        const char *config, *needle;
    } cases[] = {
        {W4A16_FORMAT_AWQ,
         "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, "
         "\"version\": \"gemv\"}}",
         "awq version 'gemv' is not supported"},
        {W4A16_FORMAT_GPTQ,
         "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": "
         "32, \"checkpoint_format\": \"marlin\"}}",
         "checkpoint_format 'marlin' is not supported"},
        {W4A16_FORMAT_GPTQ,
         "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": "
         "32}}",
         "bits=8 is not supported"},
        {W4A16_FORMAT_CT,
         "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
         "\"marlin-24\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], "
         "\"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": true, \"strategy\": "
         "\"group\", \"group_size\": 32}}}}}",
         "format 'marlin-24' is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cfg_unsupported_%zu", i);
        test_layer l;
        const char *dir = write_one_layer(name, cases[i].format, 32, 1, 0, cases[i].config, &l);
        expect_open_fails(dir, W4A16_FORMAT_AUTO, W4A16_ERR_FORMAT, cases[i].needle);
        test_expect_error_has(LAYER);
        test_layer_free(&l);
    }
}

/* ------------------------------------------------------- per-layer rules */

static void expect_not_listed(const w4a16_checkpoint *ckpt, const char *layer) {
    int64_t index;
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, layer, &index), W4A16_ERR_ARG);
    test_expect_error_has(layer);
}

/* AutoAWQ skips modules whose name contains an entry of modules_to_not_convert. */
static void test_awq_modules_to_not_convert(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("cfg_awq_not_convert");
    uint64_t rng = 0xa3a;
    test_layer l;
    test_layer_random(&l, W4A16_FORMAT_AWQ, 16, 64, 32, 1, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_AWQ, "model.layers.0.mlp.up_proj", &l);
    test_ckpt_add_dense(&c, "visual.blocks.0.attn.qkv.weight", 48, 16, &rng);
    test_ckpt_add_dense(&c, "model.layers.0.mlp.gate.weight", 8, 64, &rng);
    test_ckpt_add_dense(&c, "model.embed_tokens.weight", 100, 64, &rng);
    test_ckpt_write_folder(&c, dir,
                           "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
                           "\"group_size\": 32, \"version\": \"gemm\", \"zero_point\": true, "
                           "\"modules_to_not_convert\": [\"visual\", \"mlp.gate\"]}}");
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 3);
    test_expect_layer_status(ckpt, "model.layers.0.mlp.up_proj", W4A16_LAYER_QUANTIZED, "");
    test_expect_layer_status(ckpt, "visual.blocks.0.attn.qkv", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    test_expect_layer_status(ckpt, "model.layers.0.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    expect_not_listed(ckpt, "model.embed_tokens");
    w4a16_layer_info info;
    test_layer_of(ckpt, "visual.blocks.0.attn.qkv", &info);
    assert_int_equal(info.n, 48);
    assert_int_equal(info.k, 16);
    w4a16_source src;
    int64_t index;
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "visual.blocks.0.attn.qkv", &index),
                     W4A16_OK);
    assert_int_equal(w4a16_checkpoint_source(ckpt, index, &src), W4A16_ERR_ARG);
    test_expect_error_has("is not quantized");
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&l);
}

/* compressed-tensors: groups match by "re:" pattern (anchored at the start,
 * as re.match), exact name or class "Linear"; the first matching group
 * decides; ignore leaves layers dense; groups in formats we cannot read make
 * their layers unsupported without failing the others. */
static void test_ct_groups_and_ignore(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("cfg_ct_groups");
    uint64_t rng = 0xc7c7;
    test_layer mlp, attn;
    test_layer_random(&mlp, W4A16_FORMAT_CT, 16, 64, 32, 1, 0, &rng);
    test_layer_random(&attn, W4A16_FORMAT_CT, 16, 64, -1, 0, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.0.mlp.up_proj", &mlp);
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.0.self_attn.o_proj", &attn);
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.0.self_attn.k_proj", &attn);
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.1.mlp.up_proj", &attn);
    /* float-quantized keeps "weight" (fp8 here as U8 bytes) beside weight_scale. */
    uint8_t fp8[16 * 64];
    for (size_t i = 0; i < sizeof fp8; i++) fp8[i] = (uint8_t)(test_rng_next(&rng) >> 56);
    uint16_t scale[16];
    test_fill_random(scale, W4A16_F16, 16, 0.01, 0.1, &rng);
    test_ckpt_add_2d(&c, "model.layers.0.self_attn.q_proj.weight", W4A16_F8_E4M3, 16, 64, fp8);
    test_ckpt_add_2d(&c, "model.layers.0.self_attn.q_proj.weight_scale", W4A16_F16, 16, 1, scale);
    test_ckpt_add_dense(&c, "lm_head.weight", 24, 16, &rng);
    test_ckpt_add_dense(&c, "model.layers.0.mlp.gate.weight", 4, 16, &rng);
    test_ckpt_add_dense(&c, "model.layers.0.mlp.experts_norm.weight", 4, 16, &rng);
    test_ckpt_write_folder(
        &c, dir,
        "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
        "\"pack-quantized\", \"quantization_status\": \"compressed\", \"config_groups\": {"
        "\"fp8\": {\"targets\": [\"model.layers.0.self_attn.q_proj\"], \"format\": "
        "\"float-quantized\", \"weights\": {\"num_bits\": 8, \"type\": \"float\", \"symmetric\": "
        "true, \"strategy\": \"channel\"}},"
        "\"w4_mlp\": {\"targets\": [\"re:model\\\\.layers\\\\.0\\\\.mlp\\\\..*\"], \"weights\": "
        "{\"num_bits\": 4, \"type\": \"int\", \"symmetric\": false, \"strategy\": \"group\", "
        "\"group_size\": 32}},"
        "\"w4_o\": {\"targets\": [\"re:.*o_proj$\"], \"weights\": {\"num_bits\": 4, \"type\": "
        "\"int\", \"symmetric\": true, \"strategy\": \"channel\", \"group_size\": null}},"
        "\"w8_k\": {\"targets\": [\"re:.*k_proj\"], \"weights\": {\"num_bits\": 8, \"type\": "
        "\"int\", \"symmetric\": true, \"strategy\": \"channel\"}},"
        "\"unanchored\": {\"targets\": [\"re:mlp\"], \"weights\": {\"num_bits\": 4, \"type\": "
        "\"int\", \"symmetric\": true, \"strategy\": \"channel\"}}},"
        "\"ignore\": [\"lm_head\", \"re:.*mlp\\\\.gate$\"]}}");
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    test_expect_layer_status(ckpt, "model.layers.0.mlp.up_proj", W4A16_LAYER_QUANTIZED, "");
    test_expect_layer_status(ckpt, "model.layers.0.self_attn.o_proj", W4A16_LAYER_QUANTIZED, "");
    test_expect_layer_status(ckpt, "model.layers.0.self_attn.k_proj", W4A16_LAYER_UNSUPPORTED,
                             "bits=8");
    test_expect_layer_status(ckpt, "model.layers.0.self_attn.q_proj", W4A16_LAYER_UNSUPPORTED,
                             "format 'float-quantized' is not supported");
    test_expect_layer_status(ckpt, "model.layers.1.mlp.up_proj", W4A16_LAYER_UNSUPPORTED,
                             "no config group targets it");
    test_expect_layer_status(ckpt, "lm_head", W4A16_LAYER_UNQUANTIZED, "unquantized");
    test_expect_layer_status(ckpt, "model.layers.0.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    expect_not_listed(ckpt, "model.layers.0.mlp.experts_norm");
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 7);

    w4a16_source src;
    test_source_of(ckpt, "model.layers.0.mlp.up_proj", &src);
    test_expect_source(&src, &mlp);
    test_source_of(ckpt, "model.layers.0.self_attn.o_proj", &src);
    test_expect_source(&src, &attn);
    int64_t index;
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "model.layers.0.self_attn.k_proj", &index),
                     W4A16_OK);
    assert_int_equal(w4a16_checkpoint_source(ckpt, index, &src), W4A16_ERR_UNSUPPORTED);
    test_expect_error_has("bits=8");
    /* Tensors of unsupported layers belong to no quantized layer. */
    for (int64_t t = 0; t < w4a16_checkpoint_tensor_count(ckpt); t++) {
        w4a16_tensor_info tensor;
        assert_int_equal(w4a16_checkpoint_tensor(ckpt, t, &tensor), W4A16_OK);
        if (strstr(tensor.name, "k_proj") || strstr(tensor.name, "q_proj") ||
            strstr(tensor.name, "layers.1"))
            assert_int_equal(tensor.layer, -1);
        else if (strstr(tensor.name, "o_proj") || strstr(tensor.name, "0.mlp.up_proj"))
            assert_true(tensor.layer >= 0);
    }
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&mlp);
    test_layer_free(&attn);
}

/* A layer the config leaves dense but the file stores packed cannot be trusted either way. */
static void test_ignored_but_stored_quantized(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("cfg_ignored_packed");
    uint64_t rng = 0x16;
    test_layer l;
    test_layer_random(&l, W4A16_FORMAT_CT, 16, 64, 32, 0, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "a.proj", &l);
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "b.proj", &l);
    test_ckpt_write_folder(
        &c, dir,
        "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
        "\"pack-quantized\", \"config_groups\": {\"g\": {\"targets\": [\"Linear\"], \"weights\": "
        "{\"num_bits\": 4, \"type\": \"int\", \"symmetric\": true, \"strategy\": \"group\", "
        "\"group_size\": 32}}}, \"ignore\": [\"b.proj\"]}}");
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    test_expect_layer_status(ckpt, "a.proj", W4A16_LAYER_QUANTIZED, "");
    test_expect_layer_status(ckpt, "b.proj", W4A16_LAYER_UNSUPPORTED,
                             "config leaves it unquantized");
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_awq_quant_config),
        cmocka_unit_test(test_legacy_gptq_quantize_config),
        cmocka_unit_test(test_top_level_checkpoint_format),
        cmocka_unit_test(test_dense_checkpoint),
        cmocka_unit_test(test_bare_file_needs_its_format),
        cmocka_unit_test(test_explicit_format_infers_parameters),
        cmocka_unit_test(test_explicit_format_overrides_config),
        cmocka_unit_test(test_unknown_or_broken_config),
        cmocka_unit_test(test_unsupported_variants_fail_with_reason),
        cmocka_unit_test(test_awq_modules_to_not_convert),
        cmocka_unit_test(test_ct_groups_and_ignore),
        cmocka_unit_test(test_ignored_but_stored_quantized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
