/* w4a16 quantize CHECKPOINT --format awq|gptq|gptq_v2|ct [--group G] [--sym|--asym]
 *                [--include GLOB]... [--exclude GLOB]... -o OUT_DIR [--force]:
 * round-to-nearest 4-bit quantization of a dense checkpoint's linear layers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "checkpoint/layouts.h"
#include "checkpoint/checkpoint_writer.h"
#include "commands.h"
#include "failure.h"
#include "layer_select.h"
#include "model_config.h"
#include "name_list.h"
#include "out_dir.h"
#include "progress.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"
#include "quantize/quantize.h"

static const char *const COMMAND = "quantize";

static void print_help(void) {
    printf("usage: w4a16 quantize CHECKPOINT --format awq|gptq|gptq_v2|ct [--group 32|64|128|-1]\n"
           "                      [--sym|--asym] [--include GLOB]... [--exclude GLOB]...\n"
           "                      -o OUT_DIR [--force]\n"
           "\n"
           "Quantizes a dense checkpoint's linear layers to 4 bits (round to nearest) and\n"
           "writes OUT_DIR/model.safetensors and OUT_DIR/config.json; every other tensor is\n"
           "copied unchanged.\n"
           "\n"
           "  CHECKPOINT       a dense folder or .safetensors file (F32, F16 or BF16 weights)\n"
           "  --format FORMAT  awq, gptq (v1), gptq_v2 or ct (compressed-tensors)\n"
           "  --group G        group size along K: 32, 64, 128 (default) or -1 (per-channel)\n"
           "  --sym, --asym    symmetric (z = 8) or with zero points; default: asymmetric for\n"
           "                   awq, symmetric for gptq, gptq_v2 and ct\n"
           "  --include GLOB   quantize only the 2-D weights GLOB matches (repeatable); it may\n"
           "                   name embeddings, norms or lm_head, which are otherwise left dense\n"
           "  --exclude GLOB   leave the weights GLOB matches dense (repeatable)\n"
           "  -o, --out DIR    output folder; refused if it exists and is not empty\n"
           "  --force          write into a non-empty output folder\n"
           "\n"
           "By default the 2-D '*.weight' tensors are quantized except embeddings ('*embed*',\n"
           "'*wte.weight', '*wpe.weight'), '*lm_head*' and '*norm*'. Globs (fnmatch) match a\n"
           "tensor's name or its layer prefix: --exclude '*.down_proj' and --exclude\n"
           "'model.layers.*.mlp.down_proj.weight' both work. A layer whose K is not a multiple\n"
           "of the group size is an error unless excluded.\n"
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

static int quantize_tensor(const quantize_plan *plan, const w4a16_tensor_info *t,
                           w4a16_tensor_list *out) {
    char prefix[4096];
    layer_prefix(t->name, prefix, sizeof prefix);
    int64_t n = t->shape[0], k = t->shape[1];
    w4a16_unpacked w = {0};
    w4a16_status st = w4a16_quantize_min_zero(
        t->data, t->dtype, n, k, plan->group_size, plan->symmetric,
        scales_dtype_for(plan->format, t->dtype), w4a16_format_min_zero(plan->format), &w);
    if (st == W4A16_OK) st = w4a16_encode(&w, plan->format, prefix, out, NULL);
    w4a16_unpacked_free(&w);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, prefix);
    return 0;
}

/* Checks the shape of one selected tensor before any work: K a multiple of
 * the group size, and whatever the format's layout needs (layouts.h). */
static int check_shape(const quantize_plan *plan, const w4a16_tensor_info *t) {
    char prefix[4096];
    layer_prefix(t->name, prefix, sizeof prefix);
    int64_t n = t->shape[0], k = t->shape[1];
    if (plan->group_size > 0 && k % plan->group_size != 0)
        return tool_fail(COMMAND,
                         "layer %s: K=%lld is not a multiple of the group size %lld "
                         "(leave it dense with --exclude '%s')",
                         prefix, (long long)k, (long long)plan->group_size, prefix);
    w4a16_format_layout layout;
    int64_t groups = plan->group_size > 0 ? k / plan->group_size : 1;
    w4a16_status st = w4a16_format_layout_get(plan->format, n, k, groups, &layout);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, prefix);
    return 0;
}

/* Quantizes the selected tensors into out and adds the rest unchanged;
 * the linear layers left dense go to kept (the config's ignore list). */
static int quantize_all(const quantize_plan *plan, const w4a16_checkpoint *ckpt,
                        w4a16_tensor_list *out, name_list *kept, int64_t *n_quantized) {
    int64_t count = w4a16_checkpoint_tensor_count(ckpt), total = 0;
    w4a16_tensor_info t;
    int rc = 0;
    for (int64_t i = 0; i < count && rc == 0; i++)
        if (w4a16_checkpoint_tensor(ckpt, i, &t) == W4A16_OK && layer_select_wants(&plan->select, &t)) {
            rc = check_shape(plan, &t);
            total++;
        }
    progress bar;
    progress_begin(&bar, COMMAND, total);
    for (int64_t i = 0; i < count && rc == 0; i++) {
        w4a16_status st = w4a16_checkpoint_tensor(ckpt, i, &t);
        if (st != W4A16_OK) {
            rc = tool_fail_status(COMMAND, st, NULL);
        } else if (layer_select_wants(&plan->select, &t)) {
            progress_update(&bar, *n_quantized, t.name);
            rc = quantize_tensor(plan, &t, out);
            ++*n_quantized;
        } else {
            if (layer_select_is_candidate(&t) && !layer_select_is_embedding(t.name) &&
                name_list_push(kept, t.name, strlen(t.name) - strlen(".weight")) != 0)
                rc = tool_fail(COMMAND, "out of memory");
            st = w4a16_tensor_list_add(out, t.name, t.dtype, t.ndim, t.shape, t.data);
            if (rc == 0 && st != W4A16_OK) rc = tool_fail_status(COMMAND, st, t.name);
        }
    }
    progress_end(&bar);
    if (rc == 0 && *n_quantized == 0)
        rc = tool_fail(COMMAND, "no tensor to quantize (no 2-D F32/F16/BF16 '*.weight' selected)");
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

/* Builds config.json: the input's, with the new quantization_config. */
static int make_config(const char *path, const quantize_plan *plan, const name_list *kept,
                       json_t **config) {
    char *folder = checkpoint_folder(path);
    if (folder == NULL) return tool_fail(COMMAND, "out of memory");
    int rc = model_config_load(COMMAND, folder, config);
    free(folder);
    if (rc != 0) return rc;
    w4a16_quantization_params params = {plan->group_size, plan->symmetric, 0,
                                        (const char *const *)kept->items, kept->count};
    json_t *qc = NULL;
    w4a16_status st = w4a16_quantization_config(plan->format, &params, &qc);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, "quantization_config");
    json_object_set_new(*config, "quantization_config", qc);
    return 0;
}

static int run(const char *path, const char *out_dir, int force, const quantize_plan *plan) {
    w4a16_checkpoint *ckpt = NULL;
    w4a16_tensor_list tensors = {0};
    name_list kept = {0};
    json_t *config = NULL;
    int64_t n_quantized = 0;
    int rc = out_dir_check(COMMAND, out_dir, force);
    if (rc == 0) rc = open_dense(path, &ckpt);
    if (rc == 0) rc = quantize_all(plan, ckpt, &tensors, &kept, &n_quantized);
    if (rc == 0) rc = make_config(path, plan, &kept, &config);
    if (rc == 0) rc = out_dir_create(COMMAND, out_dir);
    if (rc == 0) {
        w4a16_status st = w4a16_checkpoint_write(out_dir, &tensors, config);
        if (st != W4A16_OK) rc = tool_fail_status(COMMAND, st, out_dir);
    }
    if (rc == 0) {
        char group[32] = "per-channel";
        if (plan->group_size > 0) snprintf(group, sizeof group, "group %lld", (long long)plan->group_size);
        printf("quantized %lld layers to %s (%s, %s); %lld linear layers left dense; wrote %s\n",
               (long long)n_quantized, w4a16_format_name(plan->format), group,
               plan->symmetric ? "symmetric" : "asymmetric", (long long)kept.count, out_dir);
    }
    json_decref(config);
    name_list_free(&kept);
    w4a16_tensor_list_free(&tensors);
    w4a16_checkpoint_close(ckpt);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *path = NULL, *format_name = NULL, *group = NULL, *out_dir = NULL;
    int sym = 0, asym = 0, force = 0;
    arg_list include = {0}, exclude = {0};
    const arg_option options[] = {
        {"--format", NULL, ARG_STRING, &format_name}, {"--group", NULL, ARG_STRING, &group},
        {"--sym", NULL, ARG_FLAG, &sym},              {"--asym", NULL, ARG_FLAG, &asym},
        {"--include", NULL, ARG_LIST, &include},      {"--exclude", NULL, ARG_LIST, &exclude},
        {"--out", "-o", ARG_STRING, &out_dir},        {"--force", NULL, ARG_FLAG, &force},
    };
    args_result parsed = args_parse(argc, argv, options, 8, &path, 1, 1);
    int rc = parsed == ARGS_HELP ? EXIT_OK : parsed == ARGS_ERROR ? EXIT_USAGE : -1;
    if (parsed == ARGS_HELP) print_help();
    static const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    quantize_plan plan = {W4A16_FORMAT_AWQ, 128, 0, {&include, &exclude}};
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
    if (rc < 0) {
        plan.group_size = group_size;
        plan.symmetric = sym ? 1 : asym ? 0 : plan.format != W4A16_FORMAT_AWQ;
        rc = run(path, out_dir, force, &plan);
    }
    arg_list_free(&include);
    arg_list_free(&exclude);
    return rc;
}
