/* Named tensors gathered in memory (the tensor list: one layer's tensors
 * from a format encoder, or a whole small checkpoint), and writing a small
 * checkpoint folder from such a list: DIR/model.safetensors and
 * DIR/config.json. `quantize` and `convert` stream larger ones through
 * shard_writer.h; the demo and the tests use this. */
#ifndef W4A16_CHECKPOINT_CHECKPOINT_WRITER_H
#define W4A16_CHECKPOINT_CHECKPOINT_WRITER_H

#include <jansson.h>

#include "checkpoint/safetensors.h"
#include "w4a16.h"

/* Named tensors to write. The list owns every name; a tensor's data is
 * either borrowed (the caller keeps it alive until the write) or owned (the
 * list frees it). */
typedef struct {
    w4a16_st_write_tensor *tensors;
    void **owned; /* owned[i]: the buffer tensors[i].data, freed by the list; NULL if borrowed */
    int64_t count, capacity;
} w4a16_tensor_list;

/* Appends a tensor whose data the caller keeps alive. */
w4a16_status w4a16_tensor_list_add(w4a16_tensor_list *list, const char *name, w4a16_dtype dtype,
                                   int32_t ndim, const int64_t *shape, const void *data);
/* Appends a tensor and takes data (from malloc): the list frees it, also when
 * this call fails. */
w4a16_status w4a16_tensor_list_add_owned(w4a16_tensor_list *list, const char *name,
                                         w4a16_dtype dtype, int32_t ndim, const int64_t *shape,
                                         void *data);
/* The tensor of that exact name, or NULL. */
const w4a16_st_write_tensor *w4a16_tensor_list_find(const w4a16_tensor_list *list,
                                                    const char *name);
/* Drops the tensors after the first `count` (undoes appends that must not stay). */
void w4a16_tensor_list_truncate(w4a16_tensor_list *list, int64_t count);
void w4a16_tensor_list_free(w4a16_tensor_list *list); /* accepts a zeroed list; zeroes it */

/* Writes dir/model.safetensors (every tensor of the list, through
 * shard_writer.h as one file; metadata {"format": "pt"}, which Hugging Face
 * loaders expect) and dir/config.json (config, indented), each through a
 * temporary file and a rename. The folder must exist. Every tensor needs its
 * data: a list of planned tensors (data NULL) is for shard_writer.h. */
w4a16_status w4a16_checkpoint_write(const char *dir, const w4a16_tensor_list *tensors,
                                    const json_t *config);
/* dir/config.json alone, indented, through dir/config.json.tmp and a rename. */
w4a16_status w4a16_checkpoint_write_config(const char *dir, const json_t *config);

#endif
