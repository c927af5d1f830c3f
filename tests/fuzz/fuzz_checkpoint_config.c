/* libFuzzer target for the quantization-config reader: any text, read as
 * config.json, quant_config.json or quantize_config.json, either fails with
 * W4A16_ERR_FORMAT and a message, or gives a config whose schemes are
 * consistent and whose name matching never crashes. Build with clang and
 * -DW4A16_FUZZ=ON; seeds are in corpus_config/:
 *   build-fuzz/tests/fuzz_checkpoint_config -max_total_time=60 tests/fuzz/corpus_config */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checkpoint/config.h"

/* A broken invariant is a crash, so the fuzzer reports it with its input. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size);

static void check_scheme(const w4a16_quant_scheme *scheme) {
    EXPECT(scheme->group_size == 0 || scheme->group_size == -1 || scheme->group_size > 0);
    EXPECT(scheme->symmetric >= -1 && scheme->symmetric <= 1);
    EXPECT(scheme->act_order == 0 || scheme->act_order == 1);
    EXPECT(memchr(scheme->unsupported, '\0', sizeof scheme->unsupported) != NULL);
    /* A scheme we would read is 4-bit. */
    EXPECT(scheme->unsupported[0] != '\0' || scheme->bits == 4);
}

static void check_config(const w4a16_quant_config *config) {
    EXPECT(config->format >= W4A16_FORMAT_AUTO && config->format <= W4A16_FORMAT_CT);
    check_scheme(&config->scheme);
    for (int64_t g = 0; g < config->group_count; g++) {
        EXPECT(config->groups[g].name != NULL);
        check_scheme(&config->groups[g].scheme);
    }
    for (int64_t r = 0; r < config->dynamic_count; r++) {
        EXPECT(config->dynamic[r].pattern.count == 1);
        EXPECT(r == 0 || config->dynamic[r - 1].skip >= config->dynamic[r].skip);
        if (!config->dynamic[r].skip) check_scheme(&config->dynamic[r].scheme);
    }
    static const char *const names[] = {"model.layers.0.mlp.up_proj", "lm_head", "", "re:.*",
                                        "model.layers.17.mlp.gate"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int ignored = -1;
        const w4a16_quant_scheme *scheme =
            w4a16_quant_config_scheme_for(config, names[i], &ignored);
        EXPECT(ignored == 0 || ignored == 1);
        EXPECT(!(ignored && scheme != NULL));
        int in_config = scheme == &config->scheme;
        for (int64_t g = 0; g < config->group_count; g++)
            in_config = in_config || scheme == &config->groups[g].scheme;
        for (int64_t r = 0; r < config->dynamic_count; r++)
            in_config = in_config ||
                        (!config->dynamic[r].skip && scheme == &config->dynamic[r].scheme);
        EXPECT(scheme == NULL || in_config);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    static const w4a16_config_file files[] = {W4A16_CONFIG_JSON, W4A16_CONFIG_AWQ_LEGACY,
                                              W4A16_CONFIG_GPTQ_LEGACY};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        w4a16_quant_config config;
        w4a16_status status =
            w4a16_quant_config_parse((const char *)bytes, size, files[f], "fuzz", &config);
        if (status != W4A16_OK) {
            EXPECT(status == W4A16_ERR_FORMAT || status == W4A16_ERR_NOMEM);
            EXPECT(w4a16_last_error()[0] != '\0');
            continue;
        }
        check_config(&config);
        w4a16_quant_config_free(&config);
    }
    return 0;
}
