/* Writing a checkpoint's weights as they are produced, in shards of bounded
 * size, with Hugging Face's names: one model.safetensors when everything
 * fits in one shard, else model-00001-of-0000N.safetensors ... and
 * model.safetensors.index.json ({"metadata": {"total_size": bytes},
 * "weight_map": {tensor: file}}). Nothing holds the data: each tensor's
 * bytes go straight to its shard (safetensors.h's stream), so memory stays
 * what the producer holds. Every file is written under a .tmp name and
 * renamed only when all of them are complete. */
#ifndef W4A16_CHECKPOINT_SHARD_WRITER_H
#define W4A16_CHECKPOINT_SHARD_WRITER_H

#include <stdint.h>

#include "checkpoint/safetensors.h"
#include "w4a16.h"

typedef struct w4a16_shard_writer w4a16_shard_writer;

/* 5 GB, Hugging Face's default shard size (decimal units, as it counts them). */
#define W4A16_DEFAULT_SHARD_BYTES UINT64_C(5000000000)

/* Lays out the files for tensors (their data is not read) in dir, which must
 * exist. Shards fill greedily in the order given, as Hugging Face splits a
 * state dict: the next tensor starts a new shard when it would take the
 * current one past max_shard_bytes (tensor bytes, headers not counted); a
 * tensor larger than the limit gets a shard of its own. max_shard_bytes 0:
 * one file whatever the size. Creates the .tmp files (room reserved). */
w4a16_status w4a16_shard_writer_create(const char *dir, const w4a16_st_write_tensor *tensors,
                                       int64_t count, uint64_t max_shard_bytes,
                                       w4a16_shard_writer **out);
/* Index of the tensor with this name in the array given to create, or -1. */
int64_t w4a16_shard_writer_find(const w4a16_shard_writer *writer, const char *name);
/* Writes bytes [offset, offset + bytes) of tensors[index]; safe from several
 * threads at once for pieces that do not overlap. */
w4a16_status w4a16_shard_writer_put(w4a16_shard_writer *writer, int64_t index, uint64_t offset,
                                    const void *data, uint64_t bytes);
/* Checks that every byte of every tensor was put, then renames the shards
 * and writes the index. */
w4a16_status w4a16_shard_writer_commit(w4a16_shard_writer *writer);
/* The files of the checkpoint written (or to be written): the shards, then
 * the index when there is one. Names relative to dir. */
int64_t w4a16_shard_writer_file_count(const w4a16_shard_writer *writer);
const char *w4a16_shard_writer_file_name(const w4a16_shard_writer *writer, int64_t index);
/* Removes the .tmp files unless committed, and frees the writer; accepts NULL. */
void w4a16_shard_writer_free(w4a16_shard_writer *writer);

/* Parses "5GB", "500MB", "2GiB", "64KB" or a plain byte count, as Hugging
 * Face's max_shard_size does (KB/MB/GB are powers of 1000, KiB/MiB/GiB of
 * 1024); W4A16_ERR_ARG naming the text otherwise, or for 0. */
w4a16_status w4a16_parse_shard_size(const char *text, uint64_t *out);

#endif
