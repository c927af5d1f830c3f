/* The fp64 reference (w4a16_ref_gemm) split over N across CPU threads: a
 * sampled-row check of a 19456x2560 layer is ~10^9 multiply-adds. */
#ifndef W4A16_TOOLS_REF_PARALLEL_H
#define W4A16_TOOLS_REF_PARALLEL_H

#include "w4a16.h"

/* As w4a16_ref_gemm with no bias: C [n_rows, w->n] for rows `rows` of A. */
w4a16_status ref_gemm_parallel(const w4a16_source *w, const void *A, w4a16_dtype a_dtype,
                               int64_t lda, const int64_t *rows, int64_t n_rows, double *C);

#endif
