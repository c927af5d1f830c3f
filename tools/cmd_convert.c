/* w4a16 convert CHECKPOINT [--from FORMAT] --to dense|awq|gptq|gptq_v2|ct
 *               [--dtype f32|f16|bf16] -o OUT_DIR [--force]:
 * rewrites a quantized checkpoint's layers in another format, exactly where
 * the target can hold them, or dequantizes them to dense weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "checkpoint/checkpoint_writer.h"
#include "commands.h"
#include "dequantize_dense.h"
#include "failure.h"
#include "model_config.h"
#include "name_list.h"
#include "out_dir.h"
#include "progress.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"

static const char *const COMMAND = "convert";

static void print_help(void) {
    printf("usage: w4a16 convert CHECKPOINT [--from FORMAT] --to dense|awq|gptq|gptq_v2|ct\n"
           "                     [--dtype f32|f16|bf16] -o OUT_DIR [--force]\n"
           "\n"
           "Rewrites a quantized checkpoint in another format and writes\n"
           "OUT_DIR/model.safetensors and OUT_DIR/config.json (the input's config.json with\n"
           "quantization_config replaced, or removed for dense; a minimal one when the input\n"
           "has none). Tensors outside the quantized layers are copied unchanged.\n"
           "\n"
           "  CHECKPOINT     a quantized folder, .safetensors file or shard index\n"
           "  --from FORMAT  awq, gptq, gptq_v2 or ct; needed for a bare .safetensors without\n"
           "                 config.json (default: from the config)\n"
           "  --to FORMAT    dense, awq, gptq (v1), gptq_v2 or ct (compressed-tensors)\n"
           "  --dtype DTYPE  with --to dense: f32, f16 (default) or bf16\n"
           "  -o, --out DIR  output folder; refused if it exists and is not empty\n"
           "  --force        write into a non-empty output folder\n"
           "\n"
           "dense writes each quantized layer as <prefix>.weight [N, K] holding (q - z) * s,\n"
           "computed exactly and rounded once to --dtype. Between quantized formats the 4-bit\n"
           "values and zeros carry over exactly; the command fails, saying why, where the\n"
           "target cannot hold them: act-order (g_idx) into awq, a zero of 0 into gptq (v1\n"
           "stores z - 1), or a GPTQ v1 zero of 16 into any other format. Scales that must\n"
           "change dtype (bf16 or f32 into awq's and gptq's f16) are rounded, and the largest\n"
           "relative change is reported on stderr (bf16 values within f16's range carry over\n"
           "exactly). All quantized layers must share one group size, symmetry and\n"
           "act-order, since the config states them once.\n");
}

typedef struct {
    w4a16_format to;
    w4a16_dtype dtype;          /* --to dense */
    w4a16_dtype scales_from;    /* scales dtype that had to change (INVALID: none did) */
    double max_scale_change;    /* largest |s' - s| / s over the layers */
    const char *changed_layer;  /* where it was */
} convert_plan;

/* The one scheme the output config states; fails when layers disagree. */
static int common_scheme(const w4a16_checkpoint *ckpt, w4a16_quantization_params *params) {
    const char *first = NULL;
    for (int64_t i = 0; i < w4a16_checkpoint_layer_count(ckpt); i++) {
        w4a16_layer_info l;
        if (w4a16_checkpoint_layer(ckpt, i, &l) != W4A16_OK || l.status != W4A16_LAYER_QUANTIZED)
            continue;
        if (first == NULL) {
            first = l.name;
            params->group_size = l.group_size;
            params->symmetric = l.symmetric;
            params->act_order = l.act_order;
        } else if (l.group_size != params->group_size || l.symmetric != params->symmetric ||
                   l.act_order != params->act_order) {
            return tool_fail(COMMAND,
                             "layers %s and %s differ in group size, symmetry or act-order; "
                             "the output config can state only one scheme",
                             first, l.name);
        }
    }
    return 0;
}

static int convert_layer(convert_plan *plan, const char *name, const w4a16_source *src,
                         w4a16_tensor_list *out) {
    if (plan->to == W4A16_FORMAT_DENSE) return dequantize_layer(COMMAND, name, src, plan->dtype, out);
    w4a16_unpacked w = {0};
    double change = 0;
    w4a16_status st = w4a16_unpack_source(src, &w);
    if (st == W4A16_OK) st = w4a16_encode(&w, plan->to, name, out, &change);
    w4a16_unpacked_free(&w);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, name);
    if (w4a16_format_scales_dtype(plan->to, src->scales_dtype) != src->scales_dtype)
        plan->scales_from = src->scales_dtype;
    if (change > plan->max_scale_change) {
        plan->max_scale_change = change;
        plan->changed_layer = name;
    }
    return 0;
}

/* Converts every quantized layer into out; the layers the input leaves
 * dense go to kept (their tensors are copied with the rest). */
static int convert_layers(convert_plan *plan, const w4a16_checkpoint *ckpt,
                          w4a16_tensor_list *out, name_list *kept, int64_t *n_converted) {
    int64_t count = w4a16_checkpoint_layer_count(ckpt);
    progress bar;
    progress_begin(&bar, COMMAND, count);
    int rc = 0;
    for (int64_t i = 0; i < count && rc == 0; i++) {
        w4a16_layer_info l;
        w4a16_source src;
        w4a16_status st = w4a16_checkpoint_layer(ckpt, i, &l);
        if (st == W4A16_OK && l.status == W4A16_LAYER_UNQUANTIZED) {
            if (name_list_push(kept, l.name, strlen(l.name)) != 0) rc = tool_fail(COMMAND, "out of memory");
            continue;
        }
        progress_update(&bar, i, l.name);
        if (st == W4A16_OK) st = w4a16_checkpoint_source(ckpt, i, &src);
        if (st != W4A16_OK) rc = tool_fail_status(COMMAND, st, NULL);
        else rc = convert_layer(plan, l.name, &src, out);
        ++*n_converted;
    }
    progress_end(&bar);
    return rc;
}

/* Every tensor outside the quantized layers, unchanged. */
static int copy_other_tensors(const w4a16_checkpoint *ckpt, w4a16_tensor_list *out) {
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(ckpt); i++) {
        w4a16_tensor_info t;
        w4a16_status st = w4a16_checkpoint_tensor(ckpt, i, &t);
        if (st == W4A16_OK && t.layer >= 0) continue;
        if (st == W4A16_OK) st = w4a16_tensor_list_add(out, t.name, t.dtype, t.ndim, t.shape, t.data);
        if (st != W4A16_OK) return tool_fail_status(COMMAND, st, NULL);
    }
    return 0;
}

/* config.json: the input's, with quantization_config replaced or removed. */
static int make_config(const char *path, const convert_plan *plan,
                       w4a16_quantization_params *params, const name_list *kept, json_t **config) {
    char *folder = checkpoint_folder(path);
    if (folder == NULL) return tool_fail(COMMAND, "out of memory");
    int rc = model_config_load(COMMAND, folder, config);
    free(folder);
    if (rc != 0) return rc;
    if (plan->to == W4A16_FORMAT_DENSE) {
        json_object_del(*config, "quantization_config");
        return 0;
    }
    params->ignore = (const char *const *)kept->items;
    params->ignore_count = kept->count;
    json_t *qc = NULL;
    w4a16_status st = w4a16_quantization_config(plan->to, params, &qc);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, "quantization_config");
    json_object_set_new(*config, "quantization_config", qc);
    return 0;
}

static int open_quantized(const char *path, w4a16_format from, w4a16_checkpoint **ckpt) {
    w4a16_status st = w4a16_checkpoint_open(path, from, ckpt);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, NULL);
    if (w4a16_checkpoint_format(*ckpt) == W4A16_FORMAT_DENSE)
        return tool_fail(COMMAND, "%s is dense: convert reads quantized checkpoints "
                         "(use w4a16 quantize)", path);
    return 0;
}

/* On stderr: scales that changed dtype, and by how much at most. */
static void report_scale_change(const convert_plan *plan) {
    fprintf(stderr, "w4a16 convert: %s scales rounded to %s for %s: largest relative change %.3g",
            w4a16_dtype_name(plan->scales_from),
            w4a16_dtype_name(w4a16_format_scales_dtype(plan->to, plan->scales_from)),
            w4a16_format_name(plan->to), plan->max_scale_change);
    if (plan->changed_layer) fprintf(stderr, " (in %s)\n", plan->changed_layer);
    else fprintf(stderr, " (every scale exact)\n");
}

static int run(const char *path, w4a16_format from, const char *out_dir, int force,
               convert_plan *plan) {
    w4a16_checkpoint *ckpt = NULL;
    w4a16_tensor_list tensors = {0};
    w4a16_quantization_params params = {0};
    name_list kept = {0};
    json_t *config = NULL;
    int64_t n_converted = 0;
    int rc = out_dir_check(COMMAND, out_dir, force);
    if (rc == 0) rc = open_quantized(path, from, &ckpt);
    if (rc == 0 && plan->to != W4A16_FORMAT_DENSE) rc = common_scheme(ckpt, &params);
    if (rc == 0) rc = convert_layers(plan, ckpt, &tensors, &kept, &n_converted);
    if (rc == 0) rc = copy_other_tensors(ckpt, &tensors);
    if (rc == 0) rc = make_config(path, plan, &params, &kept, &config);
    if (rc == 0) rc = out_dir_create(COMMAND, out_dir);
    if (rc == 0) {
        w4a16_status st = w4a16_checkpoint_write(out_dir, &tensors, config);
        if (st != W4A16_OK) rc = tool_fail_status(COMMAND, st, out_dir);
    }
    if (rc == 0 && plan->scales_from != W4A16_DTYPE_INVALID)
        report_scale_change(plan);
    if (rc == 0)
        printf("converted %lld layers from %s to %s; wrote %s\n", (long long)n_converted,
               w4a16_format_name(w4a16_checkpoint_format(ckpt)), w4a16_format_name(plan->to),
               out_dir);
    json_decref(config);
    name_list_free(&kept);
    w4a16_tensor_list_free(&tensors);
    w4a16_checkpoint_close(ckpt);
    return rc;
}

int cmd_convert(int argc, char **argv) {
    const char *path = NULL, *from = NULL, *to = NULL, *dtype = NULL, *out_dir = NULL;
    int force = 0;
    const arg_option options[] = {
        {"--from", NULL, ARG_STRING, &from},   {"--to", NULL, ARG_STRING, &to},
        {"--dtype", NULL, ARG_STRING, &dtype}, {"--out", "-o", ARG_STRING, &out_dir},
        {"--force", NULL, ARG_FLAG, &force},
    };
    args_result parsed = args_parse(argc, argv, options, 5, &path, 1, 1);
    if (parsed == ARGS_HELP) {
        print_help();
        return EXIT_OK;
    }
    if (parsed == ARGS_ERROR) return EXIT_USAGE;
    static const w4a16_format formats[] = {W4A16_FORMAT_DENSE, W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    static const w4a16_dtype dtypes[] = {W4A16_F32, W4A16_F16, W4A16_BF16};
    convert_plan plan = {W4A16_FORMAT_DENSE, W4A16_F16, W4A16_DTYPE_INVALID, 0, NULL};
    w4a16_format from_format = W4A16_FORMAT_AUTO;
    if (to == NULL) return usage_error(COMMAND, "missing --to FORMAT");
    if (out_dir == NULL) return usage_error(COMMAND, "missing -o OUT_DIR");
    if (!args_parse_format(COMMAND, "--to", to, formats, 5, &plan.to)) return EXIT_USAGE;
    if (from && !args_parse_format(COMMAND, "--from", from, formats, 5, &from_format))
        return EXIT_USAGE;
    if (dtype && plan.to != W4A16_FORMAT_DENSE)
        return usage_error(COMMAND, "--dtype applies only to --to dense");
    if (dtype && !args_parse_dtype(COMMAND, "--dtype", dtype, dtypes, 3, &plan.dtype))
        return EXIT_USAGE;
    return run(path, from_format, out_dir, force, &plan);
}
