/* The safetensors writer. A file is laid out before any data exists: the
 * header lists every tensor (in name order, __metadata__ first), padded with
 * spaces so the data starts 8-byte aligned, and the data holds the tensors
 * larger elements first, then by name (Hugging Face's order), so that every
 * tensor starts at a multiple of its element size with no gaps. The bytes
 * then go to their places with pwrite, in any order and from any thread, and
 * the file is renamed from path.tmp only once every byte is there: a reader
 * never sees half a file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/safetensors.h"
#include "common/error.h"

/* A tensor to write, with its place in the data. */
typedef struct {
    const w4a16_st_write_tensor *tensor;
    int64_t index; /* in the caller's array */
    uint64_t bytes, begin;
} planned_tensor;

static int compare_names(const void *a, const void *b) {
    return strcmp(((const planned_tensor *)a)->tensor->name,
                  ((const planned_tensor *)b)->tensor->name);
}

/* Larger elements first, then by name: each tensor starts aligned to its element. */
static int compare_data_order(const void *a, const void *b) {
    const w4a16_st_write_tensor *x = ((const planned_tensor *)a)->tensor;
    const w4a16_st_write_tensor *y = ((const planned_tensor *)b)->tensor;
    int x_bits = w4a16_dtype_bits(x->dtype), y_bits = w4a16_dtype_bits(y->dtype);
    if (x_bits != y_bits) return x_bits > y_bits ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_metadata(const void *a, const void *b) {
    return strcmp(((const w4a16_st_metadata *)a)->key, ((const w4a16_st_metadata *)b)->key);
}

/* Checks every tensor, gives each its place in the data, and leaves plan
 * sorted by name. Data may be NULL (a layout before the data exists). */
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
    }
    if (count == 0) return W4A16_OK;
    qsort(plan, (size_t)count, sizeof *plan, compare_data_order);
    uint64_t begin = 0;
    for (int64_t i = 0; i < count; i++) {
        plan[i].begin = begin;
        begin += plan[i].bytes;
    }
    qsort(plan, (size_t)count, sizeof *plan, compare_names);
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

static w4a16_status tensor_entry(const planned_tensor *p, json_t **out) {
    const w4a16_st_write_tensor *t = p->tensor;
    json_t *entry = json_object(), *shape = json_array(), *offsets = json_array();
    int failed = entry == NULL || shape == NULL || offsets == NULL;
    for (int32_t d = 0; d < t->ndim && !failed; d++)
        failed |= json_array_append_new(shape, json_integer(t->shape[d])) != 0;
    failed |= json_array_append_new(offsets, json_integer((json_int_t)p->begin)) != 0;
    failed |= json_array_append_new(offsets, json_integer((json_int_t)(p->begin + p->bytes))) != 0;
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
    for (int64_t i = 0; i < count && status == W4A16_OK; i++) {
        json_t *entry = NULL;
        status = tensor_entry(&plan[i], &entry);
        if (status == W4A16_OK) status = set_member(root, plan[i].tensor->name, entry);
        if (status != W4A16_OK)
            status = w4a16_fail_context(status, "tensors[%" PRId64 "]", plan[i].index);
    }
    if (status == W4A16_OK) {
        *out = json_dumps(root, JSON_COMPACT);
        if (*out == NULL) status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory writing the header");
    }
    json_decref(root);
    return status;
}

static w4a16_status io_error(const w4a16_st_stream *s, const char *step, int error_number) {
    char reason[128];
    return w4a16_fail(W4A16_ERR_IO, "%.400s: cannot %s %.400s: %s", s->path, step, s->tmp_path,
                      strerror_r(error_number, reason, sizeof reason));
}

/* pwrite all of it, through short writes and interrupts. */
static int write_all(int fd, const void *data, uint64_t bytes, uint64_t offset) {
    const char *at = data;
    while (bytes > 0) {
        size_t piece = bytes > (UINT64_C(1) << 30) ? (size_t)1 << 30 : (size_t)bytes;
        ssize_t done = pwrite(fd, at, piece, (off_t)offset);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) {
            if (done == 0) errno = EIO;
            return -1;
        }
        at += done;
        offset += (uint64_t)done;
        bytes -= (uint64_t)done;
    }
    return 0;
}

/* Length, padded header, and room for the data (reserved up front, so that a
 * full disk fails now rather than after minutes of work). */
static w4a16_status write_head(w4a16_st_stream *s, const char *header, uint64_t data_bytes) {
    size_t json_bytes = strlen(header);
    uint64_t header_bytes = (json_bytes + 7) / 8 * 8;
    char *head = malloc((size_t)(8 + header_bytes));
    W4A16_FAIL_IF(head == NULL, W4A16_ERR_NOMEM, "out of memory for a %" PRIu64 "-byte header",
                  header_bytes);
    for (int i = 0; i < 8; i++) head[i] = (char)(uint8_t)(header_bytes >> (8 * i));
    memcpy(head + 8, header, json_bytes);
    memset(head + 8 + json_bytes, ' ', (size_t)(header_bytes - json_bytes));
    int failed = write_all(s->fd, head, 8 + header_bytes, 0) != 0;
    free(head);
    if (failed) return io_error(s, "write", errno);
    s->data_start = 8 + header_bytes;
    uint64_t total = s->data_start + data_bytes;
    if (data_bytes > 0 && fallocate(s->fd, 0, 0, (off_t)total) != 0) {
        if (errno == ENOSPC) return io_error(s, "reserve room in", errno);
        if (ftruncate(s->fd, (off_t)total) != 0) return io_error(s, "size", errno);
    }
    return W4A16_OK;
}

static w4a16_status open_file(w4a16_st_stream *s, const char *path) {
    size_t tmp_bytes = strlen(path) + sizeof ".tmp";
    s->path = strdup(path);
    s->tmp_path = malloc(tmp_bytes);
    W4A16_FAIL_IF(s->path == NULL || s->tmp_path == NULL, W4A16_ERR_NOMEM, "out of memory");
    snprintf(s->tmp_path, tmp_bytes, "%s.tmp", path);
    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) return io_error(s, "create", errno);
    return W4A16_OK;
}

static w4a16_status create_stream(w4a16_st_stream *s, const char *path,
                                  const w4a16_st_write_tensor *tensors, int64_t count,
                                  const w4a16_st_metadata *metadata, int64_t metadata_count) {
    planned_tensor *plan = calloc((size_t)count + 1, sizeof *plan);
    w4a16_st_metadata *sorted = calloc((size_t)metadata_count + 1, sizeof *sorted);
    s->begin = calloc((size_t)count + 1, sizeof *s->begin);
    s->bytes = calloc((size_t)count + 1, sizeof *s->bytes);
    s->written = calloc((size_t)count + 1, sizeof *s->written);
    char *header = NULL;
    w4a16_status status = W4A16_OK;
    if (!plan || !sorted || !s->begin || !s->bytes || !s->written)
        status = w4a16_fail(W4A16_ERR_NOMEM, "out of memory for %" PRId64 " tensors", count);
    if (status == W4A16_OK) status = plan_tensors(tensors, count, plan);
    if (status == W4A16_OK) status = plan_metadata(metadata, metadata_count, sorted);
    if (status == W4A16_OK) status = build_header(plan, count, sorted, metadata_count, &header);
    uint64_t data_bytes = 0;
    for (int64_t i = 0; i < count && status == W4A16_OK; i++) {
        s->begin[plan[i].index] = plan[i].begin;
        s->bytes[plan[i].index] = plan[i].bytes;
        data_bytes += plan[i].bytes;
    }
    s->count = count;
    if (status == W4A16_OK) status = open_file(s, path);
    if (status == W4A16_OK) status = write_head(s, header, data_bytes);
    free(header);
    free(sorted);
    free(plan);
    return status;
}

w4a16_status w4a16_st_stream_create(const char *path, const w4a16_st_write_tensor *tensors,
                                    int64_t count, const w4a16_st_metadata *metadata,
                                    int64_t metadata_count, w4a16_st_stream *out) {
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out (the stream) is NULL");
    W4A16_FAIL_IF(path == NULL, W4A16_ERR_ARG, "path is NULL");
    W4A16_FAIL_IF(count < 0, W4A16_ERR_ARG, "count=%" PRId64 " is negative", count);
    W4A16_FAIL_IF(count > 0 && tensors == NULL, W4A16_ERR_ARG,
                  "tensors is NULL with count=%" PRId64, count);
    W4A16_FAIL_IF(metadata_count < 0, W4A16_ERR_ARG, "metadata_count=%" PRId64 " is negative",
                  metadata_count);
    W4A16_FAIL_IF(metadata_count > 0 && metadata == NULL, W4A16_ERR_ARG,
                  "metadata is NULL with metadata_count=%" PRId64, metadata_count);
    w4a16_st_stream s = {.fd = -1};
    w4a16_status status = create_stream(&s, path, tensors, count, metadata, metadata_count);
    if (status != W4A16_OK) {
        w4a16_st_stream_discard(&s);
        return status;
    }
    *out = s;
    return W4A16_OK;
}

w4a16_status w4a16_st_stream_put(w4a16_st_stream *s, int64_t index, uint64_t offset,
                                 const void *data, uint64_t bytes) {
    W4A16_FAIL_IF(s == NULL || s->fd < 0, W4A16_ERR_ARG, "the stream is not open");
    W4A16_FAIL_IF(index < 0 || index >= s->count, W4A16_ERR_ARG,
                  "tensor index=%" PRId64 " is outside [0, %" PRId64 ")", index, s->count);
    W4A16_FAIL_IF(offset > s->bytes[index] || bytes > s->bytes[index] - offset, W4A16_ERR_ARG,
                  "%.400s: bytes [%" PRIu64 ", %" PRIu64 ") of a %" PRIu64 "-byte tensor",
                  s->path, offset, offset + bytes, s->bytes[index]);
    W4A16_FAIL_IF(data == NULL && bytes > 0, W4A16_ERR_ARG, "data is NULL for %" PRIu64 " bytes",
                  bytes);
    if (bytes == 0) return W4A16_OK;
    if (write_all(s->fd, data, bytes, s->data_start + s->begin[index] + offset) != 0)
        return io_error(s, "write", errno);
    atomic_fetch_add_explicit(&s->written[index], bytes, memory_order_relaxed);
    return W4A16_OK;
}

w4a16_status w4a16_st_stream_finish(w4a16_st_stream *s) {
    W4A16_FAIL_IF(s == NULL || s->fd < 0, W4A16_ERR_ARG, "the stream is not open");
    for (int64_t i = 0; i < s->count; i++) {
        uint64_t written = atomic_load_explicit(&s->written[i], memory_order_relaxed);
        W4A16_FAIL_IF(written != s->bytes[i], W4A16_ERR_ARG,
                      "%.400s: tensors[%" PRId64 "] got %" PRIu64 " of its %" PRIu64 " bytes",
                      s->path, i, written, s->bytes[i]);
    }
    int fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0) return io_error(s, "write", errno);
    return W4A16_OK;
}

w4a16_status w4a16_st_stream_commit(w4a16_st_stream *s) {
    W4A16_FAIL_IF(s == NULL || s->tmp_path == NULL || s->fd >= 0, W4A16_ERR_ARG,
                  "the stream is not finished");
    if (rename(s->tmp_path, s->path) != 0) return io_error(s, "rename", errno);
    free(s->tmp_path);
    s->tmp_path = NULL;
    return W4A16_OK;
}

void w4a16_st_stream_discard(w4a16_st_stream *s) {
    if (s == NULL) return;
    if (s->fd >= 0) close(s->fd);
    if (s->tmp_path != NULL) unlink(s->tmp_path);
    free(s->tmp_path);
    free(s->path);
    free(s->begin);
    free(s->bytes);
    free((void *)s->written);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* The byte count of a tensor whose shape is valid; 0 otherwise (the stream
 * reports the shape). */
static uint64_t bytes_or_zero(const w4a16_st_write_tensor *t) {
    uint64_t bytes = 0;
    return w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &bytes) == W4A16_OK ? bytes : 0;
}

w4a16_status w4a16_st_write(const char *path, const w4a16_st_write_tensor *tensors, int64_t count,
                            const w4a16_st_metadata *metadata, int64_t metadata_count) {
    for (int64_t i = 0; tensors != NULL && i < count; i++)
        W4A16_FAIL_IF(tensors[i].data == NULL && bytes_or_zero(&tensors[i]) > 0, W4A16_ERR_ARG,
                      "tensors[%" PRId64 "] '%.200s': data is NULL for %" PRIu64 " bytes", i,
                      tensors[i].name ? tensors[i].name : "(null)", bytes_or_zero(&tensors[i]));
    w4a16_st_stream s;
    W4A16_TRY(w4a16_st_stream_create(path, tensors, count, metadata, metadata_count, &s));
    w4a16_status status = W4A16_OK;
    for (int64_t i = 0; i < count && status == W4A16_OK; i++)
        status = w4a16_st_stream_put(&s, i, 0, tensors[i].data, s.bytes[i]);
    if (status == W4A16_OK) status = w4a16_st_stream_finish(&s);
    if (status == W4A16_OK) status = w4a16_st_stream_commit(&s);
    w4a16_st_stream_discard(&s);
    return status;
}
