/* The streamed output of quantize and convert (see checkpoint_output.h). */
#include "checkpoint_output.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "commands.h"
#include "failure.h"
#include "model_config.h"
#include "model_files.h"
#include "out_dir.h"
#include "parallel.h"
#include "write_queue.h"

/* Bytes written at a time: a tensor passed through from the input keeps only
 * this much of itself resident (embeddings can be a GB). */
#define PIECE_BYTES ((uint64_t)64 << 20)

int output_options_parse(output_options *options, const char *max_shard_size, const char *threads) {
    options->max_shard_bytes = W4A16_DEFAULT_SHARD_BYTES;
    options->threads = parallel_default_threads();
    if (max_shard_size != NULL &&
        w4a16_parse_shard_size(max_shard_size, &options->max_shard_bytes) != W4A16_OK)
        return usage_error(options->command, "--max-shard-size: %s", w4a16_last_error());
    long long count = options->threads;
    if (threads != NULL && !args_parse_int(options->command, "--threads", threads, 1,
                                           PARALLEL_MAX_THREADS, &count))
        return EXIT_USAGE;
    options->threads = (int)count;
    return 0;
}

int output_check(const output_options *options) {
    return out_dir_check(options->command, options->out_dir, options->force, options->input);
}

void output_init(checkpoint_output *out, const output_options *options,
                 const w4a16_checkpoint *input) {
    memset(out, 0, sizeof *out);
    out->options = options;
    out->input = input;
}


/* One tensor's bytes, in pieces; release_input gives back the input's pages
 * of each piece once written. */
static int put(checkpoint_output *out, const char *name, const char *data, uint64_t bytes,
               int release_input) {
    int64_t index = w4a16_shard_writer_find(out->writer, name);
    if (index < 0) return tool_fail(out->options->command, "%s was not laid out for writing", name);
    for (uint64_t at = 0; at < bytes; at += PIECE_BYTES) {
        uint64_t piece = bytes - at < PIECE_BYTES ? bytes - at : PIECE_BYTES;
        w4a16_status st = w4a16_shard_writer_put(out->writer, index, at, data + at, piece);
        if (st != W4A16_OK) return tool_fail_status(out->options->command, st, name);
        if (release_input) w4a16_ckpt_release(out->input, data + at, piece);
    }
    return 0;
}

/* A job of the writing thread, or written in place with one thread. */
static int write_now(void *context, const w4a16_tensor_list *tensors, const w4a16_tensor_info *copy) {
    checkpoint_output *out = context;
    if (copy != NULL) return put(out, copy->name, copy->data, copy->nbytes, 1);
    for (int64_t i = 0; i < tensors->count; i++) {
        const w4a16_st_write_tensor *t = &tensors->tensors[i];
        uint64_t bytes = 0;
        w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &bytes);
        int rc = put(out, t->name, t->data, bytes, 0);
        if (rc != 0) return rc;
    }
    return 0;
}

int output_put(checkpoint_output *out, w4a16_tensor_list *tensors) {
    if (out->queue != NULL) return write_queue_push(out->queue, tensors, NULL);
    int rc = write_now(out, tensors, NULL);
    w4a16_tensor_list_free(tensors);
    return rc;
}

int output_copy(checkpoint_output *out, const w4a16_tensor_info *tensor) {
    if (out->queue != NULL) return write_queue_push(out->queue, NULL, tensor);
    return write_now(out, NULL, tensor);
}

int output_open(checkpoint_output *out) {
    const output_options *o = out->options;
    int rc = out_dir_create(o->command, o->out_dir, &out->created_dir);
    if (rc != 0) return rc;
    w4a16_status st = w4a16_shard_writer_create(o->out_dir, out->plan.tensors, out->plan.count,
                                                o->max_shard_bytes, &out->writer);
    if (st != W4A16_OK) return tool_fail_status(o->command, st, NULL);
    if (o->threads > 1) {
        out->queue = write_queue_start(o->command, write_now, out);
        if (out->queue == NULL) return EXIT_FAILURE_INPUT;
    }
    return 0;
}

void output_release(checkpoint_output *out, const w4a16_tensor_info *tensor) {
    w4a16_ckpt_release(out->input, tensor->data, tensor->nbytes);
}

void output_prefetch(checkpoint_output *out, const w4a16_tensor_info *tensor) {
    w4a16_ckpt_prefetch(out->input, tensor->data, tensor->nbytes);
}

/* The input's other files, when it is a model folder (one with config.json). */
static int carry_model_files(const output_options *o, int64_t *carried) {
    char *folder = checkpoint_folder(o->input);
    char *config = folder ? path_join(folder, "config.json") : NULL;
    struct stat st;
    int rc = config == NULL ? tool_fail(o->command, "out of memory")
             : stat(config, &st) == 0 ? model_files_copy(o->command, folder, o->out_dir, carried)
                                      : 0;
    free(config);
    free(folder);
    return rc;
}

int output_finish(checkpoint_output *out, const json_t *config, int64_t *carried) {
    const output_options *o = out->options;
    *carried = 0;
    int failed = write_queue_finish(out->queue);
    out->queue = NULL;
    if (failed) return EXIT_FAILURE_INPUT; /* reported by the writing thread */
    w4a16_status st = w4a16_shard_writer_commit(out->writer);
    if (st != W4A16_OK) return tool_fail_status(o->command, st, o->out_dir);
    out->committed = 1;
    st = w4a16_checkpoint_write_config(o->out_dir, config);
    if (st != W4A16_OK) return tool_fail_status(o->command, st, o->out_dir);
    int rc = carry_model_files(o, carried);
    int64_t count = w4a16_shard_writer_file_count(out->writer);
    const char **keep = calloc((size_t)count, sizeof *keep);
    if (rc == 0 && keep == NULL) rc = tool_fail(o->command, "out of memory");
    for (int64_t i = 0; rc == 0 && i < count; i++) keep[i] = w4a16_shard_writer_file_name(out->writer, i);
    if (rc == 0) rc = out_dir_remove_stale(o->command, o->out_dir, keep, count);
    free(keep);
    return rc;
}

void output_free(checkpoint_output *out) {
    write_queue_finish(out->queue);
    out->queue = NULL;
    w4a16_shard_writer_free(out->writer); /* removes the .tmp files unless committed */
    if (!out->committed && out->created_dir) rmdir(out->options->out_dir);
    w4a16_tensor_list_free(&out->plan);
    out->writer = NULL;
}
