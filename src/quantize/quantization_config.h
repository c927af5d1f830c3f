/* The quantization_config object of config.json, written the way each
 * format's own tools write it (AutoAWQ, AutoGPTQ / GPTQModel,
 * llm-compressor), so that their readers and ours load what we write. */
#ifndef W4A16_QUANTIZE_QUANTIZATION_CONFIG_H
#define W4A16_QUANTIZE_QUANTIZATION_CONFIG_H

#include <jansson.h>

#include "w4a16.h"

typedef struct {
    int64_t group_size;        /* -1 per-channel */
    int32_t symmetric;         /* 1: z = 8 */
    int32_t act_order;         /* 1: g_idx stored (GPTQ desc_act, CT actorder "group") */
    const char *const *ignore; /* layers left dense, by full name; may be NULL */
    int64_t ignore_count;
    const char *const *quantized; /* the quantized layers, by full name; may be NULL (awq) */
    int64_t quantized_count;
} w4a16_quantization_params;

/* A new object for format (AWQ, GPTQ, GPTQ_V2, CT):
 *   awq   {quant_method "awq", bits 4, group_size, zero_point (= !symmetric; the
 *          qzeros tensor holds 8s when false, so both readings agree), version
 *          "gemm", modules_to_not_convert (the ignore list, or null), less the
 *          names inside a quantized layer's name: AWQ readers match these
 *          entries as substrings, so "x.mlp.gate" (a router) would also skip
 *          "x.mlp.gate_proj"; such a layer has no qweight, so readers load its
 *          plain weight anyway}
 *   gptq  {quant_method "gptq", bits 4, group_size, sym, desc_act,
 *          checkpoint_format "gptq" | "gptq_v2", and GPTQModel's dynamic with a
 *          "-:" (skip) entry per ignored layer when there are any}
 *   ct    {quant_method "compressed-tensors", format "pack-quantized",
 *          quantization_status "compressed", config_groups {group_0: {targets
 *          ["Linear"], weights {num_bits 4, type "int", symmetric, strategy
 *          "group" | "channel", group_size (null per-channel), actorder "group" |
 *          null, dynamic false}, input_activations null, output_activations null}},
 *          ignore [...]}
 * Act-order into AWQ is W4A16_ERR_UNSUPPORTED. The caller owns *out (json_decref). */
w4a16_status w4a16_quantization_config(w4a16_format format, const w4a16_quantization_params *params,
                                       json_t **out);

#endif
