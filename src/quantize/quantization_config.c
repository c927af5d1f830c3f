/* quantization_config objects, one builder per format family. */
#include "quantization_config.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* json_pack that reports a failure (allocation, or a name that is not UTF-8). */
#define PACK_OR_FAIL(out, ...)                                                                 \
    do {                                                                                       \
        json_error_t pack_error_;                                                              \
        (out) = json_pack_ex(&pack_error_, 0, __VA_ARGS__);                                    \
        W4A16_FAIL_IF((out) == NULL, W4A16_ERR_ARG, "cannot build quantization_config: %s",   \
                      pack_error_.text);                                                       \
    } while (0)

/* 1 when name lies inside one of the quantized layers' names. */
static int inside_a_quantized_name(const w4a16_quantization_params *params, const char *name) {
    for (int64_t i = 0; i < params->quantized_count; i++)
        if (params->quantized[i] != NULL && strstr(params->quantized[i], name) != NULL) return 1;
    return 0;
}

/* The ignore list as a JSON array of names; substring readers (AWQ) get only
 * the names that match no quantized layer. */
static w4a16_status name_array(const w4a16_quantization_params *params, int substring_readers,
                               json_t **out) {
    json_t *array = json_array();
    W4A16_FAIL_IF(array == NULL, W4A16_ERR_NOMEM, "cannot build the ignore list");
    for (int64_t i = 0; i < params->ignore_count; i++) {
        if (substring_readers && params->ignore[i] != NULL &&
            inside_a_quantized_name(params, params->ignore[i]))
            continue;
        json_t *item = params->ignore[i] != NULL ? json_string(params->ignore[i]) : NULL;
        if (json_array_append_new(array, item) != 0) {
            json_decref(array);
            return w4a16_fail(W4A16_ERR_ARG, "ignore[%lld] is NULL or not valid UTF-8",
                              (long long)i);
        }
    }
    *out = array;
    return W4A16_OK;
}

/* GPTQModel's dynamic key "-:<regex>" skips the modules the regex matches
 * (re.match, so anchored at the start): the name escaped and anchored at the
 * end. NULL when out of memory. */
static char *skip_pattern(const char *name) {
    char *pattern = malloc(2 * strlen(name) + 4);
    if (pattern == NULL) return NULL;
    char *p = pattern;
    *p++ = '-';
    *p++ = ':';
    for (const char *c = name; *c; c++) {
        if (strchr(".^$*+?()[]{}|\\", *c) != NULL) *p++ = '\\';
        *p++ = *c;
    }
    *p++ = '$';
    *p = '\0';
    return pattern;
}

/* config.dynamic = {"-:<name>$": {}, ...}, one entry per ignored layer. */
static w4a16_status gptq_dynamic(const w4a16_quantization_params *params, json_t *config) {
    json_t *dynamic = json_object();
    W4A16_FAIL_IF(dynamic == NULL || json_object_set_new(config, "dynamic", dynamic) != 0,
                  W4A16_ERR_NOMEM, "cannot build the dynamic skip list");
    for (int64_t i = 0; i < params->ignore_count; i++) {
        char *key = params->ignore[i] != NULL ? skip_pattern(params->ignore[i]) : NULL;
        int failed = key == NULL || json_object_set_new(dynamic, key, json_object()) != 0;
        free(key);
        W4A16_FAIL_IF(failed, W4A16_ERR_ARG, "ignore[%lld] is NULL or not valid UTF-8",
                      (long long)i);
    }
    return W4A16_OK;
}

static w4a16_status awq_config(const w4a16_quantization_params *params, json_t **out) {
    W4A16_FAIL_IF(params->act_order, W4A16_ERR_UNSUPPORTED, "awq cannot store act-order weights");
    json_t *ignore = json_null();
    if (params->ignore_count > 0) W4A16_TRY(name_array(params, 1, &ignore));
    if (json_array_size(ignore) == 0 && json_is_array(ignore)) {
        json_decref(ignore);
        ignore = json_null();
    }
    PACK_OR_FAIL(*out, "{s:s, s:i, s:I, s:b, s:s, s:o}", "quant_method", "awq", "bits", 4,
                 "group_size", (json_int_t)params->group_size, "zero_point", !params->symmetric,
                 "version", "gemm", "modules_to_not_convert", ignore);
    return W4A16_OK;
}

static w4a16_status gptq_config(w4a16_format format, const w4a16_quantization_params *params,
                                json_t **out) {
    PACK_OR_FAIL(*out, "{s:s, s:i, s:I, s:b, s:b, s:s}", "quant_method", "gptq", "bits", 4,
                 "group_size", (json_int_t)params->group_size, "sym", params->symmetric,
                 "desc_act", params->act_order, "checkpoint_format",
                 format == W4A16_FORMAT_GPTQ_V2 ? "gptq_v2" : "gptq");
    if (params->ignore_count == 0) return W4A16_OK;
    w4a16_status status = gptq_dynamic(params, *out);
    if (status != W4A16_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return status;
}

static w4a16_status ct_config(const w4a16_quantization_params *params, json_t **out) {
    int per_channel = params->group_size < 0;
    json_t *ignore = NULL;
    W4A16_TRY(name_array(params, 0, &ignore));
    PACK_OR_FAIL(*out,
                 "{s:s, s:s, s:s, s:{s:{s:[s], s:{s:i, s:s, s:b, s:s, s:o, s:o, s:b}, s:n, s:n}}, "
                 "s:o}",
                 "quant_method", "compressed-tensors", "format", "pack-quantized",
                 "quantization_status", "compressed", "config_groups", "group_0", "targets",
                 "Linear", "weights", "num_bits", 4, "type", "int", "symmetric",
                 params->symmetric, "strategy", per_channel ? "channel" : "group", "group_size",
                 per_channel ? json_null() : json_integer(params->group_size), "actorder",
                 params->act_order ? json_string("group") : json_null(), "dynamic", 0,
                 "input_activations", "output_activations", "ignore", ignore);
    return W4A16_OK;
}

w4a16_status w4a16_quantization_config(w4a16_format format, const w4a16_quantization_params *params,
                                       json_t **out) {
    W4A16_FAIL_IF(params == NULL || out == NULL, W4A16_ERR_ARG, "params or out is NULL");
    W4A16_FAIL_IF(params->group_size == 0 || params->group_size < -1, W4A16_ERR_ARG,
                  "group_size=%lld must be positive or -1 (per-channel)",
                  (long long)params->group_size);
    W4A16_FAIL_IF(params->ignore_count < 0 || (params->ignore_count > 0 && params->ignore == NULL),
                  W4A16_ERR_ARG, "ignore list of %lld names is NULL or negative",
                  (long long)params->ignore_count);
    W4A16_FAIL_IF(params->quantized_count < 0 ||
                      (params->quantized_count > 0 && params->quantized == NULL),
                  W4A16_ERR_ARG, "list of %lld quantized names is NULL or negative",
                  (long long)params->quantized_count);
    switch (format) {
    case W4A16_FORMAT_AWQ: return awq_config(params, out);
    case W4A16_FORMAT_GPTQ:
    case W4A16_FORMAT_GPTQ_V2: return gptq_config(format, params, out);
    case W4A16_FORMAT_CT: return ct_config(params, out);
    default:
        return w4a16_fail(W4A16_ERR_ARG, "format %s has no quantization_config",
                          w4a16_format_name(format));
    }
}
