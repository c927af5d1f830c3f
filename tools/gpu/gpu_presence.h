/* Whether the GPU commands can run here: bench, check and tune exit 1 saying
 * that no CUDA device was found; demo skips its GPU part. */
#ifndef W4A16_TOOLS_GPU_PRESENCE_H
#define W4A16_TOOLS_GPU_PRESENCE_H

/* 1 when a CUDA device is present. */
int gpu_presence_found(void);
/* 1 when a CUDA device is present; otherwise prints
 * "w4a16 COMMAND: no CUDA device was found" and returns 0. */
int gpu_presence_require(const char *command);

#endif
