/* Messages for failed CUDA and cuBLAS calls. */
#include "cuda_check.h"

#include <string.h>

/* Only the file's name: build paths say nothing useful. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

w4a16_status w4a16_cuda_fail(cudaError_t error, const char *expr, const char *file, int line) {
    /* Clear the non-sticky error so the next call does not see it. */
    (void)cudaGetLastError();
    w4a16_status status =
        error == cudaErrorMemoryAllocation ? W4A16_ERR_NOMEM : W4A16_ERR_CUDA;
    return w4a16_fail(status, "%s failed at %s:%d: %s (%s)", expr, base_name(file), line,
                      cudaGetErrorName(error), cudaGetErrorString(error));
}

w4a16_status w4a16_cublas_fail(cublasStatus_t status, const char *expr, const char *file,
                               int line) {
    w4a16_status code = status == CUBLAS_STATUS_ALLOC_FAILED ? W4A16_ERR_NOMEM : W4A16_ERR_CUDA;
    return w4a16_fail(code, "%s failed at %s:%d: %s (%s)", expr, base_name(file), line,
                      cublasGetStatusName(status), cublasGetStatusString(status));
}

void w4a16_cuda_cleanup(cudaError_t error) {
    if (error != cudaSuccess) (void)cudaGetLastError();
}

w4a16_status w4a16_cuda_check_pending(const char *call) {
    cudaError_t pending = cudaGetLastError();
    W4A16_FAIL_IF(pending != cudaSuccess, W4A16_ERR_CUDA,
                  "%s: a CUDA error was pending from earlier work on this thread, not from this "
                  "call: %s (%s); nothing was queued",
                  call, cudaGetErrorName(pending), cudaGetErrorString(pending));
    return W4A16_OK;
}

w4a16_status w4a16_device_alloc(void **ptr, size_t bytes, const char *what) {
    cudaError_t error = cudaMalloc(ptr, bytes);
    if (error == cudaSuccess) return W4A16_OK;
    *ptr = NULL;
    w4a16_status status = w4a16_cuda_fail(error, "cudaMalloc", __FILE__, __LINE__);
    return w4a16_fail_context(status, "%s (%zu bytes)", what, bytes);
}
