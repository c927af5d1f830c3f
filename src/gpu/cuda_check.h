/* Checking CUDA runtime and cuBLAS calls: on failure, record the expression,
 * file:line and the error's name and text as the last error, then return
 * W4A16_ERR_CUDA (W4A16_ERR_NOMEM for an allocation that ran out). */
#ifndef W4A16_GPU_CUDA_CHECK_H
#define W4A16_GPU_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "common/error.h"

w4a16_status w4a16_cuda_fail(cudaError_t error, const char *expr, const char *file, int line);
w4a16_status w4a16_cublas_fail(cublasStatus_t status, const char *expr, const char *file,
                               int line);

/* The result of a CUDA call in cleanup code, which has no one to report to:
 * a failure is dropped, and cleared, so that it is not left pending for the
 * caller's next call (which would take it for its own). */
void w4a16_cuda_cleanup(cudaError_t error);

/* At the entry of a call, after its argument checks: an error still pending
 * from the caller's earlier work on this thread (a failed launch, a bad
 * cudaMemcpy) fails the call with W4A16_ERR_CUDA and a message saying it is
 * not this call's, and is cleared. Then every later cudaGetLastError() in
 * the call is the call's own. `call` names it ("w4a16_gemm"). */
w4a16_status w4a16_cuda_check_pending(const char *call);

/* cudaMalloc of `bytes` for `what` ("the ctx workspace"); a failure names
 * both (W4A16_ERR_NOMEM when out of memory) and leaves *ptr NULL. */
w4a16_status w4a16_device_alloc(void **ptr, size_t bytes, const char *what);

#define CUDA_TRY(expr)                                                                     \
    do {                                                                                   \
        cudaError_t cuda_error_ = (expr);                                                  \
        if (cuda_error_ != cudaSuccess)                                                    \
            return w4a16_cuda_fail(cuda_error_, #expr, __FILE__, __LINE__);                \
    } while (0)

#define CUBLAS_TRY(expr)                                                                   \
    do {                                                                                   \
        cublasStatus_t cublas_status_ = (expr);                                            \
        if (cublas_status_ != CUBLAS_STATUS_SUCCESS)                                       \
            return w4a16_cublas_fail(cublas_status_, #expr, __FILE__, __LINE__);           \
    } while (0)

/* Same, storing the status in `st` and jumping to a cleanup label. */
#define CUDA_TRY_GOTO(st, expr, label)                                                     \
    do {                                                                                   \
        cudaError_t cuda_error_ = (expr);                                                  \
        if (cuda_error_ != cudaSuccess) {                                                  \
            (st) = w4a16_cuda_fail(cuda_error_, #expr, __FILE__, __LINE__);                \
            goto label;                                                                    \
        }                                                                                  \
    } while (0)

#define CUBLAS_TRY_GOTO(st, expr, label)                                                   \
    do {                                                                                   \
        cublasStatus_t cublas_status_ = (expr);                                            \
        if (cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                     \
            (st) = w4a16_cublas_fail(cublas_status_, #expr, __FILE__, __LINE__);           \
            goto label;                                                                    \
        }                                                                                  \
    } while (0)

#endif
