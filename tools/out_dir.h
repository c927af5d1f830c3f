/* The output folder of commands that write a checkpoint (convert, quantize). */
#ifndef W4A16_TOOLS_OUT_DIR_H
#define W4A16_TOOLS_OUT_DIR_H

/* Checks, before any work, that `dir` may be written: absent, an empty
 * folder, or (with `force`) a folder whose model.safetensors and config.json
 * will be overwritten, other files left alone. Returns 0, or reports one
 * line on stderr and returns exit code 1. */
int out_dir_check(const char *command, const char *dir, int force);
/* Creates `dir` and its parents when absent; 0, or 1 after reporting. */
int out_dir_create(const char *command, const char *dir);

/* dir + "/" + name in a fresh string (free it); NULL when out of memory. */
char *path_join(const char *dir, const char *name);

#endif
