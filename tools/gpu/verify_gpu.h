/* Reading a GEMM's output back from the device and measuring it: the
 * sampled rows against the fp64 reference, and every element for NaN, Inf
 * or never written (C is poisoned with 0xFFFF before each run). */
#ifndef W4A16_TOOLS_VERIFY_GPU_H
#define W4A16_TOOLS_VERIFY_GPU_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "w4a16.h"

typedef struct {
    double error;       /* max|C - C_ref| / max|C_ref| over the sampled rows; NaN if one is NaN */
    int64_t nonfinite;  /* elements of all of C that are NaN, Inf or unwritten */
} verify_result;

/* Fills C [m, n] (16-bit elements) with the poison, on stream. 1 on success. */
int verify_poison(void *C, int64_t m, int64_t n, cudaStream_t stream);

/* After the stream's work is done: copies C [m, n] back, scans it, and
 * compares rows[0..n_rows) with ref [n_rows, n]. scan_all = 0 skips the
 * full scan (nonfinite = 0; the sampled rows are still checked). 1 on success. */
int verify_output(const void *C, int64_t m, int64_t n, w4a16_dtype dtype, const int64_t *rows,
                  int n_rows, const double *ref, int scan_all, verify_result *out);

#endif
