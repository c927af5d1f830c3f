/* safetensors: what the reader and the writer share — byte counts from a
 * shape, lookups and releasing a parsed file. Parsing lives in
 * safetensors_read.c, writing in safetensors_write.c. */
#include "checkpoint/safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"

void w4a16_st_shape_text(int32_t ndim, const int64_t *shape, char *text, size_t text_bytes) {
    size_t used = 0;
    used += (size_t)snprintf(text, text_bytes, "[");
    for (int32_t d = 0; d < ndim && used < text_bytes; d++)
        used += (size_t)snprintf(text + used, text_bytes - used, "%s%" PRId64, d ? ", " : "",
                                 shape[d]);
    if (used < text_bytes) snprintf(text + used, text_bytes - used, "]");
}

w4a16_status w4a16_st_tensor_bytes(w4a16_dtype dtype, int32_t ndim, const int64_t *shape,
                                   uint64_t *out) {
    int bits = w4a16_dtype_bits(dtype);
    W4A16_FAIL_IF(bits <= 0, W4A16_ERR_ARG, "dtype=%d is not a safetensors dtype", (int)dtype);
    W4A16_FAIL_IF(ndim < 0 || ndim > W4A16_ST_MAX_DIMS, W4A16_ERR_ARG,
                  "ndim=%d is outside 0..%d", (int)ndim, W4A16_ST_MAX_DIMS);
    W4A16_FAIL_IF(ndim > 0 && shape == NULL, W4A16_ERR_ARG, "shape is NULL with ndim=%d",
                  (int)ndim);
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");

    char text[W4A16_ST_SHAPE_TEXT_BYTES];
    w4a16_st_shape_text(ndim, shape, text, sizeof text);
    int any_zero = 0;
    for (int32_t d = 0; d < ndim; d++) {
        W4A16_FAIL_IF(shape[d] < 0, W4A16_ERR_FORMAT, "shape %s has a negative dimension", text);
        any_zero |= shape[d] == 0;
    }
    /* A zero dimension makes the tensor empty whatever the others say, so
     * the answer does not depend on the order of the dimensions. */
    uint64_t numel = any_zero ? 0 : 1;
    for (int32_t d = 0; d < ndim && !any_zero; d++) {
        uint64_t dim = (uint64_t)shape[d];
        W4A16_FAIL_IF(numel > UINT64_MAX / dim, W4A16_ERR_FORMAT,
                      "shape %s has more elements than 64 bits can count", text);
        numel *= dim;
    }
    W4A16_FAIL_IF(numel > UINT64_MAX / (uint64_t)bits, W4A16_ERR_FORMAT,
                  "shape %s of %s needs more bytes than 64 bits can count", text,
                  w4a16_dtype_name(dtype));
    uint64_t total_bits = numel * (uint64_t)bits;
    W4A16_FAIL_IF(total_bits % 8 != 0, W4A16_ERR_FORMAT,
                  "shape %s of %s holds %" PRIu64 " bits, not a whole number of bytes", text,
                  w4a16_dtype_name(dtype), total_bits);
    *out = total_bits / 8;
    return W4A16_OK;
}

void w4a16_st_close(w4a16_st_file *file) {
    if (file == NULL) return;
    for (int64_t i = 0; i < file->tensor_count; i++) free(file->tensors[i].name);
    for (int64_t i = 0; i < file->metadata_count; i++) {
        free(file->metadata[i].key);
        free(file->metadata[i].value);
    }
    free(file->tensors);
    free(file->metadata);
    free(file->path);
    if (file->map != NULL) munmap(file->map, file->map_bytes);
    memset(file, 0, sizeof *file);
}

/* madvise on the whole pages of the mapping that [data, data + bytes) touches. */
static void advise(const w4a16_st_file *file, const void *data, uint64_t bytes, int advice) {
    if (file == NULL || file->map == NULL || data == NULL || bytes == 0) return;
    uintptr_t map = (uintptr_t)file->map, begin = (uintptr_t)data;
    if (begin < map || begin - map > file->map_bytes || bytes > file->map_bytes - (begin - map))
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = begin / page * page, last = (begin + (uintptr_t)bytes + page - 1) / page * page;
    if (first < map) first = map;
    madvise((void *)first, last - first, advice);
}

void w4a16_st_release(const w4a16_st_file *file, const void *data, uint64_t bytes) {
    /* A neighbour's page given back is only read again. */
    advise(file, data, bytes, MADV_DONTNEED);
}

void w4a16_st_prefetch(const w4a16_st_file *file, const void *data, uint64_t bytes) {
    advise(file, data, bytes, MADV_WILLNEED);
}

static int compare_tensor_to_name(const void *name, const void *tensor) {
    return strcmp((const char *)name, ((const w4a16_st_tensor *)tensor)->name);
}

static int compare_metadata_to_key(const void *key, const void *entry) {
    return strcmp((const char *)key, ((const w4a16_st_metadata *)entry)->key);
}

const w4a16_st_tensor *w4a16_st_find(const w4a16_st_file *file, const char *name) {
    if (file == NULL || name == NULL || file->tensor_count == 0) return NULL;
    return bsearch(name, file->tensors, (size_t)file->tensor_count, sizeof *file->tensors,
                   compare_tensor_to_name);
}

const char *w4a16_st_metadata_get(const w4a16_st_file *file, const char *key) {
    if (file == NULL || key == NULL || file->metadata_count == 0) return NULL;
    const w4a16_st_metadata *entry =
        bsearch(key, file->metadata, (size_t)file->metadata_count, sizeof *file->metadata,
                compare_metadata_to_key);
    return entry ? entry->value : NULL;
}
