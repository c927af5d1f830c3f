/* w4a16 convert CHECKPOINT [--from FORMAT] --to dense|awq|gptq|gptq_v2|ct
 *               [--dtype f32|f16|bf16] -o OUT_DIR [--force]
 *               [--max-shard-size SIZE] [--threads N]:
 * rewrites a quantized checkpoint's layers in another format, exactly where
 * the target can hold them, or dequantizes them to dense weights, streamed
 * layer by layer into OUT_DIR (checkpoint_output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "checkpoint_output.h"
#include "commands.h"
#include "failure.h"
#include "layer_jobs.h"
#include "model_config.h"
#include "name_list.h"
#include "progress.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"

static const char *const COMMAND = "convert";

static void print_help(void) {
    printf("usage: w4a16 convert CHECKPOINT [--from FORMAT] --to dense|awq|gptq|gptq_v2|ct\n"
           "                     [--dtype f32|f16|bf16] -o OUT_DIR [--force]\n"
           "                     [--max-shard-size SIZE] [--threads N]\n"
           "\n"
           "Rewrites a quantized checkpoint in another format and writes the weights\n"
           "(model.safetensors, or shards and their index) and config.json (the input's with\n"
           "quantization_config replaced, or removed for dense, and torch_dtype set to --dtype;\n"
           "a minimal one when the input has none) to OUT_DIR, layer by layer, so memory holds\n"
           "a few layers at a time. Tensors outside the quantized layers are copied\n"
           "unchanged, and so are the model folder's other files (tokenizer,\n"
           "generation_config.json, chat template, README).\n"
           "\n"
           "  CHECKPOINT     a quantized folder, .safetensors file or shard index\n"
           "  --from FORMAT  awq, gptq, gptq_v2 or ct; needed for a bare .safetensors without\n"
           "                 config.json (default: from the config)\n"
           "  --to FORMAT    dense, awq, gptq (v1), gptq_v2 or ct (compressed-tensors)\n"
           "  --dtype DTYPE  with --to dense: f32, f16 (default) or bf16\n"
           "  -o, --out DIR  output folder; refused if it exists and is not empty, or if it is\n"
           "                 the input's folder or inside it\n"
           "  --force        write into a non-empty output folder: its previous weights\n"
           "                 (model*.safetensors, the index) are replaced, other files kept\n"
           OUTPUT_OPTIONS_HELP
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

/* A quantized layer's output tensors into the plan. */
static int plan_layer(const convert_plan *plan, const w4a16_checkpoint *ckpt, int64_t index,
                      w4a16_tensor_list *out) {
    w4a16_layer_info l;
    w4a16_source src;
    w4a16_status st = w4a16_checkpoint_layer(ckpt, index, &l);
    if (st == W4A16_OK) st = w4a16_checkpoint_source(ckpt, index, &src);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, NULL);
    if (plan->to == W4A16_FORMAT_DENSE) {
        char name[4096];
        snprintf(name, sizeof name, "%s.weight", l.name);
        st = w4a16_tensor_list_add(out, name, plan->dtype, 2, (int64_t[]){src.n, src.k}, NULL);
    } else {
        st = w4a16_encode_plan(plan->to, src.n, src.k, src.group_size, src.qzeros == NULL,
                               src.g_idx != NULL, src.scales_dtype, l.name, out);
    }
    return st == W4A16_OK ? 0 : tool_fail_status(COMMAND, st, l.name);
}

/* Every output tensor, in input order: a quantized layer's at its first
 * tensor, the rest copied. The layers the input leaves dense go to kept. */
static int plan_all(const convert_plan *plan, const w4a16_checkpoint *ckpt,
                    checkpoint_output *out, name_list *kept, name_list *quantized, char *planned) {
    for (int64_t i = 0; i < w4a16_checkpoint_layer_count(ckpt); i++) {
        w4a16_layer_info l;
        w4a16_source src;
        w4a16_checkpoint_layer(ckpt, i, &l);
        if (l.status == W4A16_LAYER_UNQUANTIZED) {
            if (name_list_push(kept, l.name, strlen(l.name)) != 0) return tool_fail(COMMAND, "out of memory");
        } else if (w4a16_checkpoint_source(ckpt, i, &src) != W4A16_OK) {
            return tool_fail_status(COMMAND, W4A16_ERR_UNSUPPORTED, NULL); /* names the layer */
        } else if (name_list_push(quantized, l.name, strlen(l.name)) != 0) {
            return tool_fail(COMMAND, "out of memory");
        }
    }
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(ckpt); i++) {
        w4a16_tensor_info t;
        w4a16_status st = w4a16_checkpoint_tensor(ckpt, i, &t);
        int rc = 0;
        if (st != W4A16_OK) rc = tool_fail_status(COMMAND, st, NULL);
        else if (t.layer < 0) st = w4a16_tensor_list_add(&out->plan, t.name, t.dtype, t.ndim, t.shape, NULL);
        else if (!planned[t.layer]) rc = plan_layer(plan, ckpt, t.layer, &out->plan);
        if (t.layer >= 0) planned[t.layer] = 1;
        if (rc == 0 && st != W4A16_OK) rc = tool_fail_status(COMMAND, st, t.name);
        if (rc != 0) return rc;
    }
    return 0;
}

static int convert_layer_into(convert_plan *plan, int threads, const w4a16_checkpoint *ckpt,
                              int64_t index, w4a16_tensor_list *tensors) {
    w4a16_layer_info l;
    w4a16_source src;
    w4a16_checkpoint_layer(ckpt, index, &l);
    w4a16_checkpoint_source(ckpt, index, &src); /* both succeeded when planned */
    if (plan->to == W4A16_FORMAT_DENSE) {
        w4a16_status st = dequantize_layer(threads, &src, plan->dtype, l.name, tensors);
        return st == W4A16_OK ? 0 : tool_fail_status(COMMAND, st, l.name);
    }
    double change = 0;
    w4a16_status st = convert_layer(threads, &src, plan->to, l.name, tensors, &change);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, l.name);
    if (w4a16_format_scales_dtype(plan->to, src.scales_dtype) != src.scales_dtype)
        plan->scales_from = src.scales_dtype;
    if (change > plan->max_scale_change) {
        plan->max_scale_change = change;
        plan->changed_layer = l.name;
    }
    return 0;
}

/* The input pages of every tensor of a layer, given back once it is written. */
static void release_layer(checkpoint_output *out, const w4a16_checkpoint *ckpt, int64_t layer) {
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(ckpt); i++) {
        w4a16_tensor_info t;
        if (w4a16_checkpoint_tensor(ckpt, i, &t) == W4A16_OK && t.layer == layer)
            output_release(out, &t);
    }
}

/* Converts each quantized layer and copies the rest, in the order planned. */
static int produce_all(convert_plan *plan, const w4a16_checkpoint *ckpt, checkpoint_output *out,
                       int64_t n_layers, char *done, int64_t *n_converted) {
    progress bar;
    progress_begin(&bar, COMMAND, n_layers);
    int rc = 0;
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(ckpt) && rc == 0; i++) {
        w4a16_tensor_info t, next;
        w4a16_checkpoint_tensor(ckpt, i, &t);
        if (i + 1 < w4a16_checkpoint_tensor_count(ckpt) &&
            w4a16_checkpoint_tensor(ckpt, i + 1, &next) == W4A16_OK)
            output_prefetch(out, &next);
        if (t.layer < 0) {
            rc = output_copy(out, &t);
            continue;
        }
        if (done[t.layer]) continue;
        done[t.layer] = 1;
        w4a16_layer_info l;
        w4a16_checkpoint_layer(ckpt, t.layer, &l);
        progress_update(&bar, (*n_converted)++, l.name);
        w4a16_tensor_list tensors = {0};
        rc = convert_layer_into(plan, out->options->threads, ckpt, t.layer, &tensors);
        if (rc == 0) rc = output_put(out, &tensors);
        w4a16_tensor_list_free(&tensors);
        release_layer(out, ckpt, t.layer);
    }
    progress_end(&bar);
    return rc;
}

/* config.json: the input's, with quantization_config replaced or removed. */
static int make_config(const char *path, const convert_plan *plan,
                       w4a16_quantization_params *params, const name_list *kept,
                       const name_list *quantized, json_t **config) {
    char *folder = checkpoint_folder(path);
    if (folder == NULL) return tool_fail(COMMAND, "out of memory");
    int rc = model_config_load(COMMAND, folder, config);
    free(folder);
    if (rc != 0) return rc;
    if (plan->to == W4A16_FORMAT_DENSE) {
        json_object_del(*config, "quantization_config");
        model_config_set_dtype(*config, plan->dtype);
        return 0;
    }
    params->ignore = (const char *const *)kept->items;
    params->ignore_count = kept->count;
    params->quantized = (const char *const *)quantized->items;
    params->quantized_count = quantized->count;
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

static int run(const output_options *options, w4a16_format from, convert_plan *plan) {
    w4a16_checkpoint *ckpt = NULL;
    checkpoint_output out;
    w4a16_quantization_params params = {0};
    name_list kept = {0}, quantized = {0};
    json_t *config = NULL;
    char *marks = NULL;
    int64_t n_converted = 0, carried = 0, n_layers = 0;
    layer_jobs_reuse_memory();
    int rc = output_check(options);
    if (rc == 0) rc = open_quantized(options->input, from, &ckpt);
    output_init(&out, options, ckpt);
    if (rc == 0) {
        n_layers = w4a16_checkpoint_layer_count(ckpt);
        marks = calloc(2 * (size_t)n_layers + 1, 1); /* planned, then done */
        if (marks == NULL) rc = tool_fail(COMMAND, "out of memory");
    }
    if (rc == 0 && plan->to != W4A16_FORMAT_DENSE) rc = common_scheme(ckpt, &params);
    if (rc == 0) rc = plan_all(plan, ckpt, &out, &kept, &quantized, marks);
    if (rc == 0) rc = make_config(options->input, plan, &params, &kept, &quantized, &config);
    if (rc == 0) rc = output_open(&out);
    if (rc == 0) rc = produce_all(plan, ckpt, &out, n_layers - kept.count, marks + n_layers, &n_converted);
    if (rc == 0) rc = output_finish(&out, config, &carried);
    if (rc == 0 && plan->scales_from != W4A16_DTYPE_INVALID) report_scale_change(plan);
    if (rc == 0)
        printf("converted %lld layers from %s to %s; wrote %s (%lld weight file%s, config.json, "
               "%lld other file%s)\n",
               (long long)n_converted, w4a16_format_name(w4a16_checkpoint_format(ckpt)),
               w4a16_format_name(plan->to), options->out_dir,
               (long long)w4a16_shard_writer_file_count(out.writer),
               w4a16_shard_writer_file_count(out.writer) == 1 ? "" : "s", (long long)carried,
               carried == 1 ? "" : "s");
    output_free(&out);
    json_decref(config);
    name_list_free(&kept);
    name_list_free(&quantized);
    free(marks);
    w4a16_checkpoint_close(ckpt);
    return rc;
}

int cmd_convert(int argc, char **argv) {
    const char *path = NULL, *from = NULL, *to = NULL, *dtype = NULL, *out_dir = NULL;
    const char *shard_size = NULL, *threads = NULL;
    int force = 0;
    const arg_option options[] = {
        {"--from", NULL, ARG_STRING, &from},   {"--to", NULL, ARG_STRING, &to},
        {"--dtype", NULL, ARG_STRING, &dtype}, {"--out", "-o", ARG_STRING, &out_dir},
        {"--force", NULL, ARG_FLAG, &force},   {"--max-shard-size", NULL, ARG_STRING, &shard_size},
        {"--threads", NULL, ARG_STRING, &threads},
    };
    args_result parsed = args_parse(argc, argv, options, 7, &path, 1, 1);
    if (parsed == ARGS_HELP) {
        print_help();
        return EXIT_OK;
    }
    if (parsed == ARGS_ERROR) return EXIT_USAGE;
    static const w4a16_format formats[] = {W4A16_FORMAT_DENSE, W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    static const w4a16_dtype dtypes[] = {W4A16_F32, W4A16_F16, W4A16_BF16};
    convert_plan plan = {W4A16_FORMAT_DENSE, W4A16_F16, W4A16_DTYPE_INVALID, 0, NULL};
    output_options output = {COMMAND, path, out_dir, force, 0, 1};
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
    if (output_options_parse(&output, shard_size, threads) != 0) return EXIT_USAGE;
    return run(&output, from_format, &plan);
}
