/* The strict safetensors reader (docs/DESIGN.md §2): maps a file, or takes a
 * buffer, and accepts it only if every rule of the format holds. Each
 * rejection names the file, the tensor and the rule, so that a bad shard of a
 * checkpoint is found without a hex editor. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/safetensors.h"
#include "common/dtype.h"
#include "common/error.h"

/* Names in messages are cut here: a name can be as long as the header. */
#define NAME_FMT "'%.200s'"

static const char METADATA_KEY[] = "__metadata__";

/* What every check needs: the bytes and how to name them in a message. */
typedef struct {
    const char *label; /* the path, or "<memory>" */
    const uint8_t *bytes;
    size_t size;
    uint64_t header_bytes;
    uint64_t data_bytes; /* everything after the header */
} parse_input;

/* Records "<label>: tensor 'name': <rule>" (or "<label>: <rule>" when tensor
 * is NULL) and returns status. */
static w4a16_status reject(const parse_input *in, w4a16_status status, const char *tensor,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static w4a16_status reject(const parse_input *in, w4a16_status status, const char *tensor,
                           const char *fmt, ...) {
    char rule[768];
    va_list args;
    va_start(args, fmt);
    vsnprintf(rule, sizeof rule, fmt, args);
    va_end(args);
    if (tensor != NULL)
        return w4a16_fail(status, "%.200s: tensor " NAME_FMT ": %s", in->label, tensor, rule);
    return w4a16_fail(status, "%.200s: %s", in->label, rule);
}

static uint64_t load_le64(const uint8_t *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

/* ------------------------------------------------------------- the header */

/* Parses the JSON header into *root: one object starting at the first byte,
 * followed by nothing but spaces. */
static w4a16_status load_header(const parse_input *in, json_t **root) {
    if (in->size < 8)
        return reject(in, W4A16_ERR_FORMAT, NULL,
                      "file is %zu bytes, shorter than the 8-byte header length", in->size);
    uint64_t header_bytes = load_le64(in->bytes);
    if (header_bytes > W4A16_ST_MAX_HEADER_BYTES)
        return reject(in, W4A16_ERR_FORMAT, NULL,
                      "header length %" PRIu64 " exceeds the limit of %llu bytes", header_bytes,
                      W4A16_ST_MAX_HEADER_BYTES);
    if (header_bytes > in->size - 8)
        return reject(in, W4A16_ERR_FORMAT, NULL,
                      "header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                      header_bytes, in->size);
    const char *header = (const char *)in->bytes + 8;
    if (header_bytes == 0 || header[0] != '{')
        return reject(in, W4A16_ERR_FORMAT, NULL, "header does not start with '{'");

    /* jansson checks UTF-8 and duplicate keys; the EOF check is ours, since
     * the format allows trailing spaces only, not any JSON whitespace. */
    json_error_t error;
    *root = json_loadb(header, (size_t)header_bytes,
                       JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &error);
    if (*root == NULL) {
        switch (json_error_code(&error)) {
        case json_error_out_of_memory:
            return reject(in, W4A16_ERR_NOMEM, NULL, "out of memory parsing the header");
        case json_error_duplicate_key:
            return reject(in, W4A16_ERR_FORMAT, NULL, "header has a duplicate key (%s)",
                          error.text);
        case json_error_invalid_utf8:
            return reject(in, W4A16_ERR_FORMAT, NULL,
                          "header is not valid UTF-8 (%s, near byte %d)", error.text,
                          error.position);
        default:
            return reject(in, W4A16_ERR_FORMAT, NULL,
                          "header is not valid JSON: %s (near byte %d)", error.text,
                          error.position);
        }
    }
    /* With the EOF check off, position is where the object ended. */
    for (uint64_t i = (uint64_t)error.position; i < header_bytes; i++) {
        if (header[i] != ' ') {
            json_decref(*root);
            *root = NULL;
            return reject(in, W4A16_ERR_FORMAT, NULL,
                          "header has byte 0x%02x after its JSON object at byte %" PRIu64
                          "; only spaces may follow",
                          (unsigned)(uint8_t)header[i], i);
        }
    }
    return W4A16_OK;
}

/* ------------------------------------------------------------ __metadata__ */

static int compare_metadata_keys(const void *a, const void *b) {
    return strcmp(((const w4a16_st_metadata *)a)->key, ((const w4a16_st_metadata *)b)->key);
}

static w4a16_status read_metadata(const parse_input *in, json_t *object, w4a16_st_file *result) {
    if (!json_is_object(object))
        return reject(in, W4A16_ERR_FORMAT, NULL,
                      "__metadata__ must be an object of strings");
    size_t count = json_object_size(object);
    if (count == 0) return W4A16_OK;
    result->metadata = calloc(count, sizeof *result->metadata);
    if (result->metadata == NULL)
        return reject(in, W4A16_ERR_NOMEM, NULL, "out of memory for %zu metadata entries", count);
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        if (!json_is_string(value))
            return reject(in, W4A16_ERR_FORMAT, NULL,
                          "__metadata__ value of " NAME_FMT " is not a string", key);
        w4a16_st_metadata *entry = &result->metadata[result->metadata_count];
        entry->key = strdup(key);
        entry->value = strdup(json_string_value(value));
        result->metadata_count++;
        if (entry->key == NULL || entry->value == NULL)
            return reject(in, W4A16_ERR_NOMEM, NULL, "out of memory for metadata");
    }
    qsort(result->metadata, count, sizeof *result->metadata, compare_metadata_keys);
    return W4A16_OK;
}

/* ----------------------------------------------------------------- tensors */

/* A JSON integer >= 0, or a message saying why not. */
static w4a16_status read_count(const parse_input *in, const char *name, json_t *value,
                               const char *what, int index, int64_t *out) {
    if (!json_is_integer(value))
        return reject(in, W4A16_ERR_FORMAT, name, "%s[%d] is not an integer", what, index);
    json_int_t number = json_integer_value(value);
    if (number < 0)
        return reject(in, W4A16_ERR_FORMAT, name, "%s[%d] = %lld is negative", what, index,
                      (long long)number);
    *out = (int64_t)number;
    return W4A16_OK;
}

/* entry[key], which must be present and of the given JSON type. */
static w4a16_status get_member(const parse_input *in, const char *name, json_t *entry,
                               const char *key, json_type type, const char *type_name,
                               json_t **out) {
    *out = json_object_get(entry, key);
    if (*out == NULL) return reject(in, W4A16_ERR_FORMAT, name, "has no \"%s\"", key);
    if (json_typeof(*out) != type)
        return reject(in, W4A16_ERR_FORMAT, name, "\"%s\" is not %s", key, type_name);
    return W4A16_OK;
}

static w4a16_status read_dtype(const parse_input *in, const char *name, json_t *entry,
                               w4a16_dtype *out) {
    json_t *dtype;
    W4A16_TRY(get_member(in, name, entry, "dtype", JSON_STRING, "a string", &dtype));
    *out = w4a16_dtype_parse(json_string_value(dtype));
    if (*out == W4A16_DTYPE_INVALID)
        return reject(in, W4A16_ERR_FORMAT, name,
                      "unknown dtype \"%.40s\" (not one the safetensors format defines)",
                      json_string_value(dtype));
    return W4A16_OK;
}

static w4a16_status read_shape(const parse_input *in, const char *name, json_t *entry,
                               w4a16_st_tensor *tensor) {
    json_t *shape;
    W4A16_TRY(get_member(in, name, entry, "shape", JSON_ARRAY, "an array", &shape));
    size_t ndim = json_array_size(shape);
    if (ndim > W4A16_ST_MAX_DIMS)
        return reject(in, W4A16_ERR_UNSUPPORTED, name,
                      "has %zu dimensions; at most %d are supported", ndim, W4A16_ST_MAX_DIMS);
    tensor->ndim = (int32_t)ndim;
    for (size_t d = 0; d < ndim; d++)
        W4A16_TRY(read_count(in, name, json_array_get(shape, d), "shape", (int)d,
                             &tensor->shape[d]));
    return W4A16_OK;
}

static w4a16_status read_offsets(const parse_input *in, const char *name, json_t *entry,
                                 w4a16_st_tensor *tensor) {
    json_t *offsets;
    W4A16_TRY(get_member(in, name, entry, "data_offsets", JSON_ARRAY,
                         "an array [begin, end]", &offsets));
    if (json_array_size(offsets) != 2)
        return reject(in, W4A16_ERR_FORMAT, name,
                      "\"data_offsets\" is not an array of two integers [begin, end]");
    int64_t begin, end;
    W4A16_TRY(read_count(in, name, json_array_get(offsets, 0), "data_offsets", 0, &begin));
    W4A16_TRY(read_count(in, name, json_array_get(offsets, 1), "data_offsets", 1, &end));
    tensor->begin = (uint64_t)begin;
    tensor->end = (uint64_t)end;
    if (tensor->begin > tensor->end)
        return reject(in, W4A16_ERR_FORMAT, name,
                      "data_offsets [%" PRIu64 ", %" PRIu64 ") begin after they end",
                      tensor->begin, tensor->end);
    if (tensor->end > in->data_bytes)
        return reject(in, W4A16_ERR_FORMAT, name,
                      "data_offsets [%" PRIu64 ", %" PRIu64
                      ") run past the end of the data (%" PRIu64 " bytes)",
                      tensor->begin, tensor->end, in->data_bytes);
    return W4A16_OK;
}

/* One entry of the header: dtype, shape and offsets that agree with each other. */
static w4a16_status read_tensor(const parse_input *in, const char *name, json_t *entry,
                                w4a16_st_tensor *tensor) {
    if (!json_is_object(entry))
        return reject(in, W4A16_ERR_FORMAT, name,
                      "entry is not an object with dtype, shape and data_offsets");
    W4A16_TRY(read_dtype(in, name, entry, &tensor->dtype));
    W4A16_TRY(read_shape(in, name, entry, tensor));
    W4A16_TRY(read_offsets(in, name, entry, tensor));

    uint64_t expected;
    w4a16_status status =
        w4a16_st_tensor_bytes(tensor->dtype, tensor->ndim, tensor->shape, &expected);
    if (status != W4A16_OK)
        return w4a16_fail_context(status, "%.200s: tensor " NAME_FMT, in->label, name);
    if (tensor->end - tensor->begin != expected) {
        char shape[W4A16_ST_SHAPE_TEXT_BYTES];
        w4a16_st_shape_text(tensor->ndim, tensor->shape, shape, sizeof shape);
        return reject(in, W4A16_ERR_FORMAT, name,
                      "data_offsets [%" PRIu64 ", %" PRIu64 ") hold %" PRIu64
                      " bytes, but shape %s of %s needs %" PRIu64,
                      tensor->begin, tensor->end, tensor->end - tensor->begin, shape,
                      w4a16_dtype_name(tensor->dtype), expected);
    }
    tensor->name = strdup(name);
    if (tensor->name == NULL) return reject(in, W4A16_ERR_NOMEM, name, "out of memory");
    return W4A16_OK;
}

static int compare_offsets(const void *a, const void *b) {
    const w4a16_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(((const w4a16_st_tensor *)a)->name, ((const w4a16_st_tensor *)b)->name);
}

/* Sorted by begin, the tensors must tile [0, data_bytes) exactly: no gap, no
 * overlap, nothing left over at the end of the file. */
static w4a16_status check_tiling(const parse_input *in, w4a16_st_tensor *tensors, int64_t count) {
    if (count > 0) qsort(tensors, (size_t)count, sizeof *tensors, compare_offsets);
    uint64_t covered = 0;
    for (int64_t i = 0; i < count; i++) {
        const w4a16_st_tensor *t = &tensors[i];
        if (t->begin > covered)
            return reject(in, W4A16_ERR_FORMAT, t->name,
                          "gap of %" PRIu64 " bytes before its data_offsets [%" PRIu64
                          ", %" PRIu64 ") (the previous tensor ends at %" PRIu64 ")",
                          t->begin - covered, t->begin, t->end, covered);
        if (t->begin < covered)
            return reject(in, W4A16_ERR_FORMAT, t->name,
                          "data_offsets [%" PRIu64 ", %" PRIu64 ") overlap tensor " NAME_FMT
                          " [%" PRIu64 ", %" PRIu64 ")",
                          t->begin, t->end, tensors[i - 1].name, tensors[i - 1].begin,
                          tensors[i - 1].end);
        covered = t->end;
    }
    if (covered != in->data_bytes)
        return reject(in, W4A16_ERR_FORMAT, NULL,
                      "tensors end at data byte %" PRIu64 " but the file holds %" PRIu64
                      " bytes of data: the data must end at the end of the file",
                      covered, in->data_bytes);
    return W4A16_OK;
}

static w4a16_status read_entries(const parse_input *in, json_t *root, w4a16_st_file *result) {
    json_t *metadata = json_object_get(root, METADATA_KEY);
    size_t count = json_object_size(root) - (metadata != NULL);
    if (metadata != NULL) W4A16_TRY(read_metadata(in, metadata, result));
    if (count > 0) {
        result->tensors = calloc(count, sizeof *result->tensors);
        if (result->tensors == NULL)
            return reject(in, W4A16_ERR_NOMEM, NULL, "out of memory for %zu tensors", count);
    }
    const char *name;
    json_t *entry;
    json_object_foreach(root, name, entry) {
        if (strcmp(name, METADATA_KEY) == 0) continue;
        w4a16_status status = read_tensor(in, name, entry, &result->tensors[result->tensor_count]);
        if (result->tensors[result->tensor_count].name != NULL) result->tensor_count++;
        if (status != W4A16_OK) return status;
    }
    W4A16_TRY(check_tiling(in, result->tensors, result->tensor_count));
    const uint8_t *data = in->bytes + 8 + in->header_bytes;
    for (int64_t i = 0; i < result->tensor_count; i++)
        result->tensors[i].data = data + result->tensors[i].begin;
    if (result->tensor_count > 0)
        qsort(result->tensors, (size_t)result->tensor_count, sizeof *result->tensors,
              compare_names);
    return W4A16_OK;
}

/* Validates bytes[0, size) into *out (left untouched on error). */
static w4a16_status parse_bytes(const char *label, const uint8_t *bytes, size_t size,
                                w4a16_st_file *out) {
    parse_input in = {.label = label, .bytes = bytes, .size = size};
    json_t *root = NULL;
    W4A16_TRY(load_header(&in, &root));
    in.header_bytes = load_le64(bytes);
    in.data_bytes = size - 8 - in.header_bytes;

    w4a16_st_file result = {0};
    w4a16_status status = read_entries(&in, root, &result);
    json_decref(root);
    if (status == W4A16_OK) {
        result.path = strdup(label);
        if (result.path == NULL) status = reject(&in, W4A16_ERR_NOMEM, NULL, "out of memory");
    }
    if (status != W4A16_OK) {
        w4a16_st_close(&result);
        return status;
    }
    *out = result;
    return W4A16_OK;
}

w4a16_status w4a16_st_parse(const void *bytes, size_t size, w4a16_st_file *out) {
    W4A16_FAIL_IF(bytes == NULL && size > 0, W4A16_ERR_ARG, "bytes is NULL with size=%zu", size);
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    return parse_bytes("<memory>", bytes, size, out);
}

w4a16_status w4a16_st_open(const char *path, w4a16_st_file *out) {
    W4A16_FAIL_IF(path == NULL, W4A16_ERR_ARG, "path is NULL");
    W4A16_FAIL_IF(out == NULL, W4A16_ERR_ARG, "out is NULL");
    char reason[128];
    /* O_NONBLOCK: a FIFO or device given by mistake fails below instead of
     * blocking the open; it changes nothing for a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return w4a16_fail(W4A16_ERR_IO, "%.500s: cannot open: %s", path,
                          strerror_r(errno, reason, sizeof reason));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int stat_errno = errno;
        close(fd);
        return w4a16_fail(W4A16_ERR_IO, "%.500s: cannot stat: %s", path,
                          strerror_r(stat_errno, reason, sizeof reason));
    }
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        return w4a16_fail(W4A16_ERR_IO, "%.500s: %s", path,
                          S_ISDIR(info.st_mode) ? "is a directory, not a safetensors file"
                                                : "is not a regular file");
    }
    size_t size = (size_t)info.st_size;
    if (size < 8) {
        /* Too short to map usefully (mmap of 0 bytes fails); the parser says why. */
        uint8_t head[8];
        ssize_t got = pread(fd, head, size, 0);
        close(fd);
        if (got != (ssize_t)size)
            return w4a16_fail(W4A16_ERR_IO, "%.500s: cannot read %zu bytes", path, size);
        return parse_bytes(path, head, size, out);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return w4a16_fail(W4A16_ERR_IO, "%.500s: cannot map %zu bytes: %s", path, size,
                          strerror_r(map_errno, reason, sizeof reason));
    w4a16_st_file result;
    w4a16_status status = parse_bytes(path, map, size, &result);
    if (status != W4A16_OK) {
        munmap(map, size);
        return status;
    }
    result.map = map;
    result.map_bytes = size;
    *out = result;
    return W4A16_OK;
}
