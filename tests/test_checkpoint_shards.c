/* Sharded checkpoints (model.safetensors.index.json) and folders: the
 * tensors of every shard in one list, a layer split across shards, and the
 * index's errors (a tensor in two shards, a weight_map entry naming a
 * missing tensor or file, paths outside the folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

static const char *const GPTQ_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, "
    "\"sym\": false, \"desc_act\": true}}";

/* Two GPTQ act-order layers spread over two shards: layer 0's qweight sits in
 * shard 1 and the rest in shard 2; layer 1 and a norm in shard 2. */
typedef struct {
    const char *dir;
    test_layer a, b;
    test_ckpt shard1, shard2;
} sharded;

static void build_sharded(sharded *s, const char *name) {
    memset(s, 0, sizeof *s);
    s->dir = test_scratch_dir(name);
    uint64_t rng = 0x54a2d;
    test_layer_random(&s->a, W4A16_FORMAT_GPTQ, 32, 64, 32, 1, 1, &rng);
    test_layer_random(&s->b, W4A16_FORMAT_GPTQ, 16, 96, 32, 1, 0, &rng);
    test_ckpt all = {0};
    test_ckpt_add_layer(&all, W4A16_FORMAT_GPTQ, "model.layers.0.a", &s->a);
    test_ckpt_add_layer(&s->shard2, W4A16_FORMAT_GPTQ, "model.layers.0.b", &s->b);
    test_ckpt_add_dense(&s->shard2, "model.norm.weight", 1, 16, &rng);
    for (int64_t i = 0; i < all.count; i++) {
        const w4a16_st_write_tensor *t = &all.tensors[i];
        test_ckpt *target = strstr(t->name, "qweight") ? &s->shard1 : &s->shard2;
        test_ckpt_add(target, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    test_ckpt_free(&all);
}

static void write_shards(const sharded *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", s->dir);
    test_ckpt_write(&s->shard1, path);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", s->dir);
    test_ckpt_write(&s->shard2, path);
}

/* The index for the shards as built (a name in both shards is listed once,
 * in the second), plus an `extra` entry (JSON text, or ""). */
static void write_index(const sharded *s, const char *extra) {
    char text[8192] = "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {";
    const test_ckpt *shards[2] = {&s->shard1, &s->shard2};
    const char *separator = "";
    for (int f = 0; f < 2; f++)
        for (int64_t i = 0; i < shards[f]->count; i++) {
            const char *name = shards[f]->tensors[i].name;
            int listed_later = 0;
            for (int64_t j = 0; f == 0 && j < s->shard2.count; j++)
                listed_later = listed_later || strcmp(s->shard2.tensors[j].name, name) == 0;
            if (listed_later) continue;
            snprintf(text + strlen(text), sizeof text - strlen(text),
                     "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", separator, name, f + 1);
            separator = ", ";
        }
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s}}", extra[0] ? ", " : "",
             extra);
    test_write_config(s->dir, "model.safetensors.index.json", text);
}

static void free_sharded(sharded *s) {
    test_layer_free(&s->a);
    test_layer_free(&s->b);
    test_ckpt_free(&s->shard1);
    test_ckpt_free(&s->shard2);
}

static void expect_open_fails(const char *path, w4a16_status status, const char *needle) {
    w4a16_checkpoint *ckpt = NULL;
    assert_int_equal(w4a16_checkpoint_open(path, W4A16_FORMAT_AUTO, &ckpt), status);
    assert_null(ckpt);
    test_expect_error_has(needle);
}

static void expect_layers(const char *path, const sharded *s) {
    w4a16_checkpoint *ckpt = test_open_ok(path, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), W4A16_FORMAT_GPTQ);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 2);
    assert_int_equal(w4a16_checkpoint_tensor_count(ckpt), s->shard1.count + s->shard2.count);
    w4a16_source src;
    test_source_of(ckpt, "model.layers.0.a", &src);
    test_expect_source(&src, &s->a);
    test_source_of(ckpt, "model.layers.0.b", &src);
    test_expect_source(&src, &s->b);
    const char *previous = "";
    for (int64_t t = 0; t < w4a16_checkpoint_tensor_count(ckpt); t++) {
        w4a16_tensor_info tensor;
        assert_int_equal(w4a16_checkpoint_tensor(ckpt, t, &tensor), W4A16_OK);
        assert_true(strcmp(previous, tensor.name) < 0);
        previous = tensor.name;
        int expected = strstr(tensor.name, ".a.") ? 0 : strstr(tensor.name, ".b.") ? 1 : -1;
        assert_int_equal(tensor.layer, expected);
    }
    w4a16_checkpoint_close(ckpt);
}

static void test_index_and_folder(void **state) {
    (void)state;
    sharded s;
    build_sharded(&s, "shards_ok");
    write_shards(&s);
    write_index(&s, "");
    test_write_config(s.dir, "config.json", GPTQ_CONFIG);
    char index[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", s.dir);
    expect_layers(index, &s);
    expect_layers(s.dir, &s);
    free_sharded(&s);
}

static void test_tensor_in_two_shards(void **state) {
    (void)state;
    sharded s;
    build_sharded(&s, "shards_duplicate");
    uint16_t value[16] = {1};
    test_ckpt_add_2d(&s.shard1, "model.norm.weight", W4A16_F16, 1, 16, value);
    write_shards(&s);
    write_index(&s, "");
    test_write_config(s.dir, "config.json", GPTQ_CONFIG);
    expect_open_fails(s.dir, W4A16_ERR_FORMAT, "'model.norm.weight' is in two shards");
    free_sharded(&s);
}

static void test_weight_map_errors(void **state) {
    (void)state;
    sharded s;
    build_sharded(&s, "shards_bad_map");
    write_shards(&s);
    test_write_config(s.dir, "config.json", GPTQ_CONFIG);
    char index[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", s.dir);

    write_index(&s, "\"model.missing.weight\": \"model-00001-of-00002.safetensors\"");
    expect_open_fails(index, W4A16_ERR_FORMAT,
                      "puts tensor 'model.missing.weight' in 'model-00001-of-00002.safetensors', "
                      "which does not hold it");
    write_index(&s, "\"model.other.weight\": \"model-00003-of-00003.safetensors\"");
    expect_open_fails(index, W4A16_ERR_IO, "model-00003-of-00003.safetensors");
    write_index(&s, "\"model.other.weight\": \"../outside.safetensors\"");
    expect_open_fails(index, W4A16_ERR_FORMAT, "not a file below the index's folder");
    write_index(&s, "\"model.other.weight\": 7");
    expect_open_fails(index, W4A16_ERR_FORMAT, "is not a file name");
    test_write_config(s.dir, "model.safetensors.index.json", "{\"metadata\": {}}");
    expect_open_fails(index, W4A16_ERR_FORMAT, "no 'weight_map'");
    test_write_config(s.dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"x\",");
    expect_open_fails(index, W4A16_ERR_FORMAT, "invalid JSON");
    /* A shard that is not a valid safetensors file fails with the reader's message. */
    write_index(&s, "");
    test_write_config(s.dir, "model-00001-of-00002.safetensors", "not a safetensors file");
    expect_open_fails(index, W4A16_ERR_FORMAT, "model-00001-of-00002.safetensors");
    free_sharded(&s);
}

static void test_folder_and_path_errors(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("shards_empty_folder");
    test_write_config(dir, "config.json", GPTQ_CONFIG);
    expect_open_fails(dir, W4A16_ERR_ARG, "holds no .safetensors file");
    char path[4096];
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    expect_open_fails(path, W4A16_ERR_IO, "absent.safetensors");
    w4a16_checkpoint *ckpt = NULL;
    assert_int_equal(w4a16_checkpoint_open(NULL, W4A16_FORMAT_AUTO, &ckpt), W4A16_ERR_ARG);
    assert_int_equal(w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, NULL), W4A16_ERR_ARG);
    assert_int_equal(w4a16_checkpoint_open(dir, (w4a16_format)42, &ckpt), W4A16_ERR_ARG);
    test_expect_error_has("format=42");
    assert_null(ckpt);
    /* The accessors reject what they cannot answer, and accept NULL where documented. */
    w4a16_checkpoint_close(NULL);
    assert_int_equal(w4a16_checkpoint_layer_count(NULL), 0);
    assert_int_equal(w4a16_checkpoint_tensor_count(NULL), 0);
    w4a16_tensor_info tensor;
    assert_int_equal(w4a16_checkpoint_tensor(NULL, 0, &tensor), W4A16_ERR_ARG);
}

/* A folder holding both prefers model.safetensors, as transformers does. */
static void test_folder_prefers_single_file(void **state) {
    (void)state;
    sharded s;
    build_sharded(&s, "shards_prefer_single");
    write_shards(&s);
    write_index(&s, "\"model.missing.weight\": \"model-00001-of-00002.safetensors\"");
    test_ckpt single = {0};
    test_ckpt_add_layer(&single, W4A16_FORMAT_GPTQ, "model.layers.0.b", &s.b);
    test_ckpt_write_folder(&single, s.dir, GPTQ_CONFIG);
    test_ckpt_free(&single);
    w4a16_checkpoint *ckpt = test_open_ok(s.dir, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 1);
    w4a16_checkpoint_close(ckpt);
    free_sharded(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_and_folder),
        cmocka_unit_test(test_tensor_in_two_shards),
        cmocka_unit_test(test_weight_map_errors),
        cmocka_unit_test(test_folder_and_path_errors),
        cmocka_unit_test(test_folder_prefers_single_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
