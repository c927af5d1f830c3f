/* The safetensors writer: tensors sorted by name, data in the same order, the
 * header padded with spaces so the data starts 8-byte aligned, written to
 * path.tmp and renamed so that a reader never sees half a file. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/safetensors.h"
#include "common/error.h"

/* A tensor to write, with its place in the data. */
typedef struct {
    const w4a16_st_write_tensor *tensor;
    int64_t index; /* in the caller's array, for messages */
    uint64_t bytes;
} planned_tensor;

static int compare_planned(const void *a, const void *b) {
    return strcmp(((const planned_tensor *)a)->tensor->name,
                  ((const planned_tensor *)b)->tensor->name);
}

static int compare_metadata(const void *a, const void *b) {
    return strcmp(((const w4a16_st_metadata *)a)->key, ((const w4a16_st_metadata *)b)->key);
}

/* Checks every tensor and sorts them by name into plan. */
static w4a16_status plan_tensors(const w4a16_st_write_tensor *tensors, int64_t count,
                                 planned_tensor *plan) {
    for (int64_t i = 0; i < count; i++) {
        const w4a16_st_write_tensor *t = &tensors[i];
        W4A16_FAIL_IF(t->name == NULL, W4A16_ERR_ARG, "tensors[%" PRId64 "].name is NULL", i);
        W4A16_FAIL_IF(strcmp(t->name, "__metadata__") == 0, W4A16_ERR_ARG,
                      "tensors[%" PRId64 "].name is \"__metadata__\", a reserved key", i);
        plan[i] = (planned_tensor){.tensor = t, .index = i};
        w4a16_status status = w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &plan[i].bytes);
        if (status != W4A16_OK)
            return w4a16_fail_context(W4A16_ERR_ARG, "tensors[%" PRId64 "] '%.200s'", i, t->name);
        W4A16_FAIL_IF(t->data == NULL && plan[i].bytes > 0, W4A16_ERR_ARG,
                      "tensors[%" PRId64 "] '%.200s': data is NULL for %" PRIu64 " bytes", i,
                      t->name, plan[i].bytes);
    }
    if (count > 0) qsort(plan, (size_t)count, sizeof *plan, compare_planned);
    for (int64_t i = 1; i < count; i++)
        W4A16_FAIL_IF(strcmp(plan[i - 1].tensor->name, plan[i].tensor->name) == 0, W4A16_ERR_ARG,
                      "tensors[%" PRId64 "] and tensors[%" PRId64 "] are both named '%.200s'",
                      plan[i - 1].index, plan[i].index, plan[i].tensor->name);
    return W4A16_OK;
}

/* Checks the metadata and sorts a copy of it by key into sorted. */
static w4a16_status plan_metadata(const w4a16_st_metadata *metadata, int64_t count,
                                  w4a16_st_metadata *sorted) {
    for (int64_t i = 0; i < count; i++) {
        W4A16_FAIL_IF(metadata[i].key == NULL || metadata[i].value == NULL, W4A16_ERR_ARG,
                      "metadata[%" PRId64 "] has a NULL key or value", i);
        sorted[i] = metadata[i];
    }
    if (count > 0) qsort(sorted, (size_t)count, sizeof *sorted, compare_metadata);
    for (int64_t i = 1; i < count; i++)
        W4A16_FAIL_IF(strcmp(sorted[i - 1].key, sorted[i].key) == 0, W4A16_ERR_ARG,
                      "metadata key '%.200s' appears twice", sorted[i].key);
    return W4A16_OK;
}

/* json_object_set_new that reports its failure (invalid UTF-8 in the key or
 * the value, which jansson refuses). */
static w4a16_status set_member(json_t *object, const char *key, json_t *value) {
    W4A16_FAIL_IF(value == NULL, W4A16_ERR_ARG, "'%.200s': value is not valid UTF-8", key);
    W4A16_FAIL_IF(json_object_set_new(object, key, value) != 0, W4A16_ERR_ARG,
                  "'%.200s' is not valid UTF-8", key);
    return W4A16_OK;
}

static w4a16_status tensor_entry(const planned_tensor *p, uint64_t begin, json_t **out) {
    const w4a16_st_write_tensor *t = p->tensor;
    json_t *entry = json_object(), *shape = json_array(), *offsets = json_array();
    int failed = entry == NULL || shape == NULL || offsets == NULL;
    for (int32_t d = 0; d < t->ndim && !failed; d++)
        failed |= json_array_append_new(shape, json_integer(t->shape[d])) != 0;
    failed |= json_array_append_new(offsets, json_integer((json_int_t)begin)) != 0;
    failed |= json_array_append_new(offsets, json_integer((json_int_t)(begin + p->bytes))) != 0;
    if (!failed) {
        failed |= json_object_set_new(entry, "dtype", json_string(w4a16_dtype_name(t->dtype)));
        failed |= json_object_set(entry, "shape", shape);
        failed |= json_object_set(entry, "data_offsets", offsets);
    }
    json_decref(shape);
    json_decref(offsets);
    if (failed) {
        json_decref(entry);
        return w4a16_fail(W4A16_ERR_NOMEM, "out of memory building the header");
    }
    *out = entry;
    return W4A16_OK;
}

/* The header JSON: __metadata__ first, then the tensors in name order. */
static w4a16_status build_header(const planned_tensor *plan, int64_t count,
                                 const w4a16_st_metadata *metadata, int64_t metadata_count,
                                 char **out) {
    json_t *root = json_object();
    W4A16_FAIL_IF(root == NULL, W4A16_ERR_NOMEM, "out of memory building the header");
    w4a16_status status = W4A16_OK;
    if (metadata_count > 0) {
        json_t *object = json_object();
        status = set_member(root, "__metadata__", object);
        for (int64_t i = 0; i < metadata_count && status == W4A16_OK; i++) {
            status = set_member(object, metadata[i].key, json_string(metadata[i].value));
            if (status != W4A16_OK)
                status = w4a16_fail_context(status, "metadata[%" PRId64 "]", i);
        }
    }
    uint64_t begin = 0;
    for (int64_t i = 0; i < count && status == W4A16_OK; i++) {
        json_t *entry = NULL;
        status = tensor_entry(&plan[i], begin, &entry);
        if (status == W4A16_OK) status = set_member(root, plan[i].tensor->name, entry);
        if (status != W4A16_OK)
            status = w4a16_fail_context(status, "tensors[%" PRId64 "]", plan[i].index);
        begin += plan[i].bytes;
    }
    if (status == W4A16_OK) {
        *out = json_dumps(root, JSON_COMPACT);
        if (*out == NULL) status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory writing the header");
    }
    json_decref(root);
    return status;
}

/* Writes length, padded header and data to an open file; 0 on success. */
static int write_contents(FILE *file, const char *header, const planned_tensor *plan,
                          int64_t count) {
    size_t json_bytes = strlen(header);
    uint64_t header_bytes = (json_bytes + 7) / 8 * 8;
    uint8_t length[8];
    for (int i = 0; i < 8; i++) length[i] = (uint8_t)(header_bytes >> (8 * i));
    if (fwrite(length, 1, 8, file) != 8) return -1;
    if (fwrite(header, 1, json_bytes, file) != json_bytes) return -1;
    for (uint64_t i = json_bytes; i < header_bytes; i++)
        if (fputc(' ', file) == EOF) return -1;
    for (int64_t i = 0; i < count; i++) {
        size_t bytes = (size_t)plan[i].bytes;
        if (bytes > 0 && fwrite(plan[i].tensor->data, 1, bytes, file) != bytes) return -1;
    }
    return 0;
}

static w4a16_status write_file(const char *path, const char *header, const planned_tensor *plan,
                               int64_t count) {
    size_t tmp_bytes = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(tmp_bytes);
    W4A16_FAIL_IF(tmp == NULL, W4A16_ERR_NOMEM, "out of memory");
    snprintf(tmp, tmp_bytes, "%s.tmp", path);
    const char *failed_step = NULL;
    int failed_errno = 0;
    FILE *file = fopen(tmp, "wb");
    if (file == NULL) {
        failed_step = "create";
        failed_errno = errno;
    } else {
        if (write_contents(file, header, plan, count) != 0) {
            failed_step = "write";
            failed_errno = errno;
        }
        if (fclose(file) != 0 && failed_step == NULL) {
            failed_step = "write";
            failed_errno = errno;
        }
        if (failed_step == NULL && rename(tmp, path) != 0) {
            failed_step = "rename";
            failed_errno = errno;
        }
        if (failed_step != NULL) unlink(tmp);
    }
    w4a16_status status = W4A16_OK;
    if (failed_step != NULL) {
        char reason[128];
        status = w4a16_fail(W4A16_ERR_IO, "%.400s: cannot %s %.400s: %s", path, failed_step, tmp,
                            strerror_r(failed_errno, reason, sizeof reason));
    }
    free(tmp);
    return status;
}

w4a16_status w4a16_st_write(const char *path, const w4a16_st_write_tensor *tensors, int64_t count,
                            const w4a16_st_metadata *metadata, int64_t metadata_count) {
    W4A16_FAIL_IF(path == NULL, W4A16_ERR_ARG, "path is NULL");
    W4A16_FAIL_IF(count < 0, W4A16_ERR_ARG, "count=%" PRId64 " is negative", count);
    W4A16_FAIL_IF(count > 0 && tensors == NULL, W4A16_ERR_ARG,
                  "tensors is NULL with count=%" PRId64, count);
    W4A16_FAIL_IF(metadata_count < 0, W4A16_ERR_ARG, "metadata_count=%" PRId64 " is negative",
                  metadata_count);
    W4A16_FAIL_IF(metadata_count > 0 && metadata == NULL, W4A16_ERR_ARG,
                  "metadata is NULL with metadata_count=%" PRId64, metadata_count);

    planned_tensor *plan = calloc((size_t)count + 1, sizeof *plan);
    w4a16_st_metadata *sorted = calloc((size_t)metadata_count + 1, sizeof *sorted);
    char *header = NULL;
    w4a16_status status = W4A16_OK;
    if (plan == NULL || sorted == NULL)
        status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory for %" PRId64 " tensors", count);
    if (status == W4A16_OK) status = plan_tensors(tensors, count, plan);
    if (status == W4A16_OK) status = plan_metadata(metadata, metadata_count, sorted);
    if (status == W4A16_OK) status = build_header(plan, count, sorted, metadata_count, &header);
    if (status == W4A16_OK) status = write_file(path, header, plan, count);
    free(header);
    free(sorted);
    free(plan);
    return status;
}
