/* The layers of a checkpoint: every prefix holding the format's packed
 * weight (qweight, weight_packed) is a quantized layer, read or refused with
 * a reason; 2-D "prefix.weight" tensors the config leaves dense (ignore,
 * modules_to_not_convert, GPTQ "-:" dynamic rules) are listed as
 * unquantized. Also the public accessors for layers and their sources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

typedef struct {
    char *prefix;
    int quantized; /* 0: a dense weight the config leaves unquantized */
} candidate;

typedef struct {
    candidate *items;
    int64_t count;
} candidate_list;

static int has_tensor(const w4a16_checkpoint *ckpt, const char *prefix, const char *suffix) {
    return w4a16_ckpt_find_tensor(ckpt, prefix, suffix) != NULL;
}

static w4a16_status add_candidate(candidate_list *list, const char *prefix, size_t length,
                                  int quantized) {
    candidate *grown = realloc(list->items, (size_t)(list->count + 1) * sizeof *grown);
    W4A16_FAIL_IF(grown == NULL, W4A16_ERR_NOMEM, "out of memory listing layers");
    list->items = grown;
    char *copy = strndup(prefix, length);
    W4A16_FAIL_IF(copy == NULL, W4A16_ERR_NOMEM, "out of memory listing layers");
    list->items[list->count++] = (candidate){copy, quantized};
    return W4A16_OK;
}

/* Prefixes of the layers, from the tensor names. compressed-tensors formats
 * we do not read (int-quantized, float-quantized) keep "weight" beside
 * "weight_scale": those are quantized layers too, refused later. */
static w4a16_status find_candidates(const w4a16_checkpoint *ckpt, const w4a16_quant_config *config,
                                    candidate_list *out) {
    const char *marker = w4a16_ckpt_layer_tensor_names(ckpt->format)->qweight;
    for (int64_t t = 0; t < ckpt->tensor_count; t++) {
        const w4a16_st_tensor *tensor = ckpt->tensors[t].st;
        const char *dot = strrchr(tensor->name, '.');
        if (dot == NULL) continue;
        size_t length = (size_t)(dot - tensor->name);
        char prefix[4096];
        if (length >= sizeof prefix) continue;
        memcpy(prefix, tensor->name, length);
        prefix[length] = '\0';
        if (strcmp(dot + 1, marker) == 0) {
            W4A16_TRY(add_candidate(out, prefix, length, 1));
        } else if (strcmp(dot + 1, "weight") == 0 && tensor->ndim == 2 &&
                   !has_tensor(ckpt, prefix, marker)) {
            if (ckpt->format == W4A16_FORMAT_CT && has_tensor(ckpt, prefix, "weight_scale"))
                W4A16_TRY(add_candidate(out, prefix, length, 1));
            else if (w4a16_quant_config_leaves_dense(config, prefix))
                W4A16_TRY(add_candidate(out, prefix, length, 0));
        }
    }
    return W4A16_OK;
}

static int compare_candidates(const void *a, const void *b) {
    return strcmp(((const candidate *)a)->prefix, ((const candidate *)b)->prefix);
}

static w4a16_status set_reason(w4a16_ckpt_layer *layer, w4a16_layer_status status,
                               const char *reason) {
    layer->info.status = status;
    layer->info.reason = strdup(reason);
    W4A16_FAIL_IF(layer->info.reason == NULL, W4A16_ERR_NOMEM, "out of memory for a reason");
    return W4A16_OK;
}

static w4a16_status read_candidate(w4a16_checkpoint *ckpt, const w4a16_quant_config *config,
                                   const candidate *c, w4a16_ckpt_layer *layer) {
    layer->info.name = c->prefix;
    if (!c->quantized) {
        const w4a16_st_tensor *weight = w4a16_ckpt_find_tensor(ckpt, c->prefix, "weight");
        layer->info.n = weight->shape[0];
        layer->info.k = weight->shape[1];
        return set_reason(layer, W4A16_LAYER_UNQUANTIZED, "the config leaves it unquantized");
    }
    int ignored;
    const w4a16_quant_scheme *scheme = w4a16_quant_config_scheme_for(config, c->prefix, &ignored);
    if (scheme == NULL)
        return set_reason(layer, W4A16_LAYER_UNSUPPORTED,
                          ignored ? "stored quantized, but the config leaves it unquantized"
                                  : "stored quantized, but no config group targets it");
    char reason[W4A16_REASON_BYTES];
    W4A16_TRY(w4a16_ckpt_read_layer(ckpt, ckpt->format, scheme, c->prefix, &layer->info,
                                    &layer->source, reason, sizeof reason));
    return set_reason(layer, layer->info.status, reason);
}

/* Each tensor of a quantized layer points back at it. */
static void mark_tensors(w4a16_checkpoint *ckpt, int64_t index) {
    const w4a16_layer_tensor_names *names = w4a16_ckpt_layer_tensor_names(ckpt->format);
    const char *suffixes[] = {names->qweight, names->qzeros, names->scales, names->g_idx,
                              names->shape};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (suffixes[i] == NULL) continue;
        w4a16_ckpt_tensor *tensor =
            w4a16_ckpt_find_entry(ckpt, ckpt->layers[index].info.name, suffixes[i]);
        if (tensor != NULL) tensor->layer = (int32_t)index;
    }
}

/* At least one layer must be readable, else the checkpoint is of no use as
 * this format: say why the first one was refused. */
static w4a16_status check_readable(const w4a16_checkpoint *ckpt, const char *origin) {
    const w4a16_ckpt_layer *first_refused = NULL;
    for (int64_t i = 0; i < ckpt->layer_count; i++) {
        if (ckpt->layers[i].info.status == W4A16_LAYER_QUANTIZED) return W4A16_OK;
        if (first_refused == NULL && (ckpt->layers[i].info.status == W4A16_LAYER_UNSUPPORTED ||
                                      ckpt->layers[i].info.status == W4A16_LAYER_MALFORMED))
            first_refused = &ckpt->layers[i];
    }
    const char *format = w4a16_format_name(ckpt->format);
    if (first_refused == NULL)
        return w4a16_fail(W4A16_ERR_FORMAT, "%s: no %s layer (no tensor named '*.%s')", origin,
                          format, w4a16_ckpt_layer_tensor_names(ckpt->format)->qweight);
    return w4a16_fail(W4A16_ERR_FORMAT, "%s: no readable %s layer; first: %s: %s", origin, format,
                      first_refused->info.name, first_refused->info.reason);
}

w4a16_status w4a16_ckpt_find_layers(w4a16_checkpoint *ckpt, const w4a16_quant_config *config,
                                    const char *origin) {
    if (ckpt->format == W4A16_FORMAT_DENSE) return W4A16_OK;
    candidate_list list = {NULL, 0};
    w4a16_status status = find_candidates(ckpt, config, &list);
    if (status == W4A16_OK && list.count > 0) {
        qsort(list.items, (size_t)list.count, sizeof *list.items, compare_candidates);
        ckpt->layers = calloc((size_t)list.count, sizeof *ckpt->layers);
        if (ckpt->layers == NULL) status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory for layers");
    }
    /* Names move to the layers as they are read; the rest is freed below. */
    int64_t taken = 0;
    for (; status == W4A16_OK && taken < list.count; taken++) {
        ckpt->layer_count++;
        status = read_candidate(ckpt, config, &list.items[taken], &ckpt->layers[taken]);
        if (status == W4A16_OK && ckpt->layers[taken].info.status == W4A16_LAYER_QUANTIZED)
            mark_tensors(ckpt, taken);
    }
    for (int64_t i = taken; i < list.count; i++) free(list.items[i].prefix);
    free(list.items);
    return status == W4A16_OK ? check_readable(ckpt, origin) : status;
}

/* ---------------------------------------------------------------- public */

int64_t w4a16_checkpoint_layer_count(const w4a16_checkpoint *ckpt) {
    return ckpt == NULL ? 0 : ckpt->layer_count;
}

static w4a16_status check_index(const w4a16_checkpoint *ckpt, int64_t index, const void *out) {
    W4A16_FAIL_IF(ckpt == NULL, W4A16_ERR_ARG, "checkpoint is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out (the layer output) is NULL");
    W4A16_FAIL_IF(index < 0 || index >= ckpt->layer_count, W4A16_ERR_ARG,
                  "layer index=%lld is outside [0, %lld)", (long long)index,
                  (long long)ckpt->layer_count);
    return W4A16_OK;
}

w4a16_status w4a16_checkpoint_layer(const w4a16_checkpoint *ckpt, int64_t index,
                                    w4a16_layer_info *out) {
    W4A16_TRY(check_index(ckpt, index, out));
    *out = ckpt->layers[index].info;
    return W4A16_OK;
}

static int compare_name_to_layer(const void *name, const void *layer) {
    return strcmp((const char *)name, ((const w4a16_ckpt_layer *)layer)->info.name);
}

w4a16_status w4a16_checkpoint_find_layer(const w4a16_checkpoint *ckpt, const char *name,
                                         int64_t *index) {
    W4A16_FAIL_IF(ckpt == NULL, W4A16_ERR_ARG, "checkpoint is NULL");
    W4A16_FAIL_IF(name == NULL, W4A16_ERR_ARG, "name is NULL");
    W4A16_FAIL_IF(index == NULL, W4A16_ERR_ARG, "index is NULL");
    const w4a16_ckpt_layer *layer = ckpt->layer_count == 0
                                        ? NULL
                                        : bsearch(name, ckpt->layers, (size_t)ckpt->layer_count,
                                                  sizeof *ckpt->layers, compare_name_to_layer);
    W4A16_FAIL_IF(layer == NULL, W4A16_ERR_ARG, "no layer named '%s' in the checkpoint", name);
    *index = layer - ckpt->layers;
    return W4A16_OK;
}

w4a16_status w4a16_checkpoint_source(const w4a16_checkpoint *ckpt, int64_t index,
                                     w4a16_source *out) {
    W4A16_TRY(check_index(ckpt, index, out));
    const w4a16_layer_info *info = &ckpt->layers[index].info;
    W4A16_FAIL_IF(info->status == W4A16_LAYER_UNQUANTIZED, W4A16_ERR_ARG,
                  "layer '%s' is not quantized (%s)", info->name, info->reason);
    W4A16_FAIL_IF(info->status == W4A16_LAYER_UNSUPPORTED, W4A16_ERR_UNSUPPORTED,
                  "layer '%s' cannot be read: %s", info->name, info->reason);
    W4A16_FAIL_IF(info->status == W4A16_LAYER_MALFORMED, W4A16_ERR_FORMAT,
                  "layer '%s' is malformed: %s", info->name, info->reason);
    *out = ckpt->layers[index].source;
    return W4A16_OK;
}
