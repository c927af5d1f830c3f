/* w4a16 inspect CHECKPOINT [--from FORMAT] [--json]: the format, each layer
 * (quantized, left unquantized, malformed or unsupported and why), the other
 * tensors, and the tensor count and bytes; exit 1 after the listing when a
 * layer is malformed, so that it serves as a validator. */
#include <jansson.h>
#include <stdio.h>

#include "args.h"
#include "commands.h"
#include "failure.h"
#include "w4a16.h"

static const char *const COMMAND = "inspect";

static void print_help(void) {
    printf("usage: w4a16 inspect CHECKPOINT [--from FORMAT] [--json]\n"
           "\n"
           "Lists a checkpoint's format, each quantized linear layer (name, N, K, group\n"
           "size, symmetric or not, act-order), the layers it leaves unquantized, those\n"
           "that are malformed (a tensor missing or of the wrong dtype or shape for the\n"
           "format) and those valid but out of scope (unsupported: 8-bit groups, ignored\n"
           "modules), each with the reason, the other tensors, and the tensor count and\n"
           "bytes.\n"
           "\n"
           "  CHECKPOINT     a folder (config.json + model.safetensors or a shard index),\n"
           "                 a .safetensors file, or a model.safetensors.index.json\n"
           "  --from FORMAT  awq, gptq, gptq_v2, ct or dense; needed for a bare\n"
           "                 .safetensors without config.json (default: from the config)\n"
           "  --json         print {format, layers: [{name, status, reason, n, k,\n"
           "                 group_size (-1 per-channel), symmetric, act_order}],\n"
           "                 other_tensors: [{name, dtype, shape}], tensor_count, bytes}\n"
           "\n"
           "Exits 1 after the listing when a layer is malformed (one line on stderr names\n"
           "the first), and when the checkpoint cannot be read at all or none of its\n"
           "quantized layers can.\n");
}

static const char *status_name(w4a16_layer_status status) {
    switch (status) {
    case W4A16_LAYER_QUANTIZED: return "quantized";
    case W4A16_LAYER_UNQUANTIZED: return "unquantized";
    case W4A16_LAYER_MALFORMED: return "malformed";
    default: return "unsupported";
    }
}

/* Whether a tensor is listed under other_tensors: not part of a readable quantized layer. */
static int is_other_tensor(const w4a16_checkpoint *ckpt, const w4a16_tensor_info *t) {
    w4a16_layer_info layer;
    if (t->layer < 0) return 1;
    if (w4a16_checkpoint_layer(ckpt, t->layer, &layer) != W4A16_OK) return 1;
    return layer.status != W4A16_LAYER_QUANTIZED;
}

static int64_t count_other_tensors(const w4a16_checkpoint *ckpt) {
    int64_t count = 0;
    for (int64_t i = 0; i < w4a16_checkpoint_tensor_count(ckpt); i++) {
        w4a16_tensor_info t;
        count += w4a16_checkpoint_tensor(ckpt, i, &t) == W4A16_OK && is_other_tensor(ckpt, &t);
    }
    return count;
}

static json_t *layer_json(const w4a16_layer_info *l) {
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "name", l->name, "status",
                     status_name(l->status), "reason", l->reason ? l->reason : "", "n",
                     (json_int_t)l->n, "k", (json_int_t)l->k, "group_size",
                     (json_int_t)l->group_size, "symmetric", l->symmetric, "act_order",
                     l->act_order);
}

static json_t *tensor_json(const w4a16_tensor_info *t) {
    json_t *shape = json_array();
    for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
    return json_pack("{s:s, s:s, s:o}", "name", t->name, "dtype", w4a16_dtype_name(t->dtype),
                     "shape", shape);
}

static void print_layer_text(const w4a16_layer_info *l) {
    if (l->status == W4A16_LAYER_QUANTIZED) {
        char group[32];
        if (l->group_size < 0) snprintf(group, sizeof group, "per-channel");
        else snprintf(group, sizeof group, "%lld", (long long)l->group_size);
        printf("  %-48s N=%-6lld K=%-6lld group=%-11s %s\n", l->name, (long long)l->n,
               (long long)l->k, group,
               l->act_order ? (l->symmetric ? "sym  act-order" : "asym act-order")
                            : (l->symmetric ? "sym" : "asym"));
    } else {
        printf("  %-48s %s%s%s\n", l->name, status_name(l->status),
               l->reason && l->reason[0] ? ": " : "", l->reason ? l->reason : "");
    }
}

static void print_tensor_text(const w4a16_tensor_info *t) {
    printf("  %-48s %-5s [", t->name, w4a16_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
    printf("]\n");
}

/* Walks the checkpoint once, printing text or filling `json` (when not NULL);
 * *listed says whether the listing is complete. */
static int report(const char *path, const w4a16_checkpoint *ckpt, json_t *json, int *listed) {
    w4a16_format format = w4a16_checkpoint_format(ckpt);
    int64_t n_layers = w4a16_checkpoint_layer_count(ckpt), n_quantized = 0, n_malformed = 0;
    w4a16_layer_info first_malformed = {0};
    json_t *layers = json_array(), *others = json_array();
    if (!json) printf("checkpoint: %s\nformat: %s\nlayers: %lld\n", path, w4a16_format_name(format),
                      (long long)n_layers);
    for (int64_t i = 0; i < n_layers; i++) {
        w4a16_layer_info l;
        w4a16_status st = w4a16_checkpoint_layer(ckpt, i, &l);
        if (st != W4A16_OK) goto failed;
        n_quantized += l.status == W4A16_LAYER_QUANTIZED;
        if (l.status == W4A16_LAYER_MALFORMED && n_malformed++ == 0) first_malformed = l;
        if (json) json_array_append_new(layers, layer_json(&l));
        else print_layer_text(&l);
    }
    int64_t n_tensors = w4a16_checkpoint_tensor_count(ckpt);
    uint64_t bytes = 0;
    if (!json) printf("other tensors: %lld\n", (long long)count_other_tensors(ckpt));
    for (int64_t i = 0; i < n_tensors; i++) {
        w4a16_tensor_info t;
        w4a16_status st = w4a16_checkpoint_tensor(ckpt, i, &t);
        if (st != W4A16_OK) goto failed;
        bytes += t.nbytes;
        if (!is_other_tensor(ckpt, &t)) continue;
        if (json) json_array_append_new(others, tensor_json(&t));
        else print_tensor_text(&t);
    }
    if (json) {
        json_object_set_new(json, "format", json_string(w4a16_format_name(format)));
        json_object_set_new(json, "layers", layers);
        json_object_set_new(json, "other_tensors", others);
        json_object_set_new(json, "tensor_count", json_integer(n_tensors));
        json_object_set_new(json, "bytes", json_integer((json_int_t)bytes));
    } else {
        json_decref(layers);
        json_decref(others);
        printf("tensors: %lld, %llu bytes\n", (long long)n_tensors, (unsigned long long)bytes);
    }
    *listed = 1;
    if (format != W4A16_FORMAT_DENSE && n_quantized == 0)
        return tool_fail(COMMAND, "%s: none of its %lld %s layers can be read", path,
                         (long long)n_layers, w4a16_format_name(format));
    if (n_malformed > 0)
        return tool_fail(COMMAND, "%s: %lld malformed layer%s; the first, %s: %s", path,
                         (long long)n_malformed, n_malformed == 1 ? "" : "s",
                         first_malformed.name, first_malformed.reason);
    return EXIT_OK;
failed:
    json_decref(layers);
    json_decref(others);
    return tool_fail_status(COMMAND, W4A16_ERR_FORMAT, path);
}

int cmd_inspect(int argc, char **argv) {
    const char *from = NULL, *path = NULL;
    int as_json = 0;
    const arg_option options[] = {
        {"--from", NULL, ARG_STRING, &from},
        {"--json", NULL, ARG_FLAG, &as_json},
    };
    args_result parsed = args_parse(argc, argv, options, 2, &path, 1, 1);
    if (parsed == ARGS_HELP) {
        print_help();
        return EXIT_OK;
    }
    if (parsed == ARGS_ERROR) return EXIT_USAGE;
    static const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT,
                                           W4A16_FORMAT_DENSE};
    w4a16_format format = W4A16_FORMAT_AUTO;
    if (from && !args_parse_format(COMMAND, "--from", from, formats, 5, &format)) return EXIT_USAGE;

    w4a16_checkpoint *ckpt = NULL;
    w4a16_status st = w4a16_checkpoint_open(path, format, &ckpt);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, NULL);
    json_t *json = as_json ? json_object() : NULL;
    int listed = 0;
    int rc = report(path, ckpt, json, &listed);
    if (json && listed) {
        json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    json_decref(json);
    w4a16_checkpoint_close(ckpt);
    return rc;
}
