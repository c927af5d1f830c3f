/* Which weights a folder opens: model.safetensors, its index, AutoGPTQ's
 * <model_file_base_name>.safetensors named in quantize_config.json, or the
 * folder's only index or .safetensors file; several with no rule to choose
 * is an error that lists them. */
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

/* AutoGPTQ's save_quantized: the model's config.json without a
 * quantization_config, the parameters and the file's base name beside it. */
static const char *const QUANTIZE_CONFIG =
    "{\"bits\": 4, \"group_size\": 32, \"damp_percent\": 0.01, \"desc_act\": false, "
    "\"static_groups\": false, \"sym\": false, \"true_sequential\": true, "
    "\"model_name_or_path\": null, \"model_file_base_name\": \"gptq_model-4bit-32g\", "
    "\"quant_method\": \"gptq\", \"checkpoint_format\": \"gptq\"}";

/* One random GPTQ layer (and a dense lm_head) in c. */
static void build_layer(test_ckpt *c, test_layer *l, uint64_t seed) {
    memset(c, 0, sizeof *c);
    uint64_t rng = seed;
    test_layer_random(l, W4A16_FORMAT_GPTQ, 16, 64, 32, 1, 0, &rng);
    test_ckpt_add_layer(c, W4A16_FORMAT_GPTQ, LAYER, l);
    test_ckpt_add_dense(c, "lm_head.weight", 24, 16, &rng);
}

static void write_named(const test_ckpt *c, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    test_ckpt_write(c, path);
}

/* A folder for the AutoGPTQ layout: config.json of the model, quantize_config.json. */
static const char *autogptq_folder(const char *name) {
    const char *dir = test_scratch_dir(name);
    test_write_config(dir, "config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}");
    test_write_config(dir, "quantize_config.json", QUANTIZE_CONFIG);
    return dir;
}

static void expect_layer(const char *dir, const test_layer *l, int64_t tensor_count) {
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), W4A16_FORMAT_GPTQ);
    assert_int_equal(w4a16_checkpoint_tensor_count(ckpt), tensor_count);
    w4a16_source src;
    test_source_of(ckpt, LAYER, &src);
    test_expect_source(&src, l);
    w4a16_checkpoint_close(ckpt);
}

static void expect_open_fails(const char *dir, w4a16_status status, const char *needle) {
    w4a16_checkpoint *ckpt = NULL;
    assert_int_equal(w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, &ckpt), status);
    assert_null(ckpt);
    test_expect_error_has(needle);
}

/* quantize_config.json's model_file_base_name picks the file, even beside others. */
static void test_autogptq_base_name(void **state) {
    (void)state;
    test_ckpt c, other;
    test_layer l, l_other;
    build_layer(&c, &l, 0xa6);
    build_layer(&other, &l_other, 0xb7);
    test_ckpt_add_dense(&other, "model.extra.weight", 8, 16, &(uint64_t){3});
    const char *dir = autogptq_folder("folder_base_name");
    write_named(&c, dir, "gptq_model-4bit-32g.safetensors");
    expect_layer(dir, &l, c.count);
    write_named(&other, dir, "adapter_model.safetensors");
    write_named(&other, dir, ".hidden.safetensors");
    expect_layer(dir, &l, c.count);
    /* model.safetensors still comes first, as transformers reads it. */
    write_named(&other, dir, "model.safetensors");
    expect_layer(dir, &l_other, other.count);
    test_ckpt_free(&c);
    test_ckpt_free(&other);
    test_layer_free(&l);
    test_layer_free(&l_other);
}

/* Without a name to go by, the folder's only .safetensors file; hidden files do not count. */
static void test_only_file(void **state) {
    (void)state;
    test_ckpt c;
    test_layer l;
    build_layer(&c, &l, 0xc8);
    const char *dir = test_scratch_dir("folder_only_file");
    test_write_config(dir, "config.json",
                      "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, "
                      "\"group_size\": 32, \"sym\": false}}");
    write_named(&c, dir, "weights.safetensors");
    write_named(&c, dir, "._weights.safetensors");
    expect_layer(dir, &l, c.count);
    /* A base name whose file is absent leaves the choice to the rule. */
    test_write_config(dir, "quantize_config.json", QUANTIZE_CONFIG);
    expect_layer(dir, &l, c.count);
    test_ckpt_free(&c);
    test_layer_free(&l);
}

/* The folder's only index opens its shards (here one shard under any name). */
static void test_only_index(void **state) {
    (void)state;
    test_ckpt c;
    test_layer l;
    build_layer(&c, &l, 0xd9);
    const char *dir = autogptq_folder("folder_only_index");
    test_write_config(dir, "quantize_config.json",
                      "{\"bits\": 4, \"group_size\": 32, \"sym\": false}");
    write_named(&c, dir, "shard-00001-of-00001.safetensors");
    write_named(&c, dir, "stray.safetensors");
    char index[8192] = "{\"weight_map\": {";
    for (int64_t i = 0; i < c.count; i++)
        snprintf(index + strlen(index), sizeof index - strlen(index),
                 "%s\"%s\": \"shard-00001-of-00001.safetensors\"", i ? ", " : "",
                 c.tensors[i].name);
    strcat(index, "}}");
    test_write_config(dir, "gptq_model-4bit-32g.safetensors.index.json", index);
    expect_layer(dir, &l, c.count);
    /* Named by model_file_base_name, the same index. */
    test_write_config(dir, "quantize_config.json", QUANTIZE_CONFIG);
    expect_layer(dir, &l, c.count);
    test_ckpt_free(&c);
    test_layer_free(&l);
}

static void test_ambiguous_or_empty_folder(void **state) {
    (void)state;
    test_ckpt c;
    test_layer l;
    build_layer(&c, &l, 0xea);
    const char *dir = autogptq_folder("folder_ambiguous");
    expect_open_fails(dir, W4A16_ERR_ARG, "holds no .safetensors file");
    write_named(&c, dir, "b.safetensors");
    write_named(&c, dir, "a.safetensors");
    /* model_file_base_name names a file that is not there: no rule chooses. */
    expect_open_fails(dir, W4A16_ERR_ARG, "holds 2 .safetensors files");
    test_expect_error_has("a.safetensors, b.safetensors; open one of them by its path");
    for (int i = 0; i < 10; i++) {
        char name[64];
        snprintf(name, sizeof name, "part%d.safetensors", i);
        write_named(&c, dir, name);
    }
    expect_open_fails(dir, W4A16_ERR_ARG, "holds 12 .safetensors files");
    test_expect_error_has("and 4 more");
    test_write_config(dir, "x.safetensors.index.json", "{}");
    test_write_config(dir, "y.safetensors.index.json", "{}");
    expect_open_fails(dir, W4A16_ERR_ARG,
                      "2 .safetensors.index.json files and no model.safetensors or "
                      "model.safetensors.index.json: x.safetensors.index.json, "
                      "y.safetensors.index.json");
    /* The file each path names opens whatever else the folder holds. */
    char path[4096];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    w4a16_checkpoint *ckpt = test_open_ok(path, W4A16_FORMAT_AUTO);
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
    test_layer_free(&l);
}

/* A base name that leaves the folder is refused, naming it. */
static void test_base_name_outside_folder(void **state) {
    (void)state;
    const char *bad[] = {"../gptq_model", "sub/gptq_model", "..", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *dir = test_scratch_dir("folder_bad_base_name");
        char text[256];
        snprintf(text, sizeof text, "{\"bits\": 4, \"model_file_base_name\": \"%s\"}", bad[i]);
        test_write_config(dir, "quantize_config.json", text);
        expect_open_fails(dir, W4A16_ERR_FORMAT, "is not a file name in its folder");
        test_expect_error_has("quantize_config.json: model_file_base_name");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autogptq_base_name),
        cmocka_unit_test(test_only_file),
        cmocka_unit_test(test_only_index),
        cmocka_unit_test(test_ambiguous_or_empty_folder),
        cmocka_unit_test(test_base_name_outside_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
