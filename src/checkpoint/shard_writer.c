/* The sharded checkpoint writer (see shard_writer.h). */
#include "checkpoint/shard_writer.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/error.h"

static const char SINGLE_FILE[] = "model.safetensors";
#define INDEX_FILE "model.safetensors.index.json"

typedef struct {
    char *name;                      /* "model-00001-of-00004.safetensors" */
    w4a16_st_write_tensor *tensors;  /* copies of the caller's entries */
    int64_t count;
    w4a16_st_stream stream;
} shard;

typedef struct {
    const char *name;
    int64_t index;
} name_entry;

struct w4a16_shard_writer {
    char *dir;
    int64_t count;
    int64_t *shard_of, *index_in_shard; /* per tensor of the caller's array */
    uint64_t total_bytes;
    shard *shards;
    int64_t shard_count;
    name_entry *by_name; /* sorted by name, for find */
    int committed;
};

static int compare_entries(const void *a, const void *b) {
    return strcmp(((const name_entry *)a)->name, ((const name_entry *)b)->name);
}

static char *join(const char *dir, const char *name) {
    size_t bytes = strlen(dir) + strlen(name) + 2;
    char *path = malloc(bytes);
    if (path != NULL) snprintf(path, bytes, "%s/%s", dir, name);
    return path;
}

/* Which shard each tensor goes to, filling greedily in the given order. */
static w4a16_status assign_shards(w4a16_shard_writer *w, const w4a16_st_write_tensor *tensors,
                                  uint64_t max_bytes) {
    uint64_t in_shard = 0;
    for (int64_t i = 0; i < w->count; i++) {
        uint64_t bytes = 0;
        w4a16_status status = w4a16_st_tensor_bytes(tensors[i].dtype, tensors[i].ndim,
                                                    tensors[i].shape, &bytes);
        if (status != W4A16_OK)
            return w4a16_fail_context(W4A16_ERR_ARG, "tensors[%" PRId64 "] '%.200s'", i,
                                      tensors[i].name ? tensors[i].name : "(null)");
        int starts_shard = i == 0 || (max_bytes > 0 && in_shard + bytes > max_bytes && in_shard > 0);
        if (starts_shard) {
            w->shard_count++;
            in_shard = 0;
        }
        w->shard_of[i] = w->shard_count - 1;
        in_shard += bytes;
        w->total_bytes += bytes;
    }
    if (w->shard_count == 0) w->shard_count = 1; /* an empty checkpoint is one empty file */
    return W4A16_OK;
}

static w4a16_status name_shard(shard *s, int64_t index, int64_t count) {
    char name[64];
    if (count == 1) snprintf(name, sizeof name, "%s", SINGLE_FILE);
    else snprintf(name, sizeof name, "model-%05" PRId64 "-of-%05" PRId64 ".safetensors",
                  index + 1, count);
    s->name = strdup(name);
    W4A16_FAIL_IF(s->name == NULL, W4A16_ERR_NOMEM, "out of memory");
    return W4A16_OK;
}

/* Gives each shard its tensors and creates its file. */
static w4a16_status open_shards(w4a16_shard_writer *w, const w4a16_st_write_tensor *tensors) {
    w->shards = calloc((size_t)w->shard_count, sizeof *w->shards);
    W4A16_FAIL_IF(w->shards == NULL, W4A16_ERR_NOMEM, "out of memory for %" PRId64 " shards",
                  w->shard_count);
    for (int64_t s = 0; s < w->shard_count; s++) w->shards[s].stream.fd = -1;
    for (int64_t i = 0; i < w->count; i++) w->shards[w->shard_of[i]].count++;
    for (int64_t s = 0; s < w->shard_count; s++) {
        w->shards[s].tensors = calloc((size_t)w->shards[s].count + 1, sizeof *tensors);
        W4A16_FAIL_IF(w->shards[s].tensors == NULL, W4A16_ERR_NOMEM, "out of memory");
        w->shards[s].count = 0;
    }
    for (int64_t i = 0; i < w->count; i++) {
        shard *s = &w->shards[w->shard_of[i]];
        w->index_in_shard[i] = s->count;
        s->tensors[s->count++] = tensors[i];
    }
    char format_key[] = "format", format_value[] = "pt";
    const w4a16_st_metadata metadata = {format_key, format_value}; /* Hugging Face loaders expect it */
    for (int64_t s = 0; s < w->shard_count; s++) {
        W4A16_TRY(name_shard(&w->shards[s], s, w->shard_count));
        char *path = join(w->dir, w->shards[s].name);
        W4A16_FAIL_IF(path == NULL, W4A16_ERR_NOMEM, "out of memory");
        w4a16_status status = w4a16_st_stream_create(path, w->shards[s].tensors, w->shards[s].count,
                                                     &metadata, 1, &w->shards[s].stream);
        free(path);
        W4A16_TRY(status);
    }
    return W4A16_OK;
}

w4a16_status w4a16_shard_writer_create(const char *dir, const w4a16_st_write_tensor *tensors,
                                       int64_t count, uint64_t max_shard_bytes,
                                       w4a16_shard_writer **out) {
    W4A16_FAIL_IF(dir == NULL || out == NULL, W4A16_ERR_ARG, "dir or out is NULL");
    W4A16_FAIL_IF(count < 0 || (count > 0 && tensors == NULL), W4A16_ERR_ARG,
                  "tensors is NULL or count=%" PRId64 " is negative", count);
    w4a16_shard_writer *w = calloc(1, sizeof *w);
    W4A16_FAIL_IF(w == NULL, W4A16_ERR_NOMEM, "out of memory");
    w->count = count;
    w->dir = strdup(dir);
    w->shard_of = calloc((size_t)count + 1, sizeof *w->shard_of);
    w->index_in_shard = calloc((size_t)count + 1, sizeof *w->index_in_shard);
    w->by_name = calloc((size_t)count + 1, sizeof *w->by_name);
    w4a16_status status = W4A16_OK;
    if (!w->dir || !w->shard_of || !w->index_in_shard || !w->by_name)
        status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory for %" PRId64 " tensors", count);
    if (status == W4A16_OK) status = assign_shards(w, tensors, max_shard_bytes);
    if (status == W4A16_OK) status = open_shards(w, tensors);
    for (int64_t i = 0; status == W4A16_OK && i < count; i++)
        w->by_name[i] = (name_entry){tensors[i].name, i};
    if (status == W4A16_OK && count > 0)
        qsort(w->by_name, (size_t)count, sizeof *w->by_name, compare_entries);
    if (status != W4A16_OK) {
        w4a16_shard_writer_free(w);
        return status;
    }
    *out = w;
    return W4A16_OK;
}

int64_t w4a16_shard_writer_find(const w4a16_shard_writer *w, const char *name) {
    if (w == NULL || name == NULL || w->count == 0) return -1;
    name_entry key = {name, 0};
    const name_entry *found =
        bsearch(&key, w->by_name, (size_t)w->count, sizeof *w->by_name, compare_entries);
    return found ? found->index : -1;
}

w4a16_status w4a16_shard_writer_put(w4a16_shard_writer *w, int64_t index, uint64_t offset,
                                    const void *data, uint64_t bytes) {
    W4A16_FAIL_IF(w == NULL, W4A16_ERR_ARG, "writer is NULL");
    W4A16_FAIL_IF(index < 0 || index >= w->count, W4A16_ERR_ARG,
                  "tensor index=%" PRId64 " is outside [0, %" PRId64 ")", index, w->count);
    return w4a16_st_stream_put(&w->shards[w->shard_of[index]].stream, w->index_in_shard[index],
                               offset, data, bytes);
}

/* The index, through a .tmp file and a rename like the shards. */
static w4a16_status write_index(const w4a16_shard_writer *w) {
    json_t *root = json_object(), *metadata = json_object(), *map = json_object();
    int failed = !root || !metadata || !map;
    failed = failed || json_object_set_new(metadata, "total_size",
                                           json_integer((json_int_t)w->total_bytes)) != 0;
    for (int64_t i = 0; i < w->count && !failed; i++)
        failed = json_object_set_new(map, w->by_name[i].name,
                                     json_string(w->shards[w->shard_of[w->by_name[i].index]].name)) != 0;
    failed = failed || json_object_set(root, "metadata", metadata) != 0;
    failed = failed || json_object_set(root, "weight_map", map) != 0;
    json_decref(metadata);
    json_decref(map);
    char *path = join(w->dir, INDEX_FILE), *tmp = path ? join(w->dir, INDEX_FILE ".tmp") : NULL;
    w4a16_status status = W4A16_OK;
    if (failed || tmp == NULL) status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory for the index");
    else if (json_dump_file(root, tmp, JSON_INDENT(2)) != 0)
        status = w4a16_fail(W4A16_ERR_IO, "cannot write %s", tmp);
    else if (rename(tmp, path) != 0)
        status = w4a16_fail(W4A16_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (status != W4A16_OK && tmp != NULL) unlink(tmp);
    free(path);
    free(tmp);
    json_decref(root);
    return status;
}

w4a16_status w4a16_shard_writer_commit(w4a16_shard_writer *w) {
    W4A16_FAIL_IF(w == NULL || w->committed, W4A16_ERR_ARG, "writer is NULL or already committed");
    for (int64_t s = 0; s < w->shard_count; s++) W4A16_TRY(w4a16_st_stream_finish(&w->shards[s].stream));
    for (int64_t s = 0; s < w->shard_count; s++) W4A16_TRY(w4a16_st_stream_commit(&w->shards[s].stream));
    w->committed = 1;
    return w->shard_count > 1 ? write_index(w) : W4A16_OK;
}

int64_t w4a16_shard_writer_file_count(const w4a16_shard_writer *w) {
    return w == NULL ? 0 : w->shard_count + (w->shard_count > 1);
}

const char *w4a16_shard_writer_file_name(const w4a16_shard_writer *w, int64_t index) {
    if (w == NULL || index < 0 || index >= w4a16_shard_writer_file_count(w)) return NULL;
    return index < w->shard_count ? w->shards[index].name : INDEX_FILE;
}

void w4a16_shard_writer_free(w4a16_shard_writer *w) {
    if (w == NULL) return;
    for (int64_t s = 0; w->shards != NULL && s < w->shard_count; s++) {
        w4a16_st_stream_discard(&w->shards[s].stream);
        free(w->shards[s].tensors);
        free(w->shards[s].name);
    }
    free(w->shards);
    free(w->by_name);
    free(w->shard_of);
    free(w->index_in_shard);
    free(w->dir);
    free(w);
}

w4a16_status w4a16_parse_shard_size(const char *text, uint64_t *out) {
    W4A16_FAIL_IF(text == NULL || out == NULL, W4A16_ERR_ARG, "text or out is NULL");
    static const struct {
        const char *suffix;
        uint64_t unit;
    } units[] = {{"GiB", UINT64_C(1) << 30}, {"MiB", UINT64_C(1) << 20}, {"KiB", UINT64_C(1) << 10},
                 {"GB", 1000000000}, {"MB", 1000000}, {"KB", 1000}, {"B", 1}, {"", 1}};
    char *end = NULL;
    errno = 0;
    unsigned long long value = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    for (size_t u = 0; end != NULL && errno == 0 && u < sizeof units / sizeof *units; u++) {
        if (strcasecmp(end, units[u].suffix) != 0) continue;
        W4A16_FAIL_IF(value == 0 || value > UINT64_MAX / units[u].unit, W4A16_ERR_ARG,
                      "shard size '%.100s' is 0 or too large", text);
        *out = value * units[u].unit;
        return W4A16_OK;
    }
    return w4a16_fail(W4A16_ERR_ARG,
                      "shard size '%.100s' is not a byte count or a size like 5GB, 500MB, 2GiB",
                      text);
}
