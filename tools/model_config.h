/* The model's config.json that convert and quantize carry into OUT_DIR:
 * the input's own (found beside the weights), with quantization_config
 * replaced, or a minimal one when the input has none. */
#ifndef W4A16_TOOLS_MODEL_CONFIG_H
#define W4A16_TOOLS_MODEL_CONFIG_H

#include <jansson.h>

#include "w4a16.h"

/* The folder a checkpoint path's config sits in: the path itself when it is
 * a folder, else the file's folder. A fresh string (free it), or NULL. */
char *checkpoint_folder(const char *path);

/* Reads FOLDER/config.json into *out (a new object; an empty one when the
 * file is absent). Returns 0, or reports one line and returns exit code 1
 * when it cannot be read or is not a JSON object. */
int model_config_load(const char *command, const char *folder, json_t **out);

/* Sets config's "torch_dtype" (and "dtype", the name newer transformers
 * write, where present) to what the weights hold: "float16", "bfloat16"
 * or "float32". Other dtypes leave the config as it is. */
void model_config_set_dtype(json_t *config, w4a16_dtype dtype);

/* 1 when the folder holds a config that declares a format (config.json,
 * quant_config.json or quantize_config.json). */
int checkpoint_has_config(const char *folder);

#endif
