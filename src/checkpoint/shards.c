/* The files of a checkpoint: one .safetensors file, or the shards a
 * model.safetensors.index.json names ("weight_map": tensor name -> file),
 * each opened with the strict reader, and one name-ordered list of the
 * tensors across them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "common/log.h"

static w4a16_status add_file(w4a16_checkpoint *ckpt, const char *path) {
    w4a16_st_file *grown = realloc(ckpt->files, (size_t)(ckpt->file_count + 1) * sizeof *grown);
    W4A16_FAIL_IF(grown == NULL, W4A16_ERR_NOMEM, "out of memory opening '%s'", path);
    ckpt->files = grown;
    W4A16_TRY(w4a16_st_open(path, &ckpt->files[ckpt->file_count]));
    ckpt->file_count++;
    return W4A16_OK;
}

static int compare_tensors(const void *a, const void *b) {
    return strcmp(((const w4a16_ckpt_tensor *)a)->st->name,
                  ((const w4a16_ckpt_tensor *)b)->st->name);
}

/* Every tensor of every file, sorted by name; a name in two files is an error. */
static w4a16_status list_tensors(w4a16_checkpoint *ckpt) {
    int64_t total = 0;
    for (int64_t f = 0; f < ckpt->file_count; f++) total += ckpt->files[f].tensor_count;
    ckpt->tensors = calloc(total ? (size_t)total : 1, sizeof *ckpt->tensors);
    W4A16_FAIL_IF(ckpt->tensors == NULL, W4A16_ERR_NOMEM, "out of memory listing %lld tensors",
                  (long long)total);
    for (int64_t f = 0; f < ckpt->file_count; f++)
        for (int64_t t = 0; t < ckpt->files[f].tensor_count; t++) {
            w4a16_ckpt_tensor *slot = &ckpt->tensors[ckpt->tensor_count++];
            slot->st = &ckpt->files[f].tensors[t];
            slot->file = (int32_t)f;
            slot->layer = -1;
        }
    qsort(ckpt->tensors, (size_t)total, sizeof *ckpt->tensors, compare_tensors);
    for (int64_t t = 1; t < total; t++) {
        const w4a16_ckpt_tensor *a = &ckpt->tensors[t - 1], *b = &ckpt->tensors[t];
        W4A16_FAIL_IF(strcmp(a->st->name, b->st->name) == 0, W4A16_ERR_FORMAT,
                      "tensor '%s' is in two shards: '%s' and '%s'", a->st->name,
                      ckpt->files[a->file].path, ckpt->files[b->file].path);
    }
    return W4A16_OK;
}

/* Shard names are plain paths below the index's folder. */
static w4a16_status check_shard_name(const char *index_path, const char *tensor, const char *file) {
    int escapes = file[0] == '/' || strcmp(file, "..") == 0 || strncmp(file, "../", 3) == 0 ||
                  strstr(file, "/../") != NULL;
    size_t length = strlen(file);
    escapes = escapes || (length >= 3 && strcmp(file + length - 3, "/..") == 0);
    W4A16_FAIL_IF(file[0] == '\0' || escapes, W4A16_ERR_FORMAT,
                  "%s: weight_map puts '%s' in '%s', which is not a file below the index's folder",
                  index_path, tensor, file);
    return W4A16_OK;
}

/* The shard each weight_map entry names, opening each file once. */
static w4a16_status open_shards(w4a16_checkpoint *ckpt, const char *index_path,
                                const json_t *weight_map, const char ***shard_names) {
    const char *slash = strrchr(index_path, '/');
    int dir_length = slash == NULL ? 1 : (int)(slash - index_path);
    const char *dir = slash == NULL ? "." : index_path;
    const char *tensor;
    const json_t *file;
    json_object_foreach((json_t *)weight_map, tensor, file) {
        W4A16_FAIL_IF(!json_is_string(file), W4A16_ERR_FORMAT,
                      "%s: weight_map value of '%s' is not a file name", index_path, tensor);
        const char *name = json_string_value(file);
        W4A16_TRY(check_shard_name(index_path, tensor, name));
        int64_t f = 0;
        while (f < ckpt->file_count && strcmp((*shard_names)[f], name) != 0) f++;
        if (f < ckpt->file_count) continue;
        const char **grown = realloc(*shard_names, (size_t)(f + 1) * sizeof *grown);
        W4A16_FAIL_IF(grown == NULL, W4A16_ERR_NOMEM, "out of memory listing shards");
        *shard_names = grown;
        grown[f] = name;
        char path[4096];
        int written = snprintf(path, sizeof path, "%.*s/%s", dir_length, dir, name);
        W4A16_FAIL_IF(written < 0 || (size_t)written >= sizeof path, W4A16_ERR_ARG,
                      "shard path of '%s' is too long", name);
        W4A16_TRY(add_file(ckpt, path));
    }
    return W4A16_OK;
}

/* Every weight_map entry must name a tensor its shard holds. */
static w4a16_status check_weight_map(const w4a16_checkpoint *ckpt, const char *index_path,
                                     const json_t *weight_map, const char **shard_names) {
    const char *tensor;
    const json_t *file;
    json_object_foreach((json_t *)weight_map, tensor, file) {
        const char *name = json_string_value(file);
        int64_t f = 0;
        while (strcmp(shard_names[f], name) != 0) f++;
        W4A16_FAIL_IF(w4a16_st_find(&ckpt->files[f], tensor) == NULL, W4A16_ERR_FORMAT,
                      "%s: weight_map puts tensor '%s' in '%s', which does not hold it", index_path,
                      tensor, name);
    }
    return W4A16_OK;
}

static w4a16_status open_index(w4a16_checkpoint *ckpt, const char *index_path) {
    json_error_t error;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &error);
    W4A16_FAIL_IF(root == NULL, W4A16_ERR_FORMAT, "%s: invalid JSON at line %d: %s", index_path,
                  error.line, error.text);
    const json_t *weight_map = json_object_get(root, "weight_map");
    const char **shard_names = NULL;
    w4a16_status status = W4A16_OK;
    if (!json_is_object(weight_map) || json_object_size(weight_map) == 0)
        status = w4a16_fail(W4A16_ERR_FORMAT, "%s: no 'weight_map' object naming the shards",
                            index_path);
    if (status == W4A16_OK) status = open_shards(ckpt, index_path, weight_map, &shard_names);
    if (status == W4A16_OK) status = check_weight_map(ckpt, index_path, weight_map, shard_names);
    free(shard_names);
    json_decref(root);
    return status;
}

w4a16_status w4a16_ckpt_open_files(w4a16_checkpoint *ckpt, const char *path, int is_index) {
    W4A16_TRY(is_index ? open_index(ckpt, path) : add_file(ckpt, path));
    W4A16_TRY(list_tensors(ckpt));
    w4a16_log("%s: %lld tensors in %lld file(s)", path, (long long)ckpt->tensor_count,
              (long long)ckpt->file_count);
    return W4A16_OK;
}

static int compare_name_to_tensor(const void *name, const void *tensor) {
    return strcmp((const char *)name, ((const w4a16_ckpt_tensor *)tensor)->st->name);
}

w4a16_ckpt_tensor *w4a16_ckpt_find_entry(const w4a16_checkpoint *ckpt, const char *prefix,
                                         const char *suffix) {
    char name[4096];
    int written = snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    if (written < 0 || (size_t)written >= sizeof name || ckpt->tensor_count == 0) return NULL;
    return bsearch(name, ckpt->tensors, (size_t)ckpt->tensor_count, sizeof *ckpt->tensors,
                   compare_name_to_tensor);
}

const w4a16_st_tensor *w4a16_ckpt_find_tensor(const w4a16_checkpoint *ckpt, const char *prefix,
                                              const char *suffix) {
    const w4a16_ckpt_tensor *entry = w4a16_ckpt_find_entry(ckpt, prefix, suffix);
    return entry == NULL ? NULL : entry->st;
}
