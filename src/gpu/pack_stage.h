/* The pack kernels' view of each source: device sources are read in place;
 * host sources are copied to the device first, only the box of words,
 * zeros and scales the slice needs (so staging takes about the packed size
 * of the slice; an act-order K-slice also takes the scales and zeros of
 * every group), stream-ordered and freed on the stream. */
#ifndef W4A16_GPU_PACK_STAGE_H
#define W4A16_GPU_PACK_STAGE_H

#include <cuda_runtime_api.h>

#include "cuda/kernels.h"
#include "packed/pack_plan.h"

/* Device buffers made while staging, freed with w4a16_stage_free. */
typedef struct {
    void *buffers[3 * W4A16_PACK_MAX_SOURCES + 2]; /* per source 3; group_of and perm */
    int count;
} w4a16_staging;

/* Copies `bytes` of host memory to a new stream-ordered device buffer. */
w4a16_status w4a16_stage_copy(w4a16_staging *staging, const void *host, size_t bytes,
                              cudaStream_t stream, void **device);

/* Fills args->src[] and args->n_sources with the sources the slice uses,
 * staging host sources. source_groups: [g_begin, g_end) of source groups
 * the packed groups map to. */
w4a16_status w4a16_stage_sources(const w4a16_pack_plan *plan, const w4a16_source *sources,
                                 int64_t g_begin, int64_t g_end, cudaStream_t stream,
                                 w4a16_staging *staging, w4a16_pack_args *args);

/* Frees the staging buffers once the stream's work before this point is done. */
void w4a16_stage_free(w4a16_staging *staging, cudaStream_t stream);

#endif
