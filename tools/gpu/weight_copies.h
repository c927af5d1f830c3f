/* Copies of one weight, packed (for the kernels) and dense 16-bit (for
 * cuBLAS), enough of each that cycling through them passes twice the L2:
 * every timed call then reads its weight from device memory, as a serving
 * engine's layers do. And the enqueue functions that run a GEMM on copy
 * i % copies, for bench_timing's graphs. */
#ifndef W4A16_TOOLS_WEIGHT_COPIES_H
#define W4A16_TOOLS_WEIGHT_COPIES_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "dense_gemm.h"
#include "w4a16.h"

/* Tiny layers would need thousands of copies to pass the L2; they stay in
 * it anyway at this many. */
#define WEIGHT_COPIES_MAX 64

typedef struct {
    int64_t n, k;
    w4a16_dtype dtype;           /* activation dtype */
    w4a16_weight packed[WEIGHT_COPIES_MAX];
    w4a16_buffers *packed_owner[WEIGHT_COPIES_MAX];
    int n_packed;
    double packed_bytes;         /* one packed copy: weight + scales + zeros */
    void *dense[WEIGHT_COPIES_MAX];
    int n_dense;
} weight_copies;

/* Packs source (host or device memory) into copies; 1 on success. */
int weight_copies_pack(weight_copies *w, w4a16_ctx *ctx, const w4a16_source *source,
                       w4a16_dtype dtype, size_t l2_bytes, cudaStream_t stream);
/* Uploads a host [n, k] weight of 16-bit values into dense copies, after
 * weight_copies_pack (which sets n, k and dtype); 1 on success. */
int weight_copies_dense(weight_copies *w, const uint16_t *host, size_t l2_bytes);
void weight_copies_free(weight_copies *w);

/* One call of a timed loop: C[m, n] = A[m, k] · (copy i % copies)ᵀ. */
typedef struct {
    const weight_copies *w;
    w4a16_ctx *ctx;       /* packed calls */
    dense_gemm *cublas;   /* dense calls; bound to the stream the loop runs on */
    const void *A;
    void *C;
    int64_t m;
} gemm_call;

/* enqueue_fn for bench_timing: w4a16_gemm on packed copies. */
int gemm_call_packed(void *call_args, int call, cudaStream_t stream);
/* enqueue_fn for bench_timing: cuBLAS on dense copies. */
int gemm_call_dense(void *call_args, int call, cudaStream_t stream);
/* w4a16_gemm on copy 0, returning its status (no message printed). */
w4a16_status gemm_call_try(const gemm_call *g, cudaStream_t stream);

#endif
