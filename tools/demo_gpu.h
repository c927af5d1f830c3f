/* The GPU part of `w4a16 demo`: given the quantized layer the demo read back
 * from its checkpoint and the activations it checked on the CPU, pack the
 * layer, run the GEMM, check it against the same reference rows, and time it.
 * Without a GPU (or a CPU-only build) it says that it skipped, and why. */
#ifndef W4A16_TOOLS_DEMO_GPU_H
#define W4A16_TOOLS_DEMO_GPU_H

#include <stdint.h>

#include "w4a16.h"

typedef struct {
    const char *name;              /* "qwen3-4b gate_up" */
    const w4a16_source *source;    /* the layer as read back: host memory */
    int64_t n, k;                  /* W is [n, k] */
    w4a16_dtype act_dtype;         /* F16 or BF16: A and C */
    const void *A;                 /* host, [m, k] row-major of act_dtype */
    int64_t m;
    const int64_t *ref_rows;       /* the rows of A (and C) the reference computed */
    int64_t n_ref_rows;
    const double *C_ref;           /* host, [n_ref_rows, n]: fp64 reference of those rows */
    double tolerance_floor;        /* DESIGN.md §1's floor for act_dtype */
} demo_layer;

/* Returns an exit code: 0 (ran and passed, or skipped), 1 (failed to run),
 * 3 (wrong results). Prints what it did on stdout. */
int demo_gpu(const demo_layer *layer);

#endif
