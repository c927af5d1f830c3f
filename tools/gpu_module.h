/* The GPU commands live in a module of their own, w4a16-gpu.so, that the
 * program loads (dlopen) only when one of them runs, so that inspect,
 * convert, quantize, demo's CPU part and --help run on machines without the
 * CUDA libraries: the program itself links no CUDA library, the module links
 * the whole library with its CUDA runtime and cuBLAS. This header is the
 * contract between the two; a module of another contract version is refused.
 *
 * Adding a GPU command: its cmd_NAME.c under tools/gpu/, a row in the
 * module's table (tools/gpu/gpu_module.c) and one in the program's
 * (tools/main.c, run by gpu_module_command). */
#ifndef W4A16_TOOLS_GPU_MODULE_H
#define W4A16_TOOLS_GPU_MODULE_H

#include "demo_gpu.h"

#define W4A16_GPU_MODULE_VERSION 1
#define W4A16_GPU_MODULE_FILE "w4a16-gpu.so"
#define W4A16_GPU_MODULE_ENTRY "w4a16_gpu_module_entry"

typedef struct {
    int version; /* W4A16_GPU_MODULE_VERSION */
    /* Runs the GPU command argv[0] ("check", "bench", ...) with the program's
     * conventions (commands.h); 2 for a name it does not know. */
    int (*run_command)(int argc, char **argv);
    /* The GPU part of `w4a16 demo` (demo_gpu.h). */
    int (*demo)(const demo_layer *layer);
} w4a16_gpu_module;

/* The module's one exported function. */
typedef const w4a16_gpu_module *(*w4a16_gpu_module_entry_fn)(void);

/* ---- the program's side (tools/gpu_module.c) */

/* The module, loaded on first use: W4A16_GPU_MODULE if set, else
 * w4a16-gpu.so beside the program (the build tree), else in
 * ../<libdir>/w4a16/ from it (an installed tree). NULL with the reason in
 * why (the loader's message naming the CUDA library it could not find). */
const w4a16_gpu_module *gpu_module_load(char *why, size_t why_size);
/* A GPU command for the program's table: loads the module and runs argv[0];
 * when the module cannot be loaded, one line on stderr says why and that
 * the GPU commands need the CUDA runtime and cuBLAS, and returns 1. */
int gpu_module_command(int argc, char **argv);
/* demo's GPU part through the module; says that it skipped (exit 0) when the
 * module cannot be loaded, as when there is no GPU. */
int gpu_module_demo(const demo_layer *layer);

#endif
