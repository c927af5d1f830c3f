/* `w4a16 bench`: every kernel against cuBLAS over a sweep of shapes and M. */
#ifndef W4A16_TOOLS_BENCH_H
#define W4A16_TOOLS_BENCH_H

#include "kernels.h"
#include "sweep.h"

typedef struct {
    sweep sw;                 /* one dtype, one group size, one zero-point kind */
    int kernel_enabled[KERNELS_MAX]; /* by kernel_index: 1 = time this kernel */
    const char *json_path;    /* NULL: no JSON */
} bench_options;

/* Runs the sweep on device 0; returns the process exit code. */
int bench_run(const bench_options *options);

#endif
