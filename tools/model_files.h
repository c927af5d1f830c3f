/* The rest of a model folder: tokenizer files, generation_config.json, chat
 * templates, README and the like, which convert and quantize carry into
 * OUT_DIR beside the new weights and config so that it is a loadable model. */
#ifndef W4A16_TOOLS_MODEL_FILES_H
#define W4A16_TOOLS_MODEL_FILES_H

#include <stdint.h>

/* 1 when a file of a model folder is carried over: a regular file (or a
 * link to one, as Hugging Face's cache keeps them) whose name does not start
 * with '.', is not config.json or a quantizer's own config
 * (quantize_config.json, quant_config.json, which the new config.json
 * replaces), and is not weights (*.safetensors and their index, *.bin,
 * *.pt, *.pth, *.ckpt, *.h5, *.msgpack, *.gguf) or a .tmp file. */
int model_file_is_carried(const char *name);

/* Copies the carried files of folder `from` into `to` (each through a .tmp
 * name and a rename), subfolders left out; *copied counts them. 0, or 1
 * after reporting one line. */
int model_files_copy(const char *command, const char *from, const char *to, int64_t *copied);

#endif
