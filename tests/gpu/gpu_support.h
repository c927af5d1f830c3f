/* Helpers for the GPU tests: skipping without a GPU, random quantized
 * weights in any checkpoint format, device buffers, and the accuracy
 * criterion of docs/DESIGN.md §1 -- a kernel's error against the fp64
 * reference must be within max(1.5 x e_cublas, floor), where e_cublas is
 * cuBLAS's own error on W rounded to the activation dtype, measured here
 * too. Failures of CUDA calls fail the test (cmocka's fail_msg). */
#ifndef W4A16_TESTS_GPU_SUPPORT_H
#define W4A16_TESTS_GPU_SUPPORT_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "w4a16.h"

/* 1 when a CUDA device is present; otherwise prints "no CUDA device:
 * skipping GPU tests" (once) and returns 0. */
int gpu_present(void);
/* What main returns: cmocka's result, or GPU_TESTS_SKIPPED when there is no
 * GPU and nothing failed, so that ctest reports the test as skipped
 * (SKIP_RETURN_CODE in tests/CMakeLists.txt) rather than passed. */
#define GPU_TESTS_SKIPPED 77
int gpu_tests_exit_code(int cmocka_result);
/* In a cmocka test: skip it when there is no GPU (after saying why). */
#define GPU_REQUIRED()                                                                     \
    do {                                                                                   \
        if (!gpu_present()) skip();                                                        \
    } while (0)

/* In a cmocka test: skip it unless the fixture `f` found a Hopper GPU. */
#define HOPPER_REQUIRED(f)                                                                 \
    do {                                                                                   \
        GPU_REQUIRED();                                                                    \
        if (!(f)->hopper) skip();                                                          \
    } while (0)

/* A ctx on device 0 forcing `kernel` through W4A16_KERNEL (set only while it
 * is created), with `workspace_bytes` of workspace (0: the default); NULL
 * when creation fails. */
w4a16_ctx *gpu_forced_ctx(const char *kernel, size_t workspace_bytes);

/* cmocka group setup and teardown for tests that only need a cuBLAS handle
 * (for the e_cublas of the criterion): gpu_cublas(state) is it, NULL
 * without a GPU. */
int gpu_cublas_setup(void **state);
int gpu_cublas_teardown(void **state);
cublasHandle_t gpu_cublas(void **state);

/* Fail the test when a CUDA / cuBLAS / w4a16 call fails, saying which. */
#define CUDA_CHECK(expr) gpu_check_cuda((expr), #expr, __FILE__, __LINE__)
#define CUBLAS_CHECK(expr) gpu_check_cublas((expr), #expr, __FILE__, __LINE__)
#define W4A16_CHECK(expr) gpu_check_w4a16((expr), #expr, __FILE__, __LINE__)
void gpu_check_cuda(cudaError_t error, const char *expr, const char *file, int line);
void gpu_check_cublas(cublasStatus_t status, const char *expr, const char *file, int line);
void gpu_check_w4a16(w4a16_status status, const char *expr, const char *file, int line);

/* ------------------------------------------------------------- weights */

typedef struct {
    w4a16_format format;     /* AWQ, GPTQ, GPTQ_V2 or CT */
    int64_t n, k, group_size; /* group_size -1: per-channel */
    int asymmetric;
    int act_order;           /* g_idx a random assignment of G columns per group */
    w4a16_dtype scales_dtype; /* F16, BF16 or F32 */
} gpu_weight_spec;

/* A random quantized weight as a checkpoint stores it, in host memory:
 * q uniform in 0..15, z in the format's range (1..16 for GPTQ v1, so z = 16
 * appears), scales uniform in [0.002, 0.02] exact in their dtype. */
typedef struct {
    gpu_weight_spec spec;
    w4a16_source src; /* host; points into the arrays below */
    int32_t *qweight, *qzeros, *g_idx;
    void *scales;
    size_t qweight_bytes, qzeros_bytes, scales_bytes;
} gpu_weight;

void gpu_weight_make(const gpu_weight_spec *spec, uint64_t seed, gpu_weight *out);
void gpu_weight_free(gpu_weight *w);
/* A random weight packed from host memory by ctx into library buffers, with
 * their owner: the packed case most tests start from. */
typedef struct {
    gpu_weight w;
    w4a16_weight packed;
    w4a16_buffers *owner;
} gpu_packed;
void gpu_packed_make(w4a16_ctx *ctx, const gpu_weight_spec *spec, w4a16_dtype act_dtype,
                     uint64_t seed, gpu_packed *out);
void gpu_packed_free(gpu_packed *p);
/* The same source in device memory (on_device = 1); free with gpu_source_free. */
w4a16_source gpu_source_upload(const gpu_weight *w);
void gpu_source_free(w4a16_source *src);
/* "awq g128 asym f16-scales act-order 512x1024", for failure messages. */
const char *gpu_weight_describe(const gpu_weight_spec *spec);

/* W (n x k, row-major) rounded to act_dtype, on the device: cuBLAS's input. */
void *gpu_dense_weight(const w4a16_source *host_src, w4a16_dtype act_dtype);

/* ------------------------------------------------------------- buffers */

void *gpu_alloc(size_t bytes);
void *gpu_upload(const void *host, size_t bytes); /* finished on return, like gpu_poison */
void gpu_download(void *host, const void *device, size_t bytes);
/* All bytes 0xff: NaN in F16 and BF16, so anything left unwritten shows. */
void gpu_poison(void *device, size_t bytes);
/* count uniform 16-bit values in [lo, hi) (F16 or BF16), on the host. */
uint16_t *gpu_random_halves(int64_t count, w4a16_dtype dtype, double lo, double hi,
                            uint64_t seed);

/* ------------------------------------------------------------ accuracy */

/* fp64 reference rows of C = A · Wᵀ (+ bias) for chosen rows of A. */
typedef struct {
    int64_t n, n_rows;
    int64_t *rows; /* ascending */
    double *C;     /* [n_rows][n] */
} gpu_reference;

/* Rows: for each M in ms, rows 0, M-2 and M-1, plus `extra` random rows
 * below max(ms); the reference is computed for all of them at once. */
void gpu_reference_make(const w4a16_source *host_src, const uint16_t *A, w4a16_dtype dtype,
                        int64_t lda, const uint16_t *bias, const int64_t *ms, int n_ms,
                        int extra, uint64_t seed, gpu_reference *out);
void gpu_reference_free(gpu_reference *ref);

/* cuBLAS GemmEx, fp32 compute, of C[M, n] = A[M, k] · W[n, k]ᵀ (+ bias via
 * beta = 1 on C pre-filled with it), the library's fallback's math. */
void gpu_cublas_gemm(cublasHandle_t handle, const void *W, w4a16_dtype dtype, int64_t n,
                     int64_t k, const void *A, int64_t lda, int64_t M, const void *bias, void *C,
                     int64_t ldc, cudaStream_t stream);

typedef struct {
    double err;      /* max |C - ref| / max |ref| over the reference rows below M */
    int64_t nan;     /* NaN or Inf in C[0..M)[0..n) (every element, not only the rows) */
    int64_t touched; /* elements of C[m][n..ldc) that are no longer poison */
} gpu_result;

/* Downloads C (M rows, pitch ldc) and measures it against the reference. */
gpu_result gpu_measure(const void *C, int64_t ldc, int64_t M, w4a16_dtype dtype,
                       const gpu_reference *ref);

/* Halves of device memory [count] that are no longer poison (0xffff). */
int64_t gpu_count_written(const void *device, int64_t count);

/* The floor of the criterion: 1e-3 for F16, 8e-3 for BF16. */
double gpu_error_floor(w4a16_dtype dtype);

/* ------------------------------------------------ one weight, many M */

/* For each M in ms: w4a16_gemm on a poisoned C [max(ms)][ldc] and cuBLAS on
 * `dense` (W as packed, n x k, rounded to the activation dtype), both against
 * `ref`. Fails the test, naming `what`, the dtype and M, unless err <=
 * max(1.5 x e_cublas, floor), C has no NaN in [0, n), and nothing past
 * column n, nor in row M (when M is not the largest), was written. */
void gpu_check_runs(w4a16_ctx *ctx, cublasHandle_t cublas, const w4a16_weight *packed,
                    const void *dense, const void *A, int64_t lda, const void *bias, int64_t ldc,
                    const gpu_reference *ref, const int64_t *ms, int n_ms, const char *what);

/* Programmatic dependent launch (W4A16_PDL): a chain of four w4a16_gemm calls
 * of M rows on one stream, call i reading buffer i % 2 and writing buffer
 * (i + 1) % 2 (each reads what the call before wrote and overwrites what it
 * read), on a random square weight of `spec` packed by ctx, which must run
 * `kernel` (make it symmetric: random zero points give the rows a mean offset
 * that grows the outputs ~10x a call, past fp16 in four). Fails the test,
 * naming it, unless the chain run back to back, captured in a graph and
 * replayed, and under `plain` (the same settings made with W4A16_PDL=0) all
 * give bitwise what it gives synchronized after every call, and that is
 * finite and not zero. */
void gpu_check_chain(w4a16_ctx *ctx, w4a16_ctx *plain, const char *kernel,
                     const gpu_weight_spec *spec, int64_t M, uint64_t seed);

/* Weights written late by the kernel just before a call: a random weight of
 * `spec` (and a bias) packed by ctx, called once so that the plan is made and
 * L2 holds its bytes; then a kernel that lets the next one start at once
 * overwrites its qweight, scales, zeros, perm and bias, after a delay, with
 * those of a second weight, and the call follows on the same stream. Fails
 * the test, naming it, unless ctx runs `kernel` and the call gives bitwise
 * what it gives on the second weight synchronized: a kernel launched
 * programmatically must load nothing before its griddepcontrol.wait. */
void gpu_check_late_weight_write(w4a16_ctx *ctx, const char *kernel, const gpu_weight_spec *spec,
                                 int64_t M, uint64_t seed);

/* w4a16_gemm of M rows into C (pitch ldc, poisoned before each run) on
 * `stream`, twice directly and twice as replays of one captured graph. Fails
 * the test, naming `what`, unless the four results are bitwise equal and
 * C[0..M)[0..n) is finite. */
void gpu_check_repeat_and_replay(w4a16_ctx *ctx, const w4a16_weight *packed, const void *A,
                                 int64_t lda, void *C, int64_t ldc, int64_t M,
                                 cudaStream_t stream, const char *what);

typedef struct {
    w4a16_dtype act_dtype;
    int from_device;         /* pack from a device copy of the source (else from host) */
    int with_bias;
    int64_t lda_pad, ldc_pad; /* extra elements at the end of each row of A and C */
    int extra_rows;          /* random reference rows besides 0, M-2 and M-1 of each M */
    uint64_t seed;
} gpu_check_options;

/* The formats x sym/asym x group sizes (32, 64, 128, per-channel) x act-order
 * cross-product of n x k weights, each checked by gpu_check_gemm at every M
 * of ms. The configurations alternate host and device sources, a bias, and
 * rows of A and C padded by lda_pad and ldc_pad elements (every fourth pair
 * of configurations); compressed-tensors weights cycle their scales through
 * BF16, F32 and F16. Returns how many weights were checked. */
typedef struct {
    int64_t lda_pad, ldc_pad; /* padding of the padded configurations */
    int extra_rows;           /* random reference rows per M */
    uint64_t seed;            /* of the first configuration; +1 each */
} gpu_cross_options;
int gpu_check_cross_product(w4a16_ctx *ctx, cublasHandle_t cublas, int64_t n, int64_t k,
                            w4a16_dtype act_dtype, const int64_t *ms, int n_ms,
                            const gpu_cross_options *options);

/* Packs a random weight of `spec`, then checks it with gpu_check_runs
 * against the fp64 reference rows (gpu_reference_make). Returns the number
 * of M checked. */
int gpu_check_gemm(w4a16_ctx *ctx, cublasHandle_t cublas, const gpu_weight_spec *spec,
                   const int64_t *ms, int n_ms, const gpu_check_options *options);

#endif
