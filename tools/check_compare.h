/* What `w4a16 check` compares: sampled rows of C against the fp64
 * reference, and every element of C for NaN or never written. */
#ifndef W4A16_TOOLS_CHECK_COMPARE_H
#define W4A16_TOOLS_CHECK_COMPARE_H

#include <stdint.h>

#include "w4a16.h"

/* At most this many rows of C are compared with the reference. */
#define CHECK_MAX_ROWS 16

/* All rows when M <= CHECK_MAX_ROWS; otherwise one random row from each of
 * CHECK_MAX_ROWS equal strata, with the first and last rows of C always in
 * (edge tiles). Returns the count. */
int check_sample_rows(int64_t m, uint64_t *rng, int64_t *rows);

/* max |C - ref| / max |ref| over the sampled rows; C_rows is [n_rows, n]
 * of dtype (F16 or BF16), ref [n_rows, n]. NaN when C holds a NaN. */
double check_relative_error(const uint16_t *C_rows, w4a16_dtype dtype, const double *ref,
                            int64_t n_rows, int64_t n);

/* Elements of C [count] that are NaN or infinite (the poison is 0xFFFF, a NaN). */
int64_t check_count_nonfinite(const uint16_t *C, w4a16_dtype dtype, int64_t count);

/* docs/DESIGN.md §1: max(1.5 x e_cublas, 1e-3 for F16 / 8e-3 for BF16). */
double check_limit(double cublas_error, w4a16_dtype dtype);

#endif
