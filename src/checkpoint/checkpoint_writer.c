/* The tensor list and the checkpoint folder writer. */
#include "checkpoint_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/shard_writer.h"
#include "common/error.h"

/* Doubles the capacity; the list stays valid (and unchanged) on failure. */
static w4a16_status grow(w4a16_tensor_list *list) {
    int64_t capacity = list->capacity ? 2 * list->capacity : 16;
    w4a16_st_write_tensor *tensors = realloc(list->tensors, (size_t)capacity * sizeof *tensors);
    if (tensors != NULL) list->tensors = tensors;
    void **owned = tensors ? realloc(list->owned, (size_t)capacity * sizeof *owned) : NULL;
    if (owned != NULL) list->owned = owned;
    W4A16_FAIL_IF(owned == NULL, W4A16_ERR_NOMEM, "cannot grow the tensor list to %lld tensors",
                  (long long)capacity);
    list->capacity = capacity;
    return W4A16_OK;
}

static w4a16_status append(w4a16_tensor_list *list, const char *name, w4a16_dtype dtype,
                           int32_t ndim, const int64_t *shape, const void *data, void *owned) {
    W4A16_FAIL_IF(list == NULL || name == NULL, W4A16_ERR_ARG, "tensor list or name is NULL");
    W4A16_FAIL_IF(ndim < 0 || ndim > W4A16_ST_MAX_DIMS || (ndim > 0 && shape == NULL),
                  W4A16_ERR_ARG, "tensor '%.200s': ndim=%d needs 0..%d dims", name, (int)ndim,
                  W4A16_ST_MAX_DIMS);
    if (list->count == list->capacity) W4A16_TRY(grow(list));
    char *name_copy = strdup(name);
    W4A16_FAIL_IF(name_copy == NULL, W4A16_ERR_NOMEM, "cannot copy tensor name '%.200s'", name);
    w4a16_st_write_tensor *t = &list->tensors[list->count];
    memset(t, 0, sizeof *t);
    t->name = name_copy;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int32_t d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = data;
    list->owned[list->count] = owned;
    list->count++;
    return W4A16_OK;
}

w4a16_status w4a16_tensor_list_add(w4a16_tensor_list *list, const char *name, w4a16_dtype dtype,
                                   int32_t ndim, const int64_t *shape, const void *data) {
    return append(list, name, dtype, ndim, shape, data, NULL);
}

w4a16_status w4a16_tensor_list_add_owned(w4a16_tensor_list *list, const char *name,
                                         w4a16_dtype dtype, int32_t ndim, const int64_t *shape,
                                         void *data) {
    w4a16_status status = append(list, name, dtype, ndim, shape, data, data);
    if (status != W4A16_OK) free(data);
    return status;
}

const w4a16_st_write_tensor *w4a16_tensor_list_find(const w4a16_tensor_list *list,
                                                    const char *name) {
    for (int64_t i = 0; i < list->count; i++)
        if (strcmp(list->tensors[i].name, name) == 0) return &list->tensors[i];
    return NULL;
}

void w4a16_tensor_list_truncate(w4a16_tensor_list *list, int64_t count) {
    while (list->count > count) {
        list->count--;
        free((char *)list->tensors[list->count].name);
        free(list->owned[list->count]);
    }
}

void w4a16_tensor_list_free(w4a16_tensor_list *list) {
    if (list == NULL) return;
    w4a16_tensor_list_truncate(list, 0);
    free(list->tensors);
    free(list->owned);
    memset(list, 0, sizeof *list);
}

w4a16_status w4a16_checkpoint_write_config(const char *dir, const json_t *config) {
    W4A16_FAIL_IF(dir == NULL, W4A16_ERR_ARG, "dir is NULL");
    W4A16_FAIL_IF(!json_is_object(config), W4A16_ERR_ARG, "config is not a JSON object");
    char path[4096], tmp[4096 + 8];
    W4A16_FAIL_IF(snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path,
                  W4A16_ERR_ARG, "folder name '%.200s' is too long", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(config, tmp, JSON_INDENT(2)) != 0) {
        remove(tmp);
        return w4a16_fail(W4A16_ERR_IO, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return w4a16_fail(W4A16_ERR_IO, "cannot rename %s to %s", tmp, path);
    }
    return W4A16_OK;
}

w4a16_status w4a16_checkpoint_write(const char *dir, const w4a16_tensor_list *tensors,
                                    const json_t *config) {
    W4A16_FAIL_IF(dir == NULL || tensors == NULL, W4A16_ERR_ARG, "dir or tensors is NULL");
    W4A16_FAIL_IF(!json_is_object(config), W4A16_ERR_ARG, "config is not a JSON object");
    for (int64_t i = 0; i < tensors->count; i++)
        W4A16_FAIL_IF(tensors->tensors[i].data == NULL, W4A16_ERR_ARG,
                      "tensor '%.200s' has no data", tensors->tensors[i].name);
    w4a16_shard_writer *writer = NULL;
    W4A16_TRY(w4a16_shard_writer_create(dir, tensors->tensors, tensors->count, 0, &writer));
    w4a16_status status = W4A16_OK;
    for (int64_t i = 0; i < tensors->count && status == W4A16_OK; i++) {
        const w4a16_st_write_tensor *t = &tensors->tensors[i];
        uint64_t bytes = 0;
        w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &bytes); /* checked by create */
        status = w4a16_shard_writer_put(writer, i, 0, t->data, bytes);
    }
    if (status == W4A16_OK) status = w4a16_shard_writer_commit(writer);
    w4a16_shard_writer_free(writer);
    return status == W4A16_OK ? w4a16_checkpoint_write_config(dir, config) : status;
}
