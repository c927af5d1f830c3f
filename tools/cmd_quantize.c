/* w4a16 quantize CHECKPOINT --format awq|gptq|gptq_v2|ct [--group G] [--sym|--asym]
 *                [--include GLOB]... [--exclude GLOB]... -o OUT_DIR [--force]
 *                [--max-shard-size SIZE] [--threads N]:
 * round-to-nearest 4-bit quantization of a dense checkpoint's linear layers,
 * streamed layer by layer into OUT_DIR (checkpoint_output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "checkpoint/layouts.h"
#include "checkpoint_output.h"
#include "commands.h"
#include "failure.h"
#include "layer_jobs.h"
#include "layer_select.h"
#include "model_config.h"
#include "name_list.h"
#include "progress.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"

static const char *const COMMAND = "quantize";

static void print_help(void) {
    printf("usage: w4a16 quantize CHECKPOINT --format awq|gptq|gptq_v2|ct [--group 32|64|128|-1]\n"
           "                      [--sym|--asym] [--include GLOB]... [--exclude GLOB]...\n"
           "                      -o OUT_DIR [--force] [--max-shard-size SIZE] [--threads N]\n"
           "\n"
           "Quantizes a dense checkpoint's linear layers to 4 bits (round to nearest) and\n"
           "writes the weights (model.safetensors, or shards and their index) and config.json\n"
           "to OUT_DIR, layer by layer, so memory holds a few layers at a time; every other\n"
           "tensor is copied unchanged, and so are the model folder's other files (tokenizer,\n"
           "generation_config.json, chat template, README).\n"
           "\n"
           "  CHECKPOINT       a dense folder, shard index or .safetensors file (F32, F16 or\n"
           "                   BF16 weights)\n"
           "  --format FORMAT  awq, gptq (v1), gptq_v2 or ct (compressed-tensors)\n"
           "  --group G        group size along K: 32, 64, 128 (default) or -1 (per-channel)\n"
           "  --sym, --asym    symmetric (z = 8) or with zero points; default: asymmetric for\n"
           "                   awq, symmetric for gptq, gptq_v2 and ct\n"
           "  --include GLOB   quantize only the 2-D weights GLOB matches (repeatable); it may\n"
           "                   name embeddings, norms, lm_head or routers, otherwise left dense\n"
           "  --exclude GLOB   leave the weights GLOB matches dense (repeatable)\n"
           "  -o, --out DIR    output folder; refused if it exists and is not empty, or if it\n"
           "                   is the input's folder or inside it\n"
           "  --force          write into a non-empty output folder: its previous weights\n"
           "                   (model*.safetensors, the index) are replaced, other files kept\n"
           OUTPUT_OPTIONS_HELP
           "\n"
           "By default the 2-D '*.weight' tensors are quantized except embeddings ('*embed*',\n"
           "'*wte.weight', '*wpe.weight'), '*lm_head*', '*norm*', MoE routers ('*.mlp.gate',\n"
           "'*shared_expert_gate', as llm-compressor leaves them) and layers whose shape the\n"
           "format cannot hold (N or K not a multiple of 8 where it packs them, K not a\n"
           "multiple of the group size); those left dense by a rule are listed. Globs\n"
           "(fnmatch) match a tensor's name or its layer prefix: --exclude '*.down_proj' and\n"
           "--exclude 'model.layers.*.mlp.down_proj.weight' both work. Layers that --include\n"
           "names but the format cannot hold are an error naming every one of them.\n"
           "\n"
           "Scales: F16 for awq and gptq; for ct the weight's own dtype (F16 or BF16), and F16\n"
           "for F32 weights (F16 keeps three more bits of each scale than BF16). GPTQ v1 output\n"
           "keeps zeros in 1..15, which every GPTQ reader agrees on. The weights left dense are\n"
           "listed in the config as unconverted (modules_to_not_convert, dynamic, ignore).\n");
}

typedef struct {
    w4a16_format format;
    int64_t group_size;
    int symmetric;
    layer_select select;
} quantize_plan;

/* The work of one run, freed in one place. */
typedef struct {
    const quantize_plan *plan;
    const w4a16_checkpoint *ckpt;
    checkpoint_output out;
    char *quantize;           /* per input tensor: 1 when it is quantized */
    name_list kept;           /* linear layers left dense: the config's ignore list */
    name_list quantized;      /* the quantized layers */
    name_list by_rule;        /* "layer: why" for those a rule left dense (listed) */
    name_list broken;         /* "layer (why)" for --include'd layers the format cannot hold */
    name_list broken_layers;  /* their prefixes, for the --exclude hint */
    int64_t n_quantized;
    w4a16_dtype weights_dtype; /* of the quantized weights */
} quantize_run;

/* Scales dtype for a weight of this dtype (see the help text). */
static w4a16_dtype scales_dtype_for(w4a16_format format, w4a16_dtype weight_dtype) {
    w4a16_dtype own = weight_dtype == W4A16_BF16 ? W4A16_BF16 : W4A16_F16;
    return w4a16_format_scales_dtype(format, own);
}

/* The layer prefix of a "*.weight" tensor name, into buf. */
static const char *layer_prefix(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%.*s", (int)(strlen(name) - strlen(".weight")), name);
    return buf;
}

/* Appends "a: b" (or "a (b)", as separator says) to list; -1 when out of memory. */
static int push_text(name_list *list, const char *a, const char *separator, const char *b) {
    size_t length = strlen(a) + strlen(separator) + strlen(b) + 2;
    char *text = malloc(length);
    if (text == NULL) return -1;
    snprintf(text, length, "%s%s%s%s", a, separator, b, separator[1] == '(' ? ")" : "");
    int rc = name_list_push(list, text, strlen(text));
    free(text);
    return rc;
}

/* Why the format cannot hold this [N, K] weight (K a multiple of the group
 * size, and the layout's own rules), or NULL when it can. */
static const char *format_rule_broken(const quantize_plan *plan, const w4a16_tensor_info *t,
                                      char *reason, size_t size) {
    int64_t n = t->shape[0], k = t->shape[1];
    if (plan->group_size > 0 && k % plan->group_size != 0) {
        snprintf(reason, size, "K=%lld is not a multiple of the group size %lld", (long long)k,
                 (long long)plan->group_size);
        return reason;
    }
    w4a16_format_layout layout;
    int64_t groups = plan->group_size > 0 ? k / plan->group_size : 1;
    if (w4a16_format_layout_get(plan->format, n, k, groups, &layout) == W4A16_OK) return NULL;
    snprintf(reason, size, "%s", w4a16_last_error());
    return reason;
}

/* One input tensor into the plan: quantized (its tensors in the format),
 * or copied; the layers left dense recorded. */
static int plan_tensor(quantize_run *run, int64_t index, const w4a16_tensor_info *t) {
    const quantize_plan *plan = run->plan;
    char prefix[4096], reason[512];
    select_result select = layer_select_decide(&plan->select, t);
    const char *broken = select >= SELECT_DEFAULT ? format_rule_broken(plan, t, reason, sizeof reason) : NULL;
    int failed = 0;
    if (select >= SELECT_DEFAULT) layer_prefix(t->name, prefix, sizeof prefix);
    if (select == SELECT_INCLUDED && broken) {
        failed |= push_text(&run->broken, prefix, " (", broken);
        failed |= name_list_push(&run->broken_layers, prefix, strlen(prefix));
    } else if (select == SELECT_DEFAULT && broken) {
        failed |= push_text(&run->by_rule, prefix, ": ", broken);
    } else if (select == SELECT_ROUTER) {
        failed |= push_text(&run->by_rule, layer_prefix(t->name, prefix, sizeof prefix), ": ",
                            "an MoE router, which quantizers and engines keep dense");
    }
    run->quantize[index] = select >= SELECT_DEFAULT && !broken;
    if (select != SELECT_NOT_LINEAR && !run->quantize[index])
        failed |= name_list_push(&run->kept, t->name, strlen(t->name) - strlen(".weight"));
    if (failed) return tool_fail(COMMAND, "out of memory");
    if (!run->quantize[index]) {
        w4a16_status st = w4a16_tensor_list_add(&run->out.plan, t->name, t->dtype, t->ndim, t->shape, NULL);
        return st == W4A16_OK ? 0 : tool_fail_status(COMMAND, st, t->name);
    }
    if (run->n_quantized++ == 0) run->weights_dtype = t->dtype;
    if (name_list_push(&run->quantized, prefix, strlen(prefix)) != 0) return tool_fail(COMMAND, "out of memory");
    w4a16_status st = w4a16_encode_plan(plan->format, t->shape[0], t->shape[1], plan->group_size,
                                        plan->symmetric, 0, scales_dtype_for(plan->format, t->dtype),
                                        prefix, &run->out.plan);
    return st == W4A16_OK ? 0 : tool_fail_status(COMMAND, st, prefix);
}

/* One error naming every --include'd layer the format cannot hold. */
static int report_broken(const quantize_run *run) {
    char list[2048] = "", hint[2048] = "";
    for (int64_t i = 0; i < run->broken.count; i++) {
        size_t used = strlen(list), hint_used = strlen(hint);
        snprintf(list + used, sizeof list - used, "%s%s", i ? "; " : "", run->broken.items[i]);
        snprintf(hint + hint_used, sizeof hint - hint_used, "%s--exclude '%s'", i ? " " : "",
                 run->broken_layers.items[i]);
    }
    return tool_fail(COMMAND, "%lld layer(s) cannot be held by %s: %s; leave them dense with %s",
                     (long long)run->broken.count, w4a16_format_name(run->plan->format), list, hint);
}

static int plan_all(quantize_run *run) {
    int64_t count = w4a16_checkpoint_tensor_count(run->ckpt);
    run->quantize = calloc((size_t)count + 1, 1);
    if (run->quantize == NULL) return tool_fail(COMMAND, "out of memory");
    for (int64_t i = 0; i < count; i++) {
        w4a16_tensor_info t;
        w4a16_status st = w4a16_checkpoint_tensor(run->ckpt, i, &t);
        int rc = st == W4A16_OK ? plan_tensor(run, i, &t) : tool_fail_status(COMMAND, st, NULL);
        if (rc != 0) return rc;
    }
    if (run->broken.count > 0) return report_broken(run);
    if (run->n_quantized == 0)
        return tool_fail(COMMAND, "no tensor to quantize (no 2-D F32/F16/BF16 '*.weight' selected "
                         "that %s can hold)", w4a16_format_name(run->plan->format));
    return 0;
}

/* Quantizes or copies every tensor, in the order planned. */
static int produce_all(quantize_run *run) {
    const quantize_plan *plan = run->plan;
    progress bar;
    progress_begin(&bar, COMMAND, run->n_quantized);
    int64_t done = 0;
    int rc = 0;
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(run->ckpt) && rc == 0; i++) {
        w4a16_tensor_info t, next;
        w4a16_checkpoint_tensor(run->ckpt, i, &t); /* succeeded when planned */
        if (i + 1 < w4a16_checkpoint_tensor_count(run->ckpt) &&
            w4a16_checkpoint_tensor(run->ckpt, i + 1, &next) == W4A16_OK)
            output_prefetch(&run->out, &next);
        if (!run->quantize[i]) {
            rc = output_copy(&run->out, &t);
            continue;
        }
        progress_update(&bar, done++, t.name);
        char prefix[4096];
        layer_prefix(t.name, prefix, sizeof prefix);
        w4a16_tensor_list tensors = {0};
        w4a16_status st = quantize_layer(run->out.options->threads, t.data, t.dtype, t.shape[0],
                                         t.shape[1], plan->group_size, plan->symmetric,
                                         scales_dtype_for(plan->format, t.dtype), plan->format,
                                         prefix, &tensors);
        rc = st == W4A16_OK ? output_put(&run->out, &tensors) : tool_fail_status(COMMAND, st, prefix);
        w4a16_tensor_list_free(&tensors);
        output_release(&run->out, &t);
    }
    progress_end(&bar);
    return rc;
}

/* The input must be dense: a bare file with no config is taken as dense. */
static int open_dense(const char *path, w4a16_checkpoint **ckpt) {
    char *folder = checkpoint_folder(path);
    if (folder == NULL) return tool_fail(COMMAND, "out of memory");
    w4a16_format format = checkpoint_has_config(folder) ? W4A16_FORMAT_AUTO : W4A16_FORMAT_DENSE;
    free(folder);
    w4a16_status st = w4a16_checkpoint_open(path, format, ckpt);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, NULL);
    if (w4a16_checkpoint_format(*ckpt) != W4A16_FORMAT_DENSE)
        return tool_fail(COMMAND, "%s is a %s checkpoint: quantize needs a dense one "
                         "(use w4a16 convert between formats)",
                         path, w4a16_format_name(w4a16_checkpoint_format(*ckpt)));
    return 0;
}

/* config.json: the input's, with the new quantization_config, and the
 * weights' dtype where the input's config does not say it. */
static int make_config(const char *path, const quantize_run *run, json_t **config) {
    char *folder = checkpoint_folder(path);
    if (folder == NULL) return tool_fail(COMMAND, "out of memory");
    int rc = model_config_load(COMMAND, folder, config);
    free(folder);
    if (rc != 0) return rc;
    if (!json_object_get(*config, "torch_dtype") && !json_object_get(*config, "dtype"))
        model_config_set_dtype(*config, run->weights_dtype);
    w4a16_quantization_params params = {run->plan->group_size, run->plan->symmetric, 0,
                                        (const char *const *)run->kept.items, run->kept.count,
                                        (const char *const *)run->quantized.items,
                                        run->quantized.count};
    json_t *qc = NULL;
    w4a16_status st = w4a16_quantization_config(run->plan->format, &params, &qc);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, "quantization_config");
    json_object_set_new(*config, "quantization_config", qc);
    return 0;
}

static void print_summary(const quantize_run *run, int64_t carried) {
    const quantize_plan *plan = run->plan;
    for (int64_t i = 0; i < run->by_rule.count; i++) printf("  left dense: %s\n", run->by_rule.items[i]);
    char group[32] = "per-channel";
    if (plan->group_size > 0) snprintf(group, sizeof group, "group %lld", (long long)plan->group_size);
    int64_t files = w4a16_shard_writer_file_count(run->out.writer);
    printf("quantized %lld layers to %s (%s, %s); %lld linear layers left dense; wrote %s "
           "(%lld weight file%s, config.json, %lld other file%s)\n",
           (long long)run->n_quantized, w4a16_format_name(plan->format), group,
           plan->symmetric ? "symmetric" : "asymmetric", (long long)run->kept.count,
           run->out.options->out_dir, (long long)files, files == 1 ? "" : "s", (long long)carried,
           carried == 1 ? "" : "s");
}

static int run(const output_options *options, const quantize_plan *plan) {
    w4a16_checkpoint *ckpt = NULL;
    quantize_run r = {.plan = plan};
    json_t *config = NULL;
    int64_t carried = 0;
    layer_jobs_reuse_memory();
    int rc = output_check(options);
    if (rc == 0) rc = open_dense(options->input, &ckpt);
    r.ckpt = ckpt;
    output_init(&r.out, options, ckpt);
    if (rc == 0) rc = plan_all(&r);
    if (rc == 0) rc = make_config(options->input, &r, &config);
    if (rc == 0) rc = output_open(&r.out);
    if (rc == 0) rc = produce_all(&r);
    if (rc == 0) rc = output_finish(&r.out, config, &carried);
    if (rc == 0) print_summary(&r, carried);
    output_free(&r.out);
    json_decref(config);
    name_list_free(&r.kept);
    name_list_free(&r.quantized);
    name_list_free(&r.by_rule);
    name_list_free(&r.broken);
    name_list_free(&r.broken_layers);
    free(r.quantize);
    w4a16_checkpoint_close(ckpt);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *path = NULL, *format_name = NULL, *group = NULL, *out_dir = NULL;
    const char *shard_size = NULL, *threads = NULL;
    int sym = 0, asym = 0, force = 0;
    arg_list include = {0}, exclude = {0};
    const arg_option options[] = {
        {"--format", NULL, ARG_STRING, &format_name}, {"--group", NULL, ARG_STRING, &group},
        {"--sym", NULL, ARG_FLAG, &sym},              {"--asym", NULL, ARG_FLAG, &asym},
        {"--include", NULL, ARG_LIST, &include},      {"--exclude", NULL, ARG_LIST, &exclude},
        {"--out", "-o", ARG_STRING, &out_dir},        {"--force", NULL, ARG_FLAG, &force},
        {"--max-shard-size", NULL, ARG_STRING, &shard_size},
        {"--threads", NULL, ARG_STRING, &threads},
    };
    args_result parsed = args_parse(argc, argv, options, 10, &path, 1, 1);
    int rc = parsed == ARGS_HELP ? EXIT_OK : parsed == ARGS_ERROR ? EXIT_USAGE : -1;
    if (parsed == ARGS_HELP) print_help();
    static const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    quantize_plan plan = {W4A16_FORMAT_AWQ, 128, 0, {&include, &exclude}};
    output_options output = {COMMAND, path, out_dir, force, 0, 1};
    long long group_size = 128;
    if (rc < 0 && format_name == NULL) rc = usage_error(COMMAND, "missing --format");
    if (rc < 0 && out_dir == NULL) rc = usage_error(COMMAND, "missing -o OUT_DIR");
    if (rc < 0 && sym && asym) rc = usage_error(COMMAND, "--sym and --asym exclude each other");
    if (rc < 0 && !args_parse_format(COMMAND, "--format", format_name, formats, 4, &plan.format))
        rc = EXIT_USAGE;
    if (rc < 0 && group && !args_parse_int(COMMAND, "--group", group, -1, 128, &group_size))
        rc = EXIT_USAGE;
    if (rc < 0 && group_size != 32 && group_size != 64 && group_size != 128 && group_size != -1)
        rc = usage_error(COMMAND, "--group: %lld is not 32, 64, 128 or -1", group_size);
    if (rc < 0 && output_options_parse(&output, shard_size, threads) != 0) rc = EXIT_USAGE;
    if (rc < 0) {
        plan.group_size = group_size;
        plan.symmetric = sym ? 1 : asym ? 0 : plan.format != W4A16_FORMAT_AWQ;
        rc = run(&output, &plan);
    }
    arg_list_free(&include);
    arg_list_free(&exclude);
    return rc;
}
