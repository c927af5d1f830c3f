/* Opening a checkpoint: a .safetensors file, a model.safetensors.index.json,
 * or a folder holding its weights (locate.c), with the config beside them
 * deciding the format (docs/DESIGN.md §2). Also closing it and listing its
 * tensors. */
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "common/log.h"

static int same_family(w4a16_format a, w4a16_format b) {
    int a_gptq = a == W4A16_FORMAT_GPTQ || a == W4A16_FORMAT_GPTQ_V2;
    int b_gptq = b == W4A16_FORMAT_GPTQ || b == W4A16_FORMAT_GPTQ_V2;
    return a == b || (a_gptq && b_gptq);
}

/* The config to read the layers with. A format the caller names wins: the
 * config's parameters are kept when it describes the same family (GPTQ v1
 * and v2 differ only in how zeros are stored), else every parameter is
 * taken from the tensors. */
static w4a16_status decide_config(const char *path, const char *dir, w4a16_format format,
                                  w4a16_quant_config *out) {
    int found;
    W4A16_TRY(w4a16_quant_config_load(dir, out, &found));
    if (format == W4A16_FORMAT_AUTO) {
        W4A16_FAIL_IF(!found, W4A16_ERR_ARG,
                      "'%s' has no config.json: name its format (awq, gptq, gptq_v2, ct or dense)",
                      path);
        if (out->format == W4A16_FORMAT_AUTO) {
            w4a16_fail(W4A16_ERR_UNSUPPORTED,
                       "%s: quant_method '%s' is not supported (awq, gptq, compressed-tensors)",
                       path, out->unknown_method);
            w4a16_quant_config_free(out);
            return W4A16_ERR_UNSUPPORTED;
        }
        return W4A16_OK;
    }
    if (same_family(format, out->format)) {
        out->format = format;
        return W4A16_OK;
    }
    w4a16_quant_config_free(out);
    w4a16_quant_config_default(format, out);
    return W4A16_OK;
}

w4a16_status w4a16_checkpoint_open(const char *path, w4a16_format format, w4a16_checkpoint **out) {
    W4A16_FAIL_IF(path == NULL, W4A16_ERR_ARG, "path is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out (the checkpoint output) is NULL");
    W4A16_FAIL_IF((int)format < W4A16_FORMAT_AUTO || (int)format > W4A16_FORMAT_CT, W4A16_ERR_ARG,
                  "format=%d is not a w4a16_format", (int)format);
    char weights[W4A16_CKPT_PATH_BYTES], dir[W4A16_CKPT_PATH_BYTES];
    int is_index;
    W4A16_TRY(w4a16_ckpt_locate(path, weights, dir, &is_index));
    w4a16_quant_config config;
    W4A16_TRY(decide_config(path, dir, format, &config));

    w4a16_checkpoint *ckpt = calloc(1, sizeof *ckpt);
    w4a16_status status = W4A16_OK;
    if (ckpt == NULL) status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory opening '%s'", path);
    if (status == W4A16_OK) {
        ckpt->format = config.format;
        status = w4a16_ckpt_open_files(ckpt, weights, is_index);
    }
    if (status == W4A16_OK) status = w4a16_ckpt_find_layers(ckpt, &config, path);
    w4a16_quant_config_free(&config);
    if (status != W4A16_OK) {
        w4a16_checkpoint_close(ckpt);
        return status;
    }
    if (w4a16_log_enabled()) {
        int64_t quantized = 0;
        for (int64_t i = 0; i < ckpt->layer_count; i++)
            quantized += ckpt->layers[i].info.status == W4A16_LAYER_QUANTIZED;
        w4a16_log("%s: format %s, %lld layers (%lld quantized), %lld tensors", path,
                  w4a16_format_name(ckpt->format), (long long)ckpt->layer_count,
                  (long long)quantized, (long long)ckpt->tensor_count);
    }
    *out = ckpt;
    return W4A16_OK;
}

void w4a16_checkpoint_close(w4a16_checkpoint *ckpt) {
    if (ckpt == NULL) return;
    for (int64_t i = 0; i < ckpt->layer_count; i++) {
        free((char *)ckpt->layers[i].info.name);
        free((char *)ckpt->layers[i].info.reason);
    }
    free(ckpt->layers);
    for (int64_t i = 0; i < ckpt->copy_count; i++) free(ckpt->copies[i]);
    free(ckpt->copies);
    free(ckpt->tensors);
    for (int64_t f = 0; f < ckpt->file_count; f++) w4a16_st_close(&ckpt->files[f]);
    free(ckpt->files);
    free(ckpt);
}

w4a16_format w4a16_checkpoint_format(const w4a16_checkpoint *ckpt) {
    return ckpt == NULL ? W4A16_FORMAT_AUTO : ckpt->format;
}

int64_t w4a16_checkpoint_tensor_count(const w4a16_checkpoint *ckpt) {
    return ckpt == NULL ? 0 : ckpt->tensor_count;
}

w4a16_status w4a16_checkpoint_tensor(const w4a16_checkpoint *ckpt, int64_t index,
                                     w4a16_tensor_info *out) {
    W4A16_FAIL_IF(ckpt == NULL, W4A16_ERR_ARG, "checkpoint is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out (the tensor output) is NULL");
    W4A16_FAIL_IF(index < 0 || index >= ckpt->tensor_count, W4A16_ERR_ARG,
                  "tensor index=%lld is outside [0, %lld)", (long long)index,
                  (long long)ckpt->tensor_count);
    const w4a16_ckpt_tensor *tensor = &ckpt->tensors[index];
    memset(out, 0, sizeof *out);
    out->name = tensor->st->name;
    out->dtype = tensor->st->dtype;
    out->ndim = tensor->st->ndim;
    memcpy(out->shape, tensor->st->shape, sizeof out->shape);
    out->data = tensor->st->data;
    out->nbytes = tensor->st->end - tensor->st->begin;
    out->layer = tensor->layer;
    return W4A16_OK;
}

void w4a16_ckpt_release(const w4a16_checkpoint *ckpt, const void *data, uint64_t bytes) {
    for (int64_t f = 0; ckpt != NULL && f < ckpt->file_count; f++)
        w4a16_st_release(&ckpt->files[f], data, bytes);
}

void w4a16_ckpt_prefetch(const w4a16_checkpoint *ckpt, const void *data, uint64_t bytes) {
    for (int64_t f = 0; ckpt != NULL && f < ckpt->file_count; f++)
        w4a16_st_prefetch(&ckpt->files[f], data, bytes);
}
