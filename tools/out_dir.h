/* The output folder of commands that write a checkpoint (convert, quantize,
 * demo --out). */
#ifndef W4A16_TOOLS_OUT_DIR_H
#define W4A16_TOOLS_OUT_DIR_H

#include <stdint.h>

/* Checks, before any work, that `dir` may be written: absent, an empty
 * folder, or (with `force`) any folder; never the folder input_path's
 * weights are in, nor (for a folder or an index) a folder inside it, since
 * the new checkpoint would replace or sit among the one being read.
 * input_path may be NULL. Returns 0, or reports one line on stderr and
 * returns exit code 1. */
int out_dir_check(const char *command, const char *dir, int force, const char *input_path);
/* Creates `dir` and its parents when absent; *created (may be NULL) says
 * whether dir itself is new. 0, or 1 after reporting. */
int out_dir_create(const char *command, const char *dir, int *created);
/* Removes the weight files of a previous checkpoint in dir
 * (model*.safetensors, model.safetensors.index.json) that are not among
 * keep[0..keep_count), and nothing else. 0, or 1 after reporting. */
int out_dir_remove_stale(const char *command, const char *dir, const char *const *keep,
                         int64_t keep_count);

/* dir + "/" + name in a fresh string (free it); NULL when out of memory. */
char *path_join(const char *dir, const char *name);
/* The absolute, canonical form of path (free it), which need not exist: an
 * absent path is resolved through its nearest existing parent. NULL with
 * errno set when it cannot be resolved. */
char *absolute_path(const char *path);

#endif
