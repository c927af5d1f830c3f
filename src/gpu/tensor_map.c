/* TMA tensor maps (see tensor_map.h). */
#include "gpu/tensor_map.h"

#include <cudaTypedefs.h>
#include <pthread.h>

static PFN_cuTensorMapEncodeTiled_v12000 encode_tiled;
static cudaError_t encode_tiled_error = cudaSuccess;
static pthread_once_t encode_tiled_once = PTHREAD_ONCE_INIT;

static void fetch_encode_tiled(void) {
    void *fn = NULL;
    enum cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    encode_tiled_error = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000,
                                                          cudaEnableDefault, &found);
    if (encode_tiled_error == cudaSuccess && (found != cudaDriverEntryPointSuccess || fn == NULL))
        encode_tiled_error = cudaErrorSymbolNotFound;
    if (encode_tiled_error == cudaSuccess) encode_tiled = (PFN_cuTensorMapEncodeTiled_v12000)fn;
}

cudaError_t w4a16_sm90_encode_tile_map(CUtensorMap *map, const void *matrix, w4a16_dtype dtype,
                                       int64_t cols, int64_t rows, int64_t ld, int box_rows) {
    pthread_once(&encode_tiled_once, fetch_encode_tiled);
    if (encode_tiled_error != cudaSuccess) return encode_tiled_error;
    const cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows};
    const cuuint64_t strides[1] = {(cuuint64_t)ld * 2}; /* bytes between rows */
    const cuuint32_t box[2] = {64, (cuuint32_t)box_rows};
    const cuuint32_t element_strides[2] = {1, 1};
    CUresult r = encode_tiled(map,
                              dtype == W4A16_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                                  : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                              2, (void *)matrix, dims, strides, box, element_strides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}
