/* The quantization a checkpoint declares (docs/DESIGN.md §2): config.json's
 * quantization_config, or the legacy quant_config.json (AWQ) and
 * quantize_config.json (GPTQ), read into one description of the format and
 * its per-layer schemes. Matching a layer to its scheme lives in
 * config_match.c. */
#ifndef W4A16_CHECKPOINT_CONFIG_H
#define W4A16_CHECKPOINT_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "w4a16.h"

enum { W4A16_REASON_BYTES = 256 };

/* How the layers under one scheme are quantized. Fields the config does not
 * state are left to be inferred from the tensors. */
typedef struct {
    int32_t bits;
    int64_t group_size; /* > 0; -1 per-channel; 0 not stated: inferred from the scales' shape */
    int32_t symmetric;  /* 1: z = 8; 0: zeros stored; -1 not stated: inferred */
    int32_t act_order;  /* 1: a g_idx must be present (desc_act, actorder "group") */
    char unsupported[W4A16_REASON_BYTES]; /* non-empty: why layers under it cannot be read */
} w4a16_quant_scheme;

/* A module name to match: exact, "re:" regular expression (anchored at the
 * start, as Python's re.match), substring (AWQ), or the class name "Linear",
 * which matches every linear layer. */
typedef enum {
    W4A16_MATCH_EXACT,
    W4A16_MATCH_REGEX,
    W4A16_MATCH_SUBSTRING,
    W4A16_MATCH_ANY_LINEAR
} w4a16_match_kind;

typedef struct {
    w4a16_match_kind kind;
    char *text;
    regex_t regex; /* compiled when kind == W4A16_MATCH_REGEX */
} w4a16_name_pattern;

typedef struct {
    w4a16_name_pattern *patterns;
    int64_t count;
} w4a16_name_patterns;

/* A compressed-tensors config group: the layers its targets name share a scheme. */
typedef struct {
    char *name;
    w4a16_name_patterns targets;
    w4a16_quant_scheme scheme;
} w4a16_scheme_group;

/* A GPTQModel dynamic rule: "-:<regex>" leaves the modules it matches
 * unquantized; "+:<regex>" (or no prefix) quantizes them with the config's
 * scheme under the rule's overrides (bits, group_size, sym, desc_act). */
typedef struct {
    w4a16_name_patterns pattern; /* the one regular expression */
    int32_t skip;                /* "-:" */
    w4a16_quant_scheme scheme;   /* "+:": the scheme of the modules it matches */
} w4a16_dynamic_rule;

typedef struct {
    /* DENSE, AWQ, GPTQ, GPTQ_V2 or CT; AUTO when quant_method is one we do not
     * know (then unknown_method names it). */
    w4a16_format format;
    char unknown_method[64];
    int32_t declared;           /* 0: no config; every quantized layer takes `scheme` */
    w4a16_quant_scheme scheme;  /* AWQ, GPTQ: the scheme of every layer */
    w4a16_scheme_group *groups; /* CT config_groups, in the config's order */
    int64_t group_count;
    w4a16_name_patterns ignore; /* CT ignore, AWQ modules_to_not_convert: left dense */
    w4a16_dynamic_rule *dynamic; /* GPTQ: skip rules first, then overrides, in the config's order */
    int64_t dynamic_count;
} w4a16_quant_config;

/* Which file the text came from: decides where the parameters live and the
 * method assumed when a legacy file does not name one. */
typedef enum {
    W4A16_CONFIG_JSON,        /* config.json: quantization_config, or dense without one */
    W4A16_CONFIG_AWQ_LEGACY,  /* quant_config.json */
    W4A16_CONFIG_GPTQ_LEGACY, /* quantize_config.json */
} w4a16_config_file;

/* Parses a config's JSON text. origin names it in error messages.
 * W4A16_ERR_FORMAT when the JSON is invalid or a field has the wrong type. */
w4a16_status w4a16_quant_config_parse(const char *text, size_t size, w4a16_config_file file,
                                      const char *origin, w4a16_quant_config *out);
/* Reads the config next to the weights in folder dir: config.json's
 * quantization_config, else quant_config.json, else quantize_config.json,
 * else dense when config.json exists. *found = 0 (and out dense) when the
 * folder holds none of them. */
w4a16_status w4a16_quant_config_load(const char *dir, w4a16_quant_config *out, int *found);
/* The parameters of a format named by the caller, all left to the tensors. */
void w4a16_quant_config_default(w4a16_format format, w4a16_quant_config *out);
void w4a16_quant_config_free(w4a16_quant_config *config); /* accepts a zeroed struct */

/* Adds a pattern; "re:" texts become regular expressions (W4A16_ERR_FORMAT,
 * naming origin, when one does not compile). */
w4a16_status w4a16_name_patterns_add(w4a16_name_patterns *patterns, const char *text,
                                     w4a16_match_kind kind, const char *origin);
void w4a16_name_patterns_free(w4a16_name_patterns *patterns);
int w4a16_name_patterns_match(const w4a16_name_patterns *patterns, const char *name);

/* 1 when the config leaves the module dense: ignore, modules_to_not_convert,
 * or a GPTQ "-:" dynamic rule matches it. */
int w4a16_quant_config_leaves_dense(const w4a16_quant_config *config, const char *module);

/* The scheme for a quantized layer: the config's scheme (AWQ, GPTQ; a GPTQ
 * dynamic override's when one matches) or the first config group whose
 * targets match (CT). NULL when none applies; then *ignored says whether the
 * config leaves the layer dense. */
const w4a16_quant_scheme *w4a16_quant_config_scheme_for(const w4a16_quant_config *config,
                                                        const char *layer, int *ignored);

#endif
