/* The checkpoint that quantize and convert write, streamed: OUT_DIR checked
 * before any work; the output tensors laid out first (names, dtypes,
 * shapes) and written into shards as each layer is produced, tensors the
 * input carries over unchanged copied in pieces, so that memory holds one
 * layer at a time (the input's mapped pages are given back as they are
 * used); then config.json, the model folder's other files, and the previous
 * checkpoint's weight files the new one does not use removed (--force). A
 * failure leaves no new file behind, and no OUT_DIR that it created. */
#ifndef W4A16_TOOLS_CHECKPOINT_OUTPUT_H
#define W4A16_TOOLS_CHECKPOINT_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/shard_writer.h"
#include "w4a16.h"

typedef struct {
    const char *command;
    const char *input;        /* CHECKPOINT as given */
    const char *out_dir;
    int force;
    uint64_t max_shard_bytes; /* --max-shard-size */
    int threads;              /* --threads */
} output_options;

/* The shared options' help lines and parsing: --max-shard-size and --threads. */
#define OUTPUT_OPTIONS_HELP                                                                  \
    "  --max-shard-size SIZE  largest weight file: 5GB (default), 500MB, 2GiB or bytes;\n"   \
    "                 more than that goes into model-0000i-of-0000N.safetensors shards\n"      \
    "                 with model.safetensors.index.json\n"                                    \
    "  --threads N    threads sharing each layer's rows (default: every core), and\n"        \
    "                 with more than one, one more writing the previous layer's; the\n"     \
    "                 output is the same bytes for any N\n"
/* Fills max_shard_bytes and threads from the option texts (NULL: the
 * defaults); 0, or the usage exit code after reporting. */
int output_options_parse(output_options *options, const char *max_shard_size, const char *threads);

typedef struct {
    const output_options *options;
    const w4a16_checkpoint *input;
    w4a16_tensor_list plan;     /* every output tensor, data NULL, in the order produced */
    w4a16_shard_writer *writer;
    struct write_queue *queue;  /* the writing thread, with more than one thread */
    int created_dir;            /* OUT_DIR did not exist: removed again on failure */
    int committed;
} checkpoint_output;

/* Checks OUT_DIR (out_dir.h): 0, or 1 after reporting. Call before any work. */
int output_check(const output_options *options);
/* Starts an output for the tensors that will be added to out->plan. */
void output_init(checkpoint_output *out, const output_options *options,
                 const w4a16_checkpoint *input);
/* Creates OUT_DIR and the shards' .tmp files for the plan. */
int output_open(checkpoint_output *out);
/* Writes produced tensors (each one of the plan, with its data), taking the
 * list (left empty). With more than one thread the writing thread does it
 * while the caller goes on to the next layer (write_queue.h). */
int output_put(checkpoint_output *out, w4a16_tensor_list *tensors);
/* Copies a tensor of the input unchanged, in pieces, giving back the input's
 * pages as it goes; on the writing thread too. */
int output_copy(checkpoint_output *out, const w4a16_tensor_info *tensor);
/* Gives back the input pages of a tensor once it is no longer needed. */
void output_release(checkpoint_output *out, const w4a16_tensor_info *tensor);
/* Starts reading a tensor of the input that will be needed next, so that the
 * disk works while the threads compute (an input larger than the page cache
 * is read from disk). */
void output_prefetch(checkpoint_output *out, const w4a16_tensor_info *tensor);
/* Renames the shards into place and writes the index, config.json, the
 * model folder's other files (when the input is a model folder: one that
 * holds config.json), then removes the previous checkpoint's weight files
 * that the new one does not use. *carried counts the files copied. */
int output_finish(checkpoint_output *out, const json_t *config, int64_t *carried);
/* Frees; before output_finish succeeded, removes what the output wrote. */
void output_free(checkpoint_output *out);

#endif
