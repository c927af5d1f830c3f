/* Reading a checkpoint's quantization config into w4a16_quant_config:
 * AutoAWQ / HF awq, AutoGPTQ / GPTQModel / HF gptq, and compressed-tensors.
 * Values a config does not state stay open (config.h) for the tensors to
 * decide; values we cannot read make the scheme unsupported, with a reason,
 * rather than failing the whole checkpoint. */
#include "config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/error.h"

/* Configs are a few kilobytes; anything past this is not a config. */
enum { CONFIG_MAX_BYTES = 16 << 20 };

static void scheme_init(w4a16_quant_scheme *scheme) {
    memset(scheme, 0, sizeof *scheme);
    scheme->bits = 4;
    scheme->symmetric = -1;
}

/* Records why a scheme cannot be read; the first reason found is kept. */
static void scheme_unsupported(w4a16_quant_scheme *scheme, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void scheme_unsupported(w4a16_quant_scheme *scheme, const char *fmt, ...) {
    if (scheme->unsupported[0] != '\0') return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(scheme->unsupported, sizeof scheme->unsupported, fmt, args);
    va_end(args);
}

/* Optional fields: absent or null leave *out as it is. */
static w4a16_status get_int(const json_t *object, const char *key, const char *origin,
                            int64_t *out) {
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value)) return W4A16_OK;
    W4A16_FAIL_IF(!json_is_integer(value), W4A16_ERR_FORMAT, "%s: '%s' is not an integer", origin,
                  key);
    *out = (int64_t)json_integer_value(value);
    return W4A16_OK;
}

static w4a16_status get_bool(const json_t *object, const char *key, const char *origin,
                             int32_t *out) {
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value)) return W4A16_OK;
    W4A16_FAIL_IF(!json_is_boolean(value), W4A16_ERR_FORMAT, "%s: '%s' is not true or false",
                  origin, key);
    *out = json_is_true(value);
    return W4A16_OK;
}

static w4a16_status get_string(const json_t *object, const char *key, const char *origin,
                               const char **out) {
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value)) return W4A16_OK;
    W4A16_FAIL_IF(!json_is_string(value), W4A16_ERR_FORMAT, "%s: '%s' is not a string", origin,
                  key);
    *out = json_string_value(value);
    return W4A16_OK;
}

/* A list of module names (null or absent: none). */
static w4a16_status get_patterns(const json_t *object, const char *key, w4a16_match_kind kind,
                                 const char *origin, w4a16_name_patterns *out) {
    const json_t *list = json_object_get(object, key);
    if (list == NULL || json_is_null(list)) return W4A16_OK;
    W4A16_FAIL_IF(!json_is_array(list), W4A16_ERR_FORMAT, "%s: '%s' is not a list", origin, key);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *item = json_array_get(list, i);
        W4A16_FAIL_IF(!json_is_string(item), W4A16_ERR_FORMAT, "%s: '%s'[%zu] is not a string",
                      origin, key, i);
        const char *text = json_string_value(item);
        /* compressed-tensors targets name module classes too; "Linear" is every linear layer. */
        w4a16_match_kind item_kind = (kind == W4A16_MATCH_EXACT && strcmp(text, "Linear") == 0)
                                         ? W4A16_MATCH_ANY_LINEAR
                                         : kind;
        W4A16_TRY(w4a16_name_patterns_add(out, text, item_kind, origin));
    }
    return W4A16_OK;
}

static w4a16_status check_group_size(w4a16_quant_scheme *scheme, int64_t group_size,
                                     const char *origin) {
    W4A16_FAIL_IF(group_size == 0 || group_size < -1, W4A16_ERR_FORMAT,
                  "%s: group_size=%lld is neither positive nor -1 (per-channel)", origin,
                  (long long)group_size);
    scheme->group_size = group_size;
    return W4A16_OK;
}

static void check_bits(w4a16_quant_scheme *scheme, int64_t bits) {
    scheme->bits = bits < 0 || bits > 64 ? -1 : (int32_t)bits;
    if (bits != 4)
        scheme_unsupported(scheme, "bits=%lld is not supported (only 4)", (long long)bits);
}

/* AutoAWQ quant_config.json (w_bit, q_group_size, zero_point, version) or HF's
 * awq quantization_config (bits, group_size, ...). AWQ gemm stores qzeros
 * whatever zero_point says and every reader uses them, so zeros are read as
 * stored (symmetric exactly when every stored zero is 8). */
static w4a16_status parse_awq(const json_t *q, const char *origin, w4a16_quant_config *out) {
    out->format = W4A16_FORMAT_AWQ;
    w4a16_quant_scheme *scheme = &out->scheme;
    int64_t bits = 4, group_size = 0;
    W4A16_TRY(get_int(q, "w_bit", origin, &bits));
    W4A16_TRY(get_int(q, "bits", origin, &bits));
    W4A16_TRY(get_int(q, "q_group_size", origin, &group_size));
    W4A16_TRY(get_int(q, "group_size", origin, &group_size));
    int32_t zero_point = 1;
    W4A16_TRY(get_bool(q, "zero_point", origin, &zero_point));
    const char *version = "gemm";
    W4A16_TRY(get_string(q, "version", origin, &version));
    (void)zero_point;
    if (group_size != 0) W4A16_TRY(check_group_size(scheme, group_size, origin));
    check_bits(scheme, bits);
    if (strcasecmp(version, "gemm") != 0)
        scheme_unsupported(scheme, "awq version '%s' is not supported (only gemm)", version);
    return get_patterns(q, "modules_to_not_convert", W4A16_MATCH_SUBSTRING, origin, &out->ignore);
}

/* The GPTQ parameters a config states (or a dynamic rule overrides). */
typedef struct {
    int64_t bits, group_size;
    int32_t sym, desc_act;
    const char *checkpoint_format;
} gptq_params;

static w4a16_status get_gptq_params(const json_t *object, const char *origin, gptq_params *p) {
    W4A16_TRY(get_int(object, "bits", origin, &p->bits));
    W4A16_TRY(get_int(object, "group_size", origin, &p->group_size));
    W4A16_TRY(get_bool(object, "sym", origin, &p->sym));
    return get_bool(object, "desc_act", origin, &p->desc_act);
}

static w4a16_status gptq_scheme(const gptq_params *p, const char *origin,
                                w4a16_quant_scheme *scheme) {
    scheme_init(scheme);
    if (p->group_size != 0) W4A16_TRY(check_group_size(scheme, p->group_size, origin));
    scheme->symmetric = p->sym;
    scheme->act_order = p->desc_act;
    check_bits(scheme, p->bits);
    if (strcmp(p->checkpoint_format, "gptq") != 0 && strcmp(p->checkpoint_format, "gptq_v2") != 0)
        scheme_unsupported(scheme, "checkpoint_format '%s' is not supported (gptq or gptq_v2)",
                           p->checkpoint_format);
    return W4A16_OK;
}

/* Override keys that steer only how GPTQModel calibrates, not what it stores. */
static int is_calibration_key(const char *key) {
    static const char *const keys[] = {"damp_percent", "damp_auto_increment", "static_groups",
                                       "true_sequential", "mse", "act_group_aware", "v2",
                                       "v2_alpha"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

/* An override rule's scheme: the config's parameters with the rule's bits,
 * group_size, sym and desc_act. Any other stored-format key (an adapter,
 * another format) makes its layers unsupported, naming the key; so does
 * an override we cannot read (bits=8), naming the rule. */
static w4a16_status dynamic_override(const char *key, const json_t *overrides,
                                     const gptq_params *base, const w4a16_quant_scheme *base_scheme,
                                     const char *origin, w4a16_quant_scheme *scheme) {
    gptq_params p = *base;
    W4A16_TRY(get_gptq_params(overrides, origin, &p));
    W4A16_TRY(gptq_scheme(&p, origin, scheme));
    char reason[W4A16_REASON_BYTES];
    snprintf(reason, sizeof reason, "%s", scheme->unsupported);
    scheme->unsupported[0] = '\0';
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)overrides, name, value) {
        int known = strcmp(name, "bits") == 0 || strcmp(name, "group_size") == 0 ||
                    strcmp(name, "sym") == 0 || strcmp(name, "desc_act") == 0;
        if (!known && !is_calibration_key(name) && reason[0] == '\0')
            snprintf(reason, sizeof reason,
                     "override '%.40s' is not supported (bits, group_size, sym, desc_act)", name);
    }
    if (reason[0] != '\0' && strcmp(reason, base_scheme->unsupported) == 0)
        scheme_unsupported(scheme, "%s", reason);
    else if (reason[0] != '\0')
        scheme_unsupported(scheme, "dynamic rule '%.80s': %s", key, reason);
    return W4A16_OK;
}

/* GPTQModel's dynamic: {"-:<regex>": {}, "+:<regex>": {overrides}, "<regex>":
 * {overrides}}, regexes matched at the start of the module name (re.match).
 * Skip rules are kept first, as GPTQModel orders them. */
static w4a16_status parse_dynamic(const json_t *q, const gptq_params *base, const char *origin,
                                  w4a16_quant_config *out) {
    const json_t *dynamic = json_object_get(q, "dynamic");
    if (dynamic == NULL || json_is_null(dynamic)) return W4A16_OK;
    W4A16_FAIL_IF(!json_is_object(dynamic), W4A16_ERR_FORMAT, "%s: 'dynamic' is not an object",
                  origin);
    size_t count = json_object_size(dynamic);
    out->dynamic = calloc(count ? count : 1, sizeof *out->dynamic);
    W4A16_FAIL_IF(out->dynamic == NULL, W4A16_ERR_NOMEM, "out of memory for dynamic rules");
    char where[4200];
    snprintf(where, sizeof where, "%s: dynamic", origin);
    for (int skip_pass = 1; skip_pass >= 0; skip_pass--) {
        const char *key;
        const json_t *overrides;
        json_object_foreach((json_t *)dynamic, key, overrides) {
            int skip = strncmp(key, "-:", 2) == 0;
            if (skip != skip_pass) continue;
            W4A16_FAIL_IF(!json_is_object(overrides), W4A16_ERR_FORMAT,
                          "%s: dynamic '%.200s' is not an object", origin, key);
            w4a16_dynamic_rule *rule = &out->dynamic[out->dynamic_count++];
            rule->skip = skip;
            const char *regex = skip || strncmp(key, "+:", 2) == 0 ? key + 2 : key;
            W4A16_TRY(w4a16_name_patterns_add(&rule->pattern, regex, W4A16_MATCH_REGEX, where));
            if (!skip)
                W4A16_TRY(dynamic_override(key, overrides, base, &out->scheme, origin,
                                           &rule->scheme));
        }
    }
    return W4A16_OK;
}

/* AutoGPTQ / GPTQModel quantize_config.json or HF's gptq quantization_config.
 * Defaults follow HF's GPTQConfig: sym=true, desc_act=false. top is the
 * enclosing config.json, which may carry checkpoint_format itself. */
static w4a16_status parse_gptq(const json_t *q, const json_t *top, const char *origin,
                               w4a16_quant_config *out) {
    gptq_params p = {4, 0, 1, 0, "gptq"};
    W4A16_TRY(get_gptq_params(q, origin, &p));
    if (top != NULL) W4A16_TRY(get_string(top, "checkpoint_format", origin, &p.checkpoint_format));
    W4A16_TRY(get_string(q, "checkpoint_format", origin, &p.checkpoint_format));
    out->format =
        strcmp(p.checkpoint_format, "gptq_v2") == 0 ? W4A16_FORMAT_GPTQ_V2 : W4A16_FORMAT_GPTQ;
    W4A16_TRY(gptq_scheme(&p, origin, &out->scheme));
    return parse_dynamic(q, &p, origin, out);
}

/* One compressed-tensors quantization scheme ("weights" of a config group). */
static w4a16_status parse_ct_weights(const json_t *weights, const char *origin,
                                     w4a16_quant_scheme *scheme) {
    int64_t bits = 0, group_size = 0;
    int32_t symmetric = 1, dynamic = 0;
    const char *type = "int", *strategy = "group", *actorder = NULL;
    W4A16_FAIL_IF(!json_is_object(weights), W4A16_ERR_FORMAT, "%s: 'weights' is not an object",
                  origin);
    W4A16_TRY(get_int(weights, "num_bits", origin, &bits));
    W4A16_TRY(get_int(weights, "group_size", origin, &group_size));
    W4A16_TRY(get_bool(weights, "symmetric", origin, &symmetric));
    W4A16_TRY(get_bool(weights, "dynamic", origin, &dynamic));
    W4A16_TRY(get_string(weights, "type", origin, &type));
    W4A16_TRY(get_string(weights, "strategy", origin, &strategy));
    /* actorder: "group" stores weight_g_idx; "weight" and null do not. Older
     * versions wrote a boolean, true meaning "group". */
    const json_t *actorder_value = json_object_get(weights, "actorder");
    if (json_is_boolean(actorder_value))
        actorder = json_is_true(actorder_value) ? "group" : NULL;
    else
        W4A16_TRY(get_string(weights, "actorder", origin, &actorder));

    check_bits(scheme, bits);
    scheme->symmetric = symmetric;
    if (strcmp(type, "int") != 0)
        scheme_unsupported(scheme, "weights type '%s' is not supported (only int)", type);
    if (dynamic) scheme_unsupported(scheme, "dynamic weight quantization is not supported");
    if (strcmp(strategy, "channel") == 0) {
        scheme->group_size = -1;
    } else if (strcmp(strategy, "group") == 0) {
        if (group_size > 0)
            scheme->group_size = group_size;
        else
            scheme_unsupported(scheme, "strategy 'group' needs a positive group_size, got %lld",
                               (long long)group_size);
    } else {
        scheme_unsupported(scheme, "strategy '%s' is not supported (group or channel)", strategy);
    }
    if (actorder != NULL && strcmp(actorder, "group") == 0)
        scheme->act_order = 1;
    else if (actorder != NULL && strcmp(actorder, "weight") != 0 && strcmp(actorder, "static") != 0)
        scheme_unsupported(scheme, "actorder '%s' is not supported", actorder);
    return W4A16_OK;
}

static w4a16_status parse_ct_group(const char *name, const json_t *group, const char *format,
                                   const char *origin, w4a16_scheme_group *out) {
    out->name = strdup(name);
    W4A16_FAIL_IF(out->name == NULL, W4A16_ERR_NOMEM, "out of memory copying a group name");
    scheme_init(&out->scheme);
    W4A16_FAIL_IF(!json_is_object(group), W4A16_ERR_FORMAT, "%s: config_groups.%s is not an object",
                  origin, name);
    W4A16_TRY(get_patterns(group, "targets", W4A16_MATCH_EXACT, origin, &out->targets));
    W4A16_TRY(get_string(group, "format", origin, &format));
    const json_t *weights = json_object_get(group, "weights");
    const json_t *activations = json_object_get(group, "input_activations");
    if (format == NULL || strcmp(format, "pack-quantized") != 0)
        scheme_unsupported(&out->scheme,
                           "compressed-tensors format '%s' is not supported (only pack-quantized)",
                           format == NULL ? "(none)" : format);
    if (weights == NULL || json_is_null(weights))
        scheme_unsupported(&out->scheme, "config group '%s' quantizes no weights", name);
    else
        W4A16_TRY(parse_ct_weights(weights, origin, &out->scheme));
    if (activations != NULL && !json_is_null(activations))
        scheme_unsupported(&out->scheme,
                           "config group '%s' quantizes activations too (only 16-bit activations)",
                           name);
    return W4A16_OK;
}

/* compressed-tensors: config_groups (targets + weights scheme + format),
 * a global format, and ignore. */
static w4a16_status parse_ct(const json_t *q, const char *origin, w4a16_quant_config *out) {
    out->format = W4A16_FORMAT_CT;
    const char *format = NULL;
    W4A16_TRY(get_string(q, "format", origin, &format));
    const json_t *groups = json_object_get(q, "config_groups");
    if (groups != NULL && !json_is_null(groups)) {
        W4A16_FAIL_IF(!json_is_object(groups), W4A16_ERR_FORMAT,
                      "%s: 'config_groups' is not an object", origin);
        size_t count = json_object_size(groups);
        out->groups = calloc(count ? count : 1, sizeof *out->groups);
        W4A16_FAIL_IF(out->groups == NULL, W4A16_ERR_NOMEM, "out of memory for config groups");
        const char *name;
        const json_t *group;
        json_object_foreach((json_t *)groups, name, group) {
            w4a16_scheme_group *slot = &out->groups[out->group_count++];
            W4A16_TRY(parse_ct_group(name, group, format, origin, slot));
        }
    }
    return get_patterns(q, "ignore", W4A16_MATCH_EXACT, origin, &out->ignore);
}

static w4a16_status parse_root(const json_t *root, w4a16_config_file file, const char *origin,
                               w4a16_quant_config *out) {
    W4A16_FAIL_IF(!json_is_object(root), W4A16_ERR_FORMAT, "%s: not a JSON object", origin);
    const json_t *q = root;
    const char *method = file == W4A16_CONFIG_AWQ_LEGACY    ? "awq"
                         : file == W4A16_CONFIG_GPTQ_LEGACY ? "gptq"
                                                            : NULL;
    if (file == W4A16_CONFIG_JSON) {
        q = json_object_get(root, "quantization_config");
        if (q == NULL || json_is_null(q)) {
            out->format = W4A16_FORMAT_DENSE;
            return W4A16_OK;
        }
        W4A16_FAIL_IF(!json_is_object(q), W4A16_ERR_FORMAT,
                      "%s: 'quantization_config' is not an object", origin);
    }
    W4A16_TRY(get_string(q, "quant_method", origin, &method));
    W4A16_FAIL_IF(method == NULL, W4A16_ERR_FORMAT, "%s: quantization_config has no quant_method",
                  origin);
    if (strcasecmp(method, "awq") == 0) return parse_awq(q, origin, out);
    if (strcasecmp(method, "gptq") == 0)
        return parse_gptq(q, file == W4A16_CONFIG_JSON ? root : NULL, origin, out);
    if (strcasecmp(method, "compressed-tensors") == 0 ||
        strcasecmp(method, "compressed_tensors") == 0)
        return parse_ct(q, origin, out);
    out->format = W4A16_FORMAT_AUTO;
    snprintf(out->unknown_method, sizeof out->unknown_method, "%s", method);
    return W4A16_OK;
}

w4a16_status w4a16_quant_config_parse(const char *text, size_t size, w4a16_config_file file,
                                      const char *origin, w4a16_quant_config *out) {
    W4A16_FAIL_IF(text == NULL || origin == NULL || out == NULL, W4A16_ERR_ARG,
                  "config text, origin or output is NULL");
    memset(out, 0, sizeof *out);
    scheme_init(&out->scheme);
    json_error_t error;
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &error);
    W4A16_FAIL_IF(root == NULL, W4A16_ERR_FORMAT, "%s: invalid JSON at line %d: %s", origin,
                  error.line, error.text);
    out->declared = 1;
    w4a16_status status = parse_root(root, file, origin, out);
    json_decref(root);
    if (status != W4A16_OK) w4a16_quant_config_free(out);
    return status;
}

static int is_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static w4a16_status parse_file(const char *dir, const char *name, w4a16_config_file file,
                               w4a16_quant_config *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *stream = fopen(path, "rb");
    W4A16_FAIL_IF(stream == NULL, W4A16_ERR_IO, "cannot open '%s'", path);
    struct stat info;
    if (fstat(fileno(stream), &info) != 0 || info.st_size > CONFIG_MAX_BYTES) {
        fclose(stream);
        return w4a16_fail(W4A16_ERR_FORMAT, "'%s' is not a readable config of at most %d bytes",
                          path, CONFIG_MAX_BYTES);
    }
    size_t size = (size_t)info.st_size;
    char *text = malloc(size + 1);
    if (text == NULL) {
        fclose(stream);
        return w4a16_fail(W4A16_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    int failed = fread(text, 1, size, stream) != size;
    fclose(stream);
    w4a16_status status = failed ? w4a16_fail(W4A16_ERR_IO, "cannot read '%s'", path)
                                 : w4a16_quant_config_parse(text, size, file, path, out);
    free(text);
    return status;
}

w4a16_status w4a16_quant_config_load(const char *dir, w4a16_quant_config *out, int *found) {
    W4A16_FAIL_IF(dir == NULL || out == NULL || found == NULL, W4A16_ERR_ARG,
                  "folder, output or found flag is NULL");
    char path[4096];
    w4a16_quant_config config;
    *found = 0;
    w4a16_quant_config_default(W4A16_FORMAT_DENSE, out);
    snprintf(path, sizeof path, "%s/config.json", dir);
    int has_config = is_file(path);
    if (has_config) {
        W4A16_TRY(parse_file(dir, "config.json", W4A16_CONFIG_JSON, &config));
        if (config.format != W4A16_FORMAT_DENSE) {
            *out = config;
            *found = 1;
            return W4A16_OK;
        }
        w4a16_quant_config_free(&config);
    }
    /* Older AutoAWQ and AutoGPTQ checkpoints keep the parameters beside config.json. */
    static const struct {
        const char *name;
        w4a16_config_file file;
    } legacy[] = {{"quant_config.json", W4A16_CONFIG_AWQ_LEGACY},
                  {"quantize_config.json", W4A16_CONFIG_GPTQ_LEGACY}};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, legacy[i].name);
        if (!is_file(path)) continue;
        W4A16_TRY(parse_file(dir, legacy[i].name, legacy[i].file, out));
        *found = 1;
        return W4A16_OK;
    }
    *found = has_config;
    return W4A16_OK;
}

void w4a16_quant_config_default(w4a16_format format, w4a16_quant_config *out) {
    memset(out, 0, sizeof *out);
    scheme_init(&out->scheme);
    out->format = format;
}

void w4a16_quant_config_free(w4a16_quant_config *config) {
    for (int64_t g = 0; g < config->group_count; g++) {
        free(config->groups[g].name);
        w4a16_name_patterns_free(&config->groups[g].targets);
    }
    free(config->groups);
    w4a16_name_patterns_free(&config->ignore);
    for (int64_t r = 0; r < config->dynamic_count; r++)
        w4a16_name_patterns_free(&config->dynamic[r].pattern);
    free(config->dynamic);
    w4a16_quant_config_default(W4A16_FORMAT_DENSE, config);
}
