/* Where a checkpoint's weights are: a file named by the caller, or the one a
 * folder holds. Folders follow the names their writers use: transformers'
 * model.safetensors or model.safetensors.index.json, AutoGPTQ's
 * <model_file_base_name>.safetensors ("gptq_model-4bit-128g" and the like,
 * named in quantize_config.json), else the folder's only weights file. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "common/log.h"

enum {
    PATH_BYTES = W4A16_CKPT_PATH_BYTES,
    QUANTIZE_CONFIG_MAX_BYTES = 1 << 20, /* a few hundred bytes in practice */
    LISTED_NAMES = 8,                    /* names an error lists before "and N more" */
};

static const char SAFETENSORS[] = ".safetensors", INDEX[] = ".safetensors.index.json";

static int is_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static int ends_with(const char *text, const char *suffix) {
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

/* dir/name when it is a regular file. */
static int try_file(const char *dir, const char *name, const char *suffix,
                    char weights[PATH_BYTES]) {
    int length = snprintf(weights, PATH_BYTES, "%s/%s%s", dir, name, suffix);
    return length < PATH_BYTES && is_file(weights);
}

/* quantize_config.json's model_file_base_name, when it names a file in the
 * folder. An unreadable or malformed config names nothing here; the config
 * reader reports it when the format depends on it. */
static w4a16_status base_name(const char *dir, char *out, size_t size) {
    char path[PATH_BYTES];
    struct stat info;
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/quantize_config.json", dir);
    if (stat(path, &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_size > QUANTIZE_CONFIG_MAX_BYTES)
        return W4A16_OK;
    json_t *root = json_load_file(path, 0, NULL);
    const char *name = json_string_value(json_object_get(root, "model_file_base_name"));
    w4a16_status status = W4A16_OK;
    if (name != NULL) {
        int escapes = name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
                      strcmp(name, "..") == 0;
        if (escapes || strlen(name) >= size)
            status = w4a16_fail(W4A16_ERR_FORMAT,
                                "%s: model_file_base_name '%.200s' is not a file name in its "
                                "folder",
                                path, name);
        else
            snprintf(out, size, "%s", name);
    }
    json_decref(root);
    return status;
}

/* The folder's weight files ending in suffix (hidden files aside), sorted. */
typedef struct {
    char **names;
    int64_t count;
} name_set;

static void name_set_free(name_set *set) {
    for (int64_t i = 0; i < set->count; i++) free(set->names[i]);
    free(set->names);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static w4a16_status list_files(const char *dir, const char *suffix, name_set *out) {
    DIR *folder = opendir(dir);
    W4A16_FAIL_IF(folder == NULL, W4A16_ERR_IO, "cannot list folder '%s': %s", dir,
                  strerror(errno));
    w4a16_status status = W4A16_OK;
    struct dirent *entry;
    char path[PATH_BYTES];
    while (status == W4A16_OK && (entry = readdir(folder)) != NULL) {
        if (entry->d_name[0] == '.' || !ends_with(entry->d_name, suffix)) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, entry->d_name) >= PATH_BYTES ||
            !is_file(path))
            continue;
        char **grown = realloc(out->names, (size_t)(out->count + 1) * sizeof *grown);
        char *copy = grown != NULL ? strdup(entry->d_name) : NULL;
        if (grown != NULL) out->names = grown;
        if (copy == NULL)
            status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory listing '%s'", dir);
        else
            out->names[out->count++] = copy;
    }
    closedir(folder);
    if (status == W4A16_OK && out->count > 1)
        qsort(out->names, (size_t)out->count, sizeof *out->names, compare_names);
    return status;
}

/* "a, b, c and 4 more": the names an ambiguous folder holds. */
static void join_names(const name_set *set, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int64_t i = 0; i < set->count && i < LISTED_NAMES && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", set->names[i]);
    if (set->count > LISTED_NAMES && used < size)
        snprintf(out + used, size - used, " and %lld more", (long long)(set->count - LISTED_NAMES));
}

/* The folder's only index, else its only weights file; W4A16_ERR_ARG listing
 * them when there are several (or saying there are none). */
static w4a16_status only_file(const char *dir, char weights[PATH_BYTES], int *is_index) {
    name_set indexes = {NULL, 0}, files = {NULL, 0};
    w4a16_status status = list_files(dir, INDEX, &indexes);
    if (status == W4A16_OK && indexes.count == 0) status = list_files(dir, SAFETENSORS, &files);
    const name_set *found = indexes.count > 0 ? &indexes : &files;
    if (status == W4A16_OK && found->count == 1) {
        snprintf(weights, PATH_BYTES, "%s/%s", dir, found->names[0]);
        *is_index = found == &indexes;
    } else if (status == W4A16_OK && found->count == 0) {
        status = w4a16_fail(W4A16_ERR_ARG,
                            "folder '%s' holds no .safetensors file (looked for "
                            "model.safetensors, model.safetensors.index.json, any other)",
                            dir);
    } else if (status == W4A16_OK) {
        char names[640];
        join_names(found, names, sizeof names);
        status = w4a16_fail(W4A16_ERR_ARG,
                            "folder '%s' holds %lld %s files and no model.safetensors or "
                            "model.safetensors.index.json: %s; open one of them by its path",
                            dir, (long long)found->count, found == &indexes ? INDEX : SAFETENSORS,
                            names);
    }
    name_set_free(&indexes);
    name_set_free(&files);
    return status;
}

static w4a16_status locate_in_folder(const char *dir, char weights[PATH_BYTES], int *is_index) {
    *is_index = 0;
    if (try_file(dir, "model", SAFETENSORS, weights)) return W4A16_OK;
    *is_index = 1;
    if (try_file(dir, "model", INDEX, weights)) return W4A16_OK;
    char base[256];
    W4A16_TRY(base_name(dir, base, sizeof base));
    *is_index = 0;
    if (base[0] != '\0' && try_file(dir, base, SAFETENSORS, weights)) return W4A16_OK;
    *is_index = 1;
    if (base[0] != '\0' && try_file(dir, base, INDEX, weights)) return W4A16_OK;
    return only_file(dir, weights, is_index);
}

w4a16_status w4a16_ckpt_locate(const char *path, char weights[W4A16_CKPT_PATH_BYTES],
                               char dir[W4A16_CKPT_PATH_BYTES], int *is_index) {
    struct stat info;
    W4A16_FAIL_IF(stat(path, &info) != 0, W4A16_ERR_IO, "cannot open '%s': %s", path,
                  strerror(errno));
    W4A16_FAIL_IF(strlen(path) >= PATH_BYTES - 512, W4A16_ERR_ARG, "path '%.200s...' is too long",
                  path);
    if (S_ISDIR(info.st_mode)) {
        snprintf(dir, PATH_BYTES, "%s", path);
        W4A16_TRY(locate_in_folder(dir, weights, is_index));
        w4a16_log("folder '%s': reading %s", dir, weights);
        return W4A16_OK;
    }
    snprintf(weights, PATH_BYTES, "%s", path);
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, PATH_BYTES, ".");
    else
        snprintf(dir, PATH_BYTES, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    *is_index = ends_with(path, ".json");
    return W4A16_OK;
}
