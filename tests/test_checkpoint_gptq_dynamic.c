/* GPTQModel's dynamic rules in a GPTQ config: "-:<regex>" leaves modules
 * unquantized (dense weights listed as UNQUANTIZED, packed ones refused),
 * "+:<regex>" or a bare regex overrides bits, group_size, sym and desc_act
 * for the modules it matches (the first such rule decides; skip rules win
 * over them wherever they stand), other override keys make the layers
 * unsupported naming them, and malformed rules fail the open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

static void expect_group_size(const w4a16_checkpoint *ckpt, const char *layer, int64_t group_size,
                              int symmetric) {
    w4a16_layer_info info;
    test_layer_of(ckpt, layer, &info);
    assert_int_equal(info.group_size, group_size);
    assert_int_equal(info.symmetric, symmetric);
}

static void expect_reads(const w4a16_checkpoint *ckpt, const char *layer, const test_layer *l) {
    w4a16_source src;
    test_source_of(ckpt, layer, &src);
    test_expect_source(&src, l);
}

/* The config every layer below is read under; in C, "\\\\." is the regex \. */
static const char *const DYNAMIC_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, "
    "\"sym\": true, \"desc_act\": false, \"checkpoint_format\": \"gptq\", \"dynamic\": {"
    /* bare key, (?:...) group, a calibration-only key: layer 0's down_proj in groups of 64 */
    "\"model\\\\.layers\\\\.0\\\\.mlp\\\\.(?:down|gate_up)_proj\": {\"group_size\": 64, "
    "\"damp_percent\": 0.05},"
    /* later, so layer 0's down_proj keeps the rule above; layer 1's is 8-bit */
    "\"+:.*down_proj\": {\"bits\": 8},"
    "\"+:.*k_proj\": {\"sym\": false},"
    "\"+:.*o_proj\": {\"adapter\": {\"rank\": 128}},"
    /* an override before a skip rule that also matches: the skip wins */
    "\"+:model\\\\.layers\\\\.3\\\\.\": {\"group_size\": 16},"
    "\"-:lm_head$\": {},"
    "\"-:model\\\\.layers\\\\.\\\\d+\\\\.mlp\\\\.gate$\": {},"
    "\"-:model\\\\.layers\\\\.2\\\\.\": {}}}}";

static void test_dynamic_rules(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("gptq_dynamic");
    uint64_t rng = 0xd1a;
    test_layer up, down64, down1, k_asym, o, packed_skipped, layer3;
    test_layer_random(&up, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    test_layer_random(&down64, W4A16_FORMAT_GPTQ, 16, 128, 64, 0, 0, &rng);
    test_layer_random(&down1, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    test_layer_random(&k_asym, W4A16_FORMAT_GPTQ, 16, 128, 32, 1, 0, &rng);
    test_layer_random(&o, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    test_layer_random(&packed_skipped, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    test_layer_random(&layer3, W4A16_FORMAT_GPTQ, 16, 128, 16, 0, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.mlp.up_proj", &up);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.mlp.down_proj", &down64);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.1.mlp.down_proj", &down1);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.self_attn.k_proj", &k_asym);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.self_attn.o_proj", &o);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.2.mlp.up_proj", &packed_skipped);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.3.mlp.up_proj", &layer3);
    test_ckpt_add_dense(&c, "lm_head.weight", 24, 16, &rng);
    test_ckpt_add_dense(&c, "model.layers.0.mlp.gate.weight", 4, 128, &rng);
    test_ckpt_add_dense(&c, "model.layers.12.mlp.gate.weight", 4, 128, &rng);
    test_ckpt_add_dense(&c, "model.layers.3.mlp.gate.weight", 4, 128, &rng);
    test_ckpt_add_dense(&c, "model.layers.2.mlp.shared_gate.weight", 4, 128, &rng);
    test_ckpt_add_dense(&c, "model.layers.0.mlp.gate_norm.weight", 4, 128, &rng);
    test_ckpt_add_dense(&c, "model.embed_tokens.weight", 64, 16, &rng);
    test_ckpt_write_folder(&c, dir, DYNAMIC_CONFIG);
    test_ckpt_free(&c);

    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    /* No rule: the config's scheme. */
    test_expect_layer_status(ckpt, "model.layers.0.mlp.up_proj", W4A16_LAYER_QUANTIZED, "");
    expect_group_size(ckpt, "model.layers.0.mlp.up_proj", 32, 1);
    expect_reads(ckpt, "model.layers.0.mlp.up_proj", &up);
    /* Overrides: group_size 64 (the first matching rule), sym false. */
    test_expect_layer_status(ckpt, "model.layers.0.mlp.down_proj", W4A16_LAYER_QUANTIZED, "");
    expect_group_size(ckpt, "model.layers.0.mlp.down_proj", 64, 1);
    expect_reads(ckpt, "model.layers.0.mlp.down_proj", &down64);
    test_expect_layer_status(ckpt, "model.layers.0.self_attn.k_proj", W4A16_LAYER_QUANTIZED, "");
    expect_group_size(ckpt, "model.layers.0.self_attn.k_proj", 32, 0);
    expect_reads(ckpt, "model.layers.0.self_attn.k_proj", &k_asym);
    /* Overrides we cannot read name the rule or the key. */
    test_expect_layer_status(ckpt, "model.layers.1.mlp.down_proj", W4A16_LAYER_UNSUPPORTED,
                             "dynamic rule '+:.*down_proj': bits=8 is not supported");
    test_expect_layer_status(ckpt, "model.layers.0.self_attn.o_proj", W4A16_LAYER_UNSUPPORTED,
                             "override 'adapter' is not supported");
    /* Skip rules: dense weights are unquantized layers, packed ones refused. */
    test_expect_layer_status(ckpt, "lm_head", W4A16_LAYER_UNQUANTIZED, "unquantized");
    test_expect_layer_status(ckpt, "model.layers.0.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    test_expect_layer_status(ckpt, "model.layers.12.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    test_expect_layer_status(ckpt, "model.layers.3.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    test_expect_layer_status(ckpt, "model.layers.2.mlp.shared_gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    test_expect_layer_status(ckpt, "model.layers.2.mlp.up_proj", W4A16_LAYER_UNSUPPORTED,
                             "stored quantized, but the config leaves it unquantized");
    test_expect_layer_status(ckpt, "model.layers.3.mlp.up_proj", W4A16_LAYER_QUANTIZED, "");
    expect_group_size(ckpt, "model.layers.3.mlp.up_proj", 16, 1);
    expect_reads(ckpt, "model.layers.3.mlp.up_proj", &layer3);
    /* "gate$" ends the match; no rule names the embeddings. */
    int64_t index;
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "model.layers.0.mlp.gate_norm", &index),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "model.embed_tokens", &index),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 12);
    w4a16_checkpoint_close(ckpt);

    /* The same rules from AutoGPTQ's quantize_config.json, and kept when the
     * caller names gptq_v2 over the v1 config (its zeros then read as stored). */
    const char *legacy = strstr(DYNAMIC_CONFIG, "{\"quant_method\"");
    char text[2048];
    snprintf(text, sizeof text, "%.*s", (int)(strlen(legacy) - 1), legacy);
    test_write_config(dir, "config.json", "{\"architectures\": [\"Qwen2ForCausalLM\"]}");
    test_write_config(dir, "quantize_config.json", text);
    ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    test_expect_layer_status(ckpt, "model.layers.12.mlp.gate", W4A16_LAYER_UNQUANTIZED,
                             "unquantized");
    expect_group_size(ckpt, "model.layers.0.mlp.down_proj", 64, 1);
    w4a16_checkpoint_close(ckpt);
    ckpt = test_open_ok(dir, W4A16_FORMAT_GPTQ_V2);
    test_expect_layer_status(ckpt, "lm_head", W4A16_LAYER_UNQUANTIZED, "unquantized");
    expect_group_size(ckpt, "model.layers.0.mlp.down_proj", 64, 1);
    w4a16_checkpoint_close(ckpt);

    test_layer *layers[] = {&up, &down64, &down1, &k_asym, &o, &packed_skipped, &layer3};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        test_layer_free(layers[i]);
}

/* An override of bits on a config we cannot read otherwise makes its layers readable. */
static void test_override_rescues_layers(void **state) {
    (void)state;
    const char *dir = test_scratch_dir("gptq_dynamic_rescue");
    uint64_t rng = 0x4e5c;
    test_layer l;
    test_layer_random(&l, W4A16_FORMAT_GPTQ, 16, 128, 32, 1, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.mlp.up_proj", &l);
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.1.mlp.up_proj", &l);
    test_ckpt_write_folder(&c, dir,
                           "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 8, "
                           "\"group_size\": 32, \"sym\": false, \"dynamic\": {\"+:.*layers.0.\": "
                           "{\"bits\": 4}}}}");
    test_ckpt_free(&c);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    test_expect_layer_status(ckpt, "model.layers.0.mlp.up_proj", W4A16_LAYER_QUANTIZED, "");
    expect_reads(ckpt, "model.layers.0.mlp.up_proj", &l);
    /* The config's own reason, unprefixed: no rule is to blame. */
    w4a16_layer_info info;
    test_layer_of(ckpt, "model.layers.1.mlp.up_proj", &info);
    assert_int_equal(info.status, W4A16_LAYER_UNSUPPORTED);
    assert_string_equal(info.reason, "bits=8 is not supported (only 4)");
    w4a16_checkpoint_close(ckpt);
    test_layer_free(&l);
}

static void test_malformed_dynamic(void **state) {
    (void)state;
    static const struct {
        const char *dynamic, *needle;
    } cases[] = {
        {"[\"-:lm_head\"]", "'dynamic' is not an object"},
        {"{\"-:lm_head\": true}", "dynamic '-:lm_head' is not an object"},
        {"{\"-:(unclosed\": {}}", "dynamic: pattern '(unclosed' is not a valid"},
        {"{\"-:(?=lookahead)\": {}}", "look-around"},
        {"{\"+:.*\": {\"bits\": \"4\"}}", "'bits' is not an integer"},
        {"{\"+:.*\": {\"group_size\": -2}}", "group_size=-2"},
        {"{\"-:(a{999}){999}\": {}}", "too large"},
    };
    uint64_t rng = 0xbad;
    test_layer l;
    test_layer_random(&l, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_GPTQ, "model.layers.0.mlp.up_proj", &l);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = test_scratch_dir("gptq_dynamic_malformed");
        char config[512];
        snprintf(config, sizeof config,
                 "{\"quantization_config\": {\"quant_method\": \"gptq\", \"group_size\": 32, "
                 "\"dynamic\": %s}}",
                 cases[i].dynamic);
        test_ckpt_write_folder(&c, dir, config);
        w4a16_checkpoint *ckpt = NULL;
        w4a16_status status = w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, &ckpt);
        if (status != W4A16_ERR_FORMAT)
            fail_msg("case %zu (%s): status %d", i, cases[i].dynamic, status);
        assert_null(ckpt);
        test_expect_error_has(cases[i].needle);
        test_expect_error_has("config.json");
    }
    test_ckpt_free(&c);
    test_layer_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamic_rules),
        cmocka_unit_test(test_override_rescues_layers),
        cmocka_unit_test(test_malformed_dynamic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
