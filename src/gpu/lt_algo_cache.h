/* The fallback's cuBLASLt algorithms, remembered per ctx: a model's layers
 * cycle through a few GEMMs, and asking cublasLtMatmulAlgoGetHeuristic again
 * on each call is host time spent for the same answer. The key is
 * everything the heuristic is told, so a hit gives the algorithm the
 * heuristic would give again (it is deterministic for one handle and
 * device): the same kernel, the same bits. Plain C, no CUDA header, so the
 * lookup is tested on the CPU (tests/test_lt_algo_cache.c). */
#ifndef W4A16_GPU_LT_ALGO_CACHE_H
#define W4A16_GPU_LT_ALGO_CACHE_H

#include <stdint.h>

#include "w4a16.h"

enum {
    /* Algorithms remembered: a model's few layer shapes, each at the M it
     * is called with, and its chunks when W is split. */
    W4A16_LT_ALGOS = 32,
};

/* What the heuristic is asked (cublaslt_gemm.c): sizes in elements,
 * alignments of the base addresses in bytes, up to 256. */
typedef struct {
    w4a16_dtype dtype;
    int64_t rows, k, ldw, M, lda, ldc;
    uint32_t w_align, a_align, c_align; /* C's is D's too: C is written in place */
    uint32_t bias_align;                /* 0: no bias, no epilogue */
    uint64_t workspace_bytes;
} w4a16_lt_algo_key;

/* A copy of cublasLtMatmulAlgo_t (uint64_t data[8] in cublasLt.h, checked
 * there), opaque here so this file needs no CUDA header. */
typedef struct {
    uint64_t data[8];
} w4a16_lt_algo;

typedef struct {
    w4a16_lt_algo_key key;
    w4a16_lt_algo algo;
} w4a16_lt_algo_entry;

/* Zeroed: empty. Full, the oldest entry is replaced (round-robin). */
typedef struct {
    w4a16_lt_algo_entry entries[W4A16_LT_ALGOS];
    int n_entries, next_entry;
} w4a16_lt_algo_cache;

/* 1 and *algo set when `key` is remembered; 0 and *algo untouched otherwise. */
int w4a16_lt_algo_lookup(const w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                         w4a16_lt_algo *algo);

/* Remembers `algo` for `key` (which the caller has just looked up and missed). */
void w4a16_lt_algo_remember(w4a16_lt_algo_cache *cache, const w4a16_lt_algo_key *key,
                            const w4a16_lt_algo *algo);

#endif
