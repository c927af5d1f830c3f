/* The opened checkpoint behind the public w4a16_checkpoint handle: its
 * safetensors files (one, or the shards of an index), every tensor across
 * them in name order, and the layers found in them. locate.c finds the
 * weights, checkpoint.c opens and closes it, shards.c gathers the files and
 * tensors, layers.c finds the layers, layer_read.c checks one layer's tensors
 * and builds its source. */
#ifndef W4A16_CHECKPOINT_CHECKPOINT_H
#define W4A16_CHECKPOINT_CHECKPOINT_H

#include "checkpoint/config.h"
#include "checkpoint/safetensors.h"
#include "w4a16.h"

typedef struct {
    const w4a16_st_tensor *st; /* lives in files[file] */
    int32_t file;
    int32_t layer; /* quantized layer it belongs to, or -1 */
} w4a16_ckpt_tensor;

typedef struct {
    w4a16_layer_info info; /* name and reason are owned: freed on close */
    w4a16_source source;   /* filled when info.status is QUANTIZED */
} w4a16_ckpt_layer;

struct w4a16_checkpoint {
    w4a16_format format;
    w4a16_st_file *files;
    int64_t file_count;
    w4a16_ckpt_tensor *tensors; /* sorted by name, unique */
    int64_t tensor_count;
    w4a16_ckpt_layer *layers; /* sorted by name */
    int64_t layer_count;
    void **copies; /* aligned copies of tensors the files store misaligned */
    int64_t copy_count;
};

enum { W4A16_CKPT_PATH_BYTES = 4096 };

/* The weights `path` names (a .safetensors file, an index, or what a folder
 * holds: model.safetensors, model.safetensors.index.json, quantize_config.json's
 * model_file_base_name + .safetensors or .safetensors.index.json, else the only
 * index or the only .safetensors file) and the folder its config sits in.
 * W4A16_ERR_ARG, listing them, when a folder holds several and no rule picks one. */
w4a16_status w4a16_ckpt_locate(const char *path, char weights[W4A16_CKPT_PATH_BYTES],
                               char dir[W4A16_CKPT_PATH_BYTES], int *is_index);

/* Opens a single .safetensors file, or every shard a model.safetensors.index.json
 * names, and lists their tensors (W4A16_ERR_FORMAT for a tensor in two shards or
 * a weight_map entry naming a missing tensor or file). */
w4a16_status w4a16_ckpt_open_files(w4a16_checkpoint *ckpt, const char *path, int is_index);

/* The tensor named "prefix.suffix" (its list entry, or itself), or NULL. */
w4a16_ckpt_tensor *w4a16_ckpt_find_entry(const w4a16_checkpoint *ckpt, const char *prefix,
                                         const char *suffix);
const w4a16_st_tensor *w4a16_ckpt_find_tensor(const w4a16_checkpoint *ckpt, const char *prefix,
                                              const char *suffix);

/* w4a16_st_release / w4a16_st_prefetch on whichever of the checkpoint's
 * files maps the range. */
void w4a16_ckpt_release(const w4a16_checkpoint *ckpt, const void *data, uint64_t bytes);
void w4a16_ckpt_prefetch(const w4a16_checkpoint *ckpt, const void *data, uint64_t bytes);

/* Finds the layers of ckpt->format under config, reads each, and marks the
 * tensors they own. W4A16_ERR_FORMAT when a quantized format has no readable
 * quantized layer. */
w4a16_status w4a16_ckpt_find_layers(w4a16_checkpoint *ckpt, const w4a16_quant_config *config,
                                    const char *origin);

/* The tensors of a quantized layer, named "prefix.<name>" (NULL: the format has
 * none). qweight marks a layer: a layer exists where that tensor does. */
typedef struct {
    const char *qweight, *qzeros, *scales, *g_idx, *shape;
} w4a16_layer_tensor_names;
const w4a16_layer_tensor_names *w4a16_ckpt_layer_tensor_names(w4a16_format format);

/* Checks the tensors of the quantized layer `prefix` against `format` and
 * `scheme`, and fills info (status, n, k, group_size, symmetric, act_order)
 * and source. A layer that cannot be read is not an error: info->status says
 * whether it is malformed or of a scheme we do not read, and reason why
 * (empty when readable). Errors only for allocation failure. */
w4a16_status w4a16_ckpt_read_layer(w4a16_checkpoint *ckpt, w4a16_format format,
                                   const w4a16_quant_scheme *scheme, const char *prefix,
                                   w4a16_layer_info *info, w4a16_source *source, char *reason,
                                   size_t reason_size);

#endif
