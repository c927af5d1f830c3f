/* safetensors: a strict reader over mmap and a writer (docs/DESIGN.md §2).
 *
 * File: 8-byte little-endian header length H, H bytes of JSON (starting with
 * '{', trailing spaces allowed), then the data. Each tensor has dtype, shape
 * and data_offsets [begin, end) relative to the data start. The reader
 * rejects everything the design lists: H > 100,000,000 or 8 + H > file size,
 * invalid JSON or UTF-8, duplicate keys, unknown dtypes, non-string
 * __metadata__ values, byte counts that disagree with shapes, overflow, gaps,
 * overlaps, and data that does not end exactly at the end of the file. */
#ifndef W4A16_CHECKPOINT_SAFETENSORS_H
#define W4A16_CHECKPOINT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "w4a16.h"

#define W4A16_ST_MAX_HEADER_BYTES 100000000ull
#define W4A16_ST_MAX_DIMS 8

typedef struct {
    char *name;
    w4a16_dtype dtype;
    int32_t ndim;
    int64_t shape[W4A16_ST_MAX_DIMS];
    uint64_t begin, end; /* relative to the data start */
    const void *data;    /* points into the mapping (or buffer); the format does not
                          * promise alignment beyond 1 byte, so copy or check before
                          * reading it as wider types */
} w4a16_st_tensor;

typedef struct {
    char *key, *value;
} w4a16_st_metadata;

typedef struct {
    char *path;                /* as opened ("<memory>" for buffers) */
    void *map;                 /* mmap of the whole file (NULL for buffers) */
    size_t map_bytes;
    w4a16_st_tensor *tensors;  /* sorted by name */
    int64_t tensor_count;
    w4a16_st_metadata *metadata; /* sorted by key */
    int64_t metadata_count;
} w4a16_st_file;

/* Maps and validates a file. Errors are W4A16_ERR_IO (cannot open/map) or
 * W4A16_ERR_FORMAT, with a message naming the path, the tensor and the rule
 * broken (W4A16_ERR_UNSUPPORTED for tensors of more than 8 dimensions,
 * W4A16_ERR_NOMEM); *out is written only on success. */
w4a16_status w4a16_st_open(const char *path, w4a16_st_file *out);
/* Same checks over a buffer the caller keeps alive (used by the fuzzer). */
w4a16_status w4a16_st_parse(const void *bytes, size_t size, w4a16_st_file *out);
void w4a16_st_close(w4a16_st_file *file); /* accepts a zeroed struct */
/* Gives back the memory pages of the file's mapping that [data, data +
 * bytes) touches (madvise MADV_DONTNEED): a process that streams a large
 * checkpoint through keeps only what it is working on resident. The pages
 * are read again from the file if touched later. Ranges outside the mapping
 * (a buffer, an aligned copy) are left alone. */
void w4a16_st_release(const w4a16_st_file *file, const void *data, uint64_t bytes);
/* Asks the kernel to start reading the pages of [data, data + bytes) from
 * the file now (madvise MADV_WILLNEED), so that a process working through a
 * checkpoint larger than the page cache keeps reading while it computes.
 * Ranges outside the mapping are left alone. */
void w4a16_st_prefetch(const w4a16_st_file *file, const void *data, uint64_t bytes);
/* Tensor by exact name, or NULL. */
const w4a16_st_tensor *w4a16_st_find(const w4a16_st_file *file, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *w4a16_st_metadata_get(const w4a16_st_file *file, const char *key);

/* A tensor to write; the writer reads data only when writing it. */
typedef struct {
    const char *name;
    w4a16_dtype dtype;
    int32_t ndim;
    int64_t shape[W4A16_ST_MAX_DIMS];
    const void *data; /* numel * size bytes */
} w4a16_st_write_tensor;

/* Writes a whole file from memory (tensors in any order): the stream below,
 * every tensor put, finished and committed. W4A16_ERR_ARG, before anything
 * is written, for NULL names or data, duplicate names or metadata keys,
 * "__metadata__" as a tensor name, invalid dtypes or shapes, or names and
 * values that are not UTF-8; W4A16_ERR_IO (the .tmp file removed) when the
 * file cannot be written. */
w4a16_status w4a16_st_write(const char *path, const w4a16_st_write_tensor *tensors, int64_t count,
                            const w4a16_st_metadata *metadata, int64_t metadata_count);

/* A file written as its tensors are produced, in any order. Create lays it
 * out from the tensors' names, dtypes and shapes (their data is not read):
 * the header lists them sorted by name, padded with spaces so the data
 * starts 8-byte aligned; the data holds them larger elements first, then by
 * name (Hugging Face's order), so each starts aligned to its element size.
 * It writes path + ".tmp" with the header and reserves room for the data.
 * Put writes bytes of one tensor at an offset within it (pieces may come
 * from several threads at once, never overlapping). Finish checks that every
 * byte was put and closes the file; commit renames it to path; discard
 * closes and removes the .tmp file unless it was committed, and frees all. */
typedef struct {
    char *path, *tmp_path;
    int fd;                     /* -1 once finished */
    uint64_t data_start;        /* 8 + header bytes */
    int64_t count;
    uint64_t *begin, *bytes;    /* per tensor, indexed as the caller's array */
    _Atomic uint64_t *written;  /* bytes put so far, per tensor */
} w4a16_st_stream;

w4a16_status w4a16_st_stream_create(const char *path, const w4a16_st_write_tensor *tensors,
                                    int64_t count, const w4a16_st_metadata *metadata,
                                    int64_t metadata_count, w4a16_st_stream *out);
w4a16_status w4a16_st_stream_put(w4a16_st_stream *stream, int64_t index, uint64_t offset,
                                 const void *data, uint64_t bytes);
w4a16_status w4a16_st_stream_finish(w4a16_st_stream *stream);
w4a16_status w4a16_st_stream_commit(w4a16_st_stream *stream);
void w4a16_st_stream_discard(w4a16_st_stream *stream); /* accepts a zeroed or NULL stream */

/* numel * dtype size in bytes (a zero dimension gives 0 bytes). Sub-byte
 * dtypes (F4, F6_*) must fill whole bytes: numel * bits a multiple of 8.
 * W4A16_ERR_FORMAT, naming the shape, on negative dims, overflow or a partial
 * byte; W4A16_ERR_ARG for an invalid dtype, ndim outside 0..8 or NULL pointers. */
w4a16_status w4a16_st_tensor_bytes(w4a16_dtype dtype, int32_t ndim, const int64_t *shape,
                                   uint64_t *out);

/* "[4, 8]": a shape as messages print it. W4A16_ST_SHAPE_TEXT_BYTES holds any
 * shape of up to W4A16_ST_MAX_DIMS dimensions. */
#define W4A16_ST_SHAPE_TEXT_BYTES 200
void w4a16_st_shape_text(int32_t ndim, const int64_t *shape, char *text, size_t text_bytes);

#endif
