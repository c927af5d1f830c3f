/* The output folder of commands that write a checkpoint (convert, quantize). */
#ifndef W4A16_TOOLS_OUT_DIR_H
#define W4A16_TOOLS_OUT_DIR_H

/* Creates `dir` (and its parents) when absent. A folder that exists and is
 * not empty is refused unless `force` (its files are then overwritten one
 * by one, others left alone). Returns 0, or reports one line on stderr and
 * returns exit code 1. */
int out_dir_prepare(const char *command, const char *dir, int force);

/* dir + "/" + name in a fresh string (free it); NULL when out of memory. */
char *path_join(const char *dir, const char *name);

#endif
