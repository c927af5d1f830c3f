/* TMA tensor maps for the Hopper kernel. cuTensorMapEncodeTiled is a driver
 * entry point: it is fetched at run time through the CUDA runtime
 * (cudaGetDriverEntryPointByVersion) so that nothing links libcuda and the
 * binaries load on machines without a GPU driver. */
#ifndef W4A16_GPU_TENSOR_MAP_H
#define W4A16_GPU_TENSOR_MAP_H

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "w4a16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The map of a 16-bit matrix [rows][cols] (`dtype`, row pitch `ld`
 * elements) in boxes of 64 columns x box_rows rows with 128-byte swizzle: A,
 * read as the Hopper kernel's B operand (reads past cols or rows come back as
 * zeros), and C, written by its epilogue (writes past rows are dropped, past
 * cols only in 16-byte steps: the caller keeps cols a multiple of 8). The
 * matrix must be 16-byte aligned and ld a multiple of 8 (the caller checked).
 * Returns cudaErrorInvalidValue when the driver refuses the map, and the
 * entry point's error when it cannot be fetched. */
cudaError_t w4a16_sm90_encode_tile_map(CUtensorMap *map, const void *matrix, w4a16_dtype dtype,
                                       int64_t cols, int64_t rows, int64_t ld, int box_rows);

#ifdef __cplusplus
}
#endif
#endif
