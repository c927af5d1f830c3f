/* w4a16_gemm's contract beyond the numbers: misaligned and interleaved views,
 * C overlapping A rejected, errors leave C alone, M = 0, CUDA graph capture
 * and replay, bitwise determinism, two contexts on two streams from two
 * threads at once, W4A16_KERNEL, the workspace limit and W4A16_LOG's
 * log-once. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_support.h"

static uint16_t *download_halves(const void *device, int64_t count) {
    uint16_t *host = malloc((size_t)count * 2);
    assert_non_null(host);
    gpu_download(host, device, (size_t)count * 2);
    return host;
}

/* Runs everywhere: without a GPU (or driver) the count is 0 and a ctx is a
 * clear W4A16_ERR_CUDA; with one, a device past the last is W4A16_ERR_ARG. */
static void test_device_count_and_ctx(void **state) {
    (void)state;
    int count = -1;
    W4A16_CHECK(w4a16_device_count(&count));
    assert_true(count >= 0);
    w4a16_ctx *ctx = NULL;
    if (count == 0) {
        assert_int_equal(w4a16_ctx_create(0, 0, &ctx), W4A16_ERR_CUDA);
        assert_non_null(strstr(w4a16_last_error(), "no CUDA device"));
    } else {
        assert_int_equal(w4a16_ctx_create(count, 0, &ctx), W4A16_ERR_ARG);
        assert_non_null(strstr(w4a16_last_error(), "device="));
    }
    assert_null(ctx);
    w4a16_ctx_destroy(NULL);
}

/* A PyTorch-style slice: A, C and bias start one element past an aligned
 * address and their rows have odd pitches. */
static void test_misaligned_views(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    cublasHandle_t cublas = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    CUBLAS_CHECK(cublasCreate(&cublas));
    const w4a16_dtype dtype = W4A16_F16;
    gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 256, 512, 128, 1, 1, W4A16_F16};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, dtype, 11, &c);
    const int64_t M = 127, lda = 512 + 3, ldc = 256 + 5;
    uint16_t *A = gpu_random_halves(M * lda + 1, dtype, -1, 1, 12);
    uint16_t *bias = gpu_random_halves(257, dtype, -1, 1, 13);
    uint16_t *A_dev = gpu_upload(A, (size_t)(M * lda + 1) * 2);
    uint16_t *bias_dev = gpu_upload(bias, 257 * 2);
    uint16_t *C_dev = gpu_alloc((size_t)(M * ldc + 1) * 2);
    uint16_t *C_cublas = gpu_alloc((size_t)(M * ldc + 1) * 2);
    void *dense = gpu_dense_weight(&c.w.src, dtype);
    gpu_reference ref;
    gpu_reference_make(&c.w.src, A + 1, dtype, lda, bias + 1, &M, 1, 40, 14, &ref);

    gpu_poison(C_dev, (size_t)(M * ldc + 1) * 2);
    gpu_poison(C_cublas, (size_t)(M * ldc + 1) * 2);
    W4A16_CHECK(w4a16_gemm(ctx, &c.packed, A_dev + 1, lda, C_dev + 1, ldc, M, bias_dev + 1, NULL));
    gpu_cublas_gemm(cublas, dense, dtype, 256, 512, A_dev + 1, lda, M, bias_dev + 1, C_cublas + 1,
                    ldc, NULL);
    CUDA_CHECK(cudaDeviceSynchronize());
    gpu_result got = gpu_measure(C_dev + 1, ldc, M, dtype, &ref);
    gpu_result base = gpu_measure(C_cublas + 1, ldc, M, dtype, &ref);
    assert_int_equal(got.nan, 0);
    assert_int_equal(got.touched, 0);
    assert_true(got.err <= fmax(1.5 * base.err, gpu_error_floor(dtype)));
    uint16_t first;
    gpu_download(&first, C_dev, 2);
    assert_int_equal(first, 0xffff); /* the element before C is untouched */

    gpu_reference_free(&ref);
    CUDA_CHECK(cudaFree(dense));
    CUDA_CHECK(cudaFree(C_cublas));
    CUDA_CHECK(cudaFree(C_dev));
    CUDA_CHECK(cudaFree(bias_dev));
    CUDA_CHECK(cudaFree(A_dev));
    free(A);
    free(bias);
    gpu_packed_free(&c);
    cublasDestroy(cublas);
    w4a16_ctx_destroy(ctx);
}

/* A and C as column ranges of one buffer do not overlap and work; C one
 * element into A's columns, C == A, and C over the bias are rejected, and
 * the rejected calls write nothing. */
static void test_interleaved_and_overlapping(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const w4a16_dtype dtype = W4A16_BF16;
    const int64_t n = 64, k = 128, M = 33, ld = n + k;
    gpu_weight_spec spec = {W4A16_FORMAT_AWQ, n, k, 32, 1, 0, W4A16_F16};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, dtype, 21, &c);
    const int64_t total = M * ld + k;
    uint16_t *buffer = gpu_random_halves(total, dtype, -1, 1, 22);
    uint16_t *dev = gpu_upload(buffer, (size_t)total * 2);
    gpu_reference ref;
    gpu_reference_make(&c.w.src, buffer, dtype, ld, NULL, &M, 1, 8, 23, &ref);

    W4A16_CHECK(w4a16_gemm(ctx, &c.packed, dev, ld, dev + k, ld, M, NULL, NULL));
    CUDA_CHECK(cudaDeviceSynchronize());
    gpu_result got = gpu_measure(dev + k, ld, M, dtype, &ref);
    assert_int_equal(got.nan, 0);
    assert_true(got.err <= gpu_error_floor(dtype));

    uint16_t *before = download_halves(dev, total);
    const struct {
        int64_t c_offset;
        const char *message;
    } bad[] = {{k - 1, "C overlaps A"}, {0, "C overlaps A"}, {(M - 1) * ld + 5, "C overlaps A"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(w4a16_gemm(ctx, &c.packed, dev, ld, dev + bad[i].c_offset, ld, M, NULL, NULL),
                         W4A16_ERR_ARG);
        assert_non_null(strstr(w4a16_last_error(), bad[i].message));
    }
    uint16_t *C_alone = gpu_alloc((size_t)(M * n) * 2);
    assert_int_equal(w4a16_gemm(ctx, &c.packed, dev, ld, C_alone, n, M, C_alone + 3, NULL),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "C overlaps bias"));
    CUDA_CHECK(cudaDeviceSynchronize());
    uint16_t *after = download_halves(dev, total);
    assert_memory_equal(before, after, (size_t)total * 2);

    free(before);
    free(after);
    CUDA_CHECK(cudaFree(C_alone));
    gpu_reference_free(&ref);
    CUDA_CHECK(cudaFree(dev));
    free(buffer);
    gpu_packed_free(&c);
    w4a16_ctx_destroy(ctx);
}

static void test_argument_errors(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_CT, 64, 64, -1, 0, 0, W4A16_F32};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, W4A16_F16, 31, &c);
    const int64_t M = 4;
    uint16_t *A = gpu_alloc(M * 64 * 2 + 2), *C = gpu_alloc(M * 64 * 2 + 2);
    gpu_poison(C, M * 64 * 2 + 2);
    W4A16_CHECK(w4a16_gemm(ctx, &c.packed, NULL, 64, NULL, 64, 0, NULL, NULL)); /* M = 0: no-op */
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 64, C, 64, -1, NULL, NULL), W4A16_ERR_ARG);
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 63, C, 64, M, NULL, NULL), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "lda=63"));
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 64, C, 60, M, NULL, NULL), W4A16_ERR_ARG);
    assert_int_equal(w4a16_gemm(ctx, &c.packed, (char *)A + 1, 64, C, 64, M, NULL, NULL),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "2-byte aligned"));
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 64, (char *)C + 1, 64, M, NULL, NULL),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "C="));
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 64, C, 64, M, (char *)A + 3, NULL),
                     W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "bias="));
    assert_int_equal(w4a16_gemm(ctx, &c.packed, NULL, 64, C, 64, M, NULL, NULL), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "A is NULL"));
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 64, NULL, 64, M, NULL, NULL), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "C is NULL"));
    assert_int_equal(w4a16_gemm(NULL, &c.packed, A, 64, C, 64, M, NULL, NULL), W4A16_ERR_ARG);
    w4a16_weight future = c.packed;
    future.version = 2;
    assert_int_equal(w4a16_gemm(ctx, &future, A, 64, C, 64, M, NULL, NULL), W4A16_ERR_UNSUPPORTED);
    assert_non_null(strstr(w4a16_last_error(), "version 2"));
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &future, M), "none");
    CUDA_CHECK(cudaDeviceSynchronize());
    uint16_t *host = download_halves(C, M * 64 + 1);
    for (int64_t i = 0; i < M * 64 + 1; i++) assert_int_equal(host[i], 0xffff);
    free(host);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    gpu_packed_free(&c);
    w4a16_ctx_destroy(ctx);
}

/* A call with everything: act-order (A permuted in M-chunks), several W
 * chunks (overlapped on the side stream), bias. A 2 MiB workspace forces the
 * chunking on a small weight. */
typedef struct {
    gpu_packed c;
    void *A, *bias, *C;
    int64_t M, lda, ldc;
} big_call;

static void big_call_make(w4a16_ctx *ctx, uint64_t seed, big_call *b) {
    gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 2048, 1024, 64, 1, 1, W4A16_F16};
    gpu_packed_make(ctx, &spec, W4A16_F16, seed, &b->c);
    b->M = 1000, b->lda = 1024, b->ldc = 2048;
    uint16_t *A = gpu_random_halves(b->M * b->lda, W4A16_F16, -1, 1, seed + 1);
    uint16_t *bias = gpu_random_halves(2048, W4A16_F16, -1, 1, seed + 2);
    b->A = gpu_upload(A, (size_t)(b->M * b->lda) * 2);
    b->bias = gpu_upload(bias, 2048 * 2);
    b->C = gpu_alloc((size_t)(b->M * b->ldc) * 2);
    free(A);
    free(bias);
}

static void big_call_free(big_call *b) {
    CUDA_CHECK(cudaFree(b->A));
    CUDA_CHECK(cudaFree(b->bias));
    CUDA_CHECK(cudaFree(b->C));
    gpu_packed_free(&b->c);
}

static w4a16_status big_call_run(w4a16_ctx *ctx, big_call *b, void *C, cudaStream_t stream) {
    return w4a16_gemm(ctx, &b->c.packed, b->A, b->lda, C, b->ldc, b->M, b->bias, stream);
}

static const size_t SMALL_WORKSPACE = 2u << 20;

static void test_graph_capture_and_determinism(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL, *other = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, SMALL_WORKSPACE, &ctx));
    W4A16_CHECK(w4a16_ctx_create(0, SMALL_WORKSPACE, &other));
    big_call b;
    big_call_make(ctx, 41, &b);
    const int64_t count = b.M * b.ldc;
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

    W4A16_CHECK(big_call_run(ctx, &b, b.C, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    uint16_t *first = download_halves(b.C, count);
    for (int64_t i = 0; i < count; i++) /* fp16 NaN / Inf: exponent all ones */
        if ((first[i] & 0x7c00) == 0x7c00) fail_msg("C[%lld] is not finite", (long long)i);

    /* Twice more on the same ctx and once on another: bitwise equal. */
    for (int run = 0; run < 3; run++) {
        gpu_poison(b.C, (size_t)count * 2);
        W4A16_CHECK(big_call_run(run == 2 ? other : ctx, &b, b.C, stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
        uint16_t *again = download_halves(b.C, count);
        assert_memory_equal(first, again, (size_t)count * 2);
        free(again);
    }

    /* Captured in a graph, replayed twice into poisoned C: the same bits. */
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    W4A16_CHECK(big_call_run(ctx, &b, b.C, stream));
    CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; replay++) {
        gpu_poison(b.C, (size_t)count * 2);
        CUDA_CHECK(cudaGraphLaunch(exec, stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
        uint16_t *replayed = download_halves(b.C, count);
        assert_memory_equal(first, replayed, (size_t)count * 2);
        free(replayed);
    }
    CUDA_CHECK(cudaGraphExecDestroy(exec));
    CUDA_CHECK(cudaGraphDestroy(graph));
    CUDA_CHECK(cudaStreamDestroy(stream));
    free(first);
    big_call_free(&b);
    w4a16_ctx_destroy(other);
    w4a16_ctx_destroy(ctx);
}

/* Two threads, each with its own ctx and stream, run at the same time; each
 * result must equal the one computed alone beforehand. */
typedef struct {
    big_call *call;
    const uint16_t *expected;
    void *C;
    int failures;
    w4a16_status status;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    w4a16_ctx *ctx = NULL;
    cudaStream_t stream = NULL;
    const int64_t count = w->call->M * w->call->ldc;
    uint16_t *host = malloc((size_t)count * 2);
    w->status = w4a16_ctx_create(0, SMALL_WORKSPACE, &ctx);
    if (w->status == W4A16_OK && cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess)
        w->status = W4A16_ERR_CUDA;
    for (int rep = 0; rep < 6 && w->status == W4A16_OK; rep++) {
        cudaMemsetAsync(w->C, 0xff, (size_t)count * 2, stream);
        w->status = big_call_run(ctx, w->call, w->C, stream);
        if (w->status != W4A16_OK) break;
        cudaMemcpyAsync(host, w->C, (size_t)count * 2, cudaMemcpyDeviceToHost, stream);
        if (cudaStreamSynchronize(stream) != cudaSuccess) w->status = W4A16_ERR_CUDA;
        w->failures += memcmp(host, w->expected, (size_t)count * 2) != 0;
    }
    if (stream) cudaStreamDestroy(stream);
    w4a16_ctx_destroy(ctx);
    free(host);
    return NULL;
}

static void test_two_contexts_two_streams(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, SMALL_WORKSPACE, &ctx));
    big_call calls[2];
    uint16_t *expected[2];
    worker workers[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) {
        big_call_make(ctx, 50 + 10 * (uint64_t)t, &calls[t]);
        W4A16_CHECK(big_call_run(ctx, &calls[t], calls[t].C, NULL));
        CUDA_CHECK(cudaDeviceSynchronize());
        expected[t] = download_halves(calls[t].C, calls[t].M * calls[t].ldc);
        workers[t] = (worker){&calls[t], expected[t], gpu_alloc((size_t)(calls[t].M * calls[t].ldc) * 2),
                              0, W4A16_OK};
    }
    for (int t = 0; t < 2; t++) assert_int_equal(pthread_create(&threads[t], NULL, work, &workers[t]), 0);
    for (int t = 0; t < 2; t++) assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        if (workers[t].status != W4A16_OK) fail_msg("thread %d: %s", t, w4a16_status_str(workers[t].status));
        assert_int_equal(workers[t].failures, 0);
        CUDA_CHECK(cudaFree(workers[t].C));
        free(expected[t]);
        big_call_free(&calls[t]);
    }
    w4a16_ctx_destroy(ctx);
}

static void set_kernel(const char *value) {
    if (value)
        setenv("W4A16_KERNEL", value, 1);
    else
        unsetenv("W4A16_KERNEL");
}

static void test_forced_kernels(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 64, 128, 64, 1, 0, W4A16_F16};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, W4A16_F16, 61, &c);
    uint16_t *A = gpu_alloc(17 * 128 * 2), *C = gpu_alloc(17 * 64 * 2);
    CUDA_CHECK(cudaMemset(A, 0, 17 * 128 * 2));
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &c.packed, 8), "decode");
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    const int hopper = prop.major == 9;
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &c.packed, 17),
                        hopper ? "sm90_prefill" : "fallback");
    w4a16_ctx_destroy(ctx);

    /* decode cannot take M = 17; sm90_prefill cannot take an A of odd lda
     * (nor run at all off Hopper). */
    const char *unavailable[] = {"sm90_prefill", "decode"};
    const int64_t unavailable_m[] = {8, 17};
    const int64_t unavailable_lda[] = {130, 128};
    for (int i = 0; i < 2; i++) {
        set_kernel(unavailable[i]);
        W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
        assert_int_equal(w4a16_gemm(ctx, &c.packed, A, unavailable_lda[i], C, 64,
                                    unavailable_m[i], NULL, NULL),
                         W4A16_ERR_UNSUPPORTED);
        assert_non_null(strstr(w4a16_last_error(), unavailable[i]));
        assert_non_null(strstr(w4a16_last_error(), "W4A16_KERNEL"));
        if (i == 1 || !hopper)
            assert_string_equal(w4a16_gemm_kernel_name(ctx, &c.packed, unavailable_m[i]), "none");
        w4a16_ctx_destroy(ctx);
    }
    set_kernel("fallback");
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    W4A16_CHECK(w4a16_gemm(ctx, &c.packed, A, 128, C, 64, 8, NULL, NULL));
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &c.packed, 8), "fallback");
    w4a16_ctx_destroy(ctx);
    set_kernel("bogus");
    ctx = NULL;
    assert_int_equal(w4a16_ctx_create(0, 0, &ctx), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "bogus"));
    assert_null(ctx);
    set_kernel(NULL);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    gpu_packed_free(&c);
}

static void test_workspace_too_small(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    set_kernel("fallback"); /* the kernel whose workspace need this tests */
    W4A16_CHECK(w4a16_ctx_create(0, 64u << 10, &ctx));
    set_kernel(NULL);
    gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 64, 1024, 128, 0, 0, W4A16_F16};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, W4A16_F16, 71, &c);
    uint16_t *A = gpu_alloc(17 * 1024 * 2), *C = gpu_alloc(17 * 64 * 2);
    assert_int_equal(w4a16_gemm(ctx, &c.packed, A, 1024, C, 64, 17, NULL, NULL),
                     W4A16_ERR_NOMEM);
    assert_non_null(strstr(w4a16_last_error(), "workspace of 65536 bytes is too small"));
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    gpu_packed_free(&c);
    w4a16_ctx_destroy(ctx);
}

static int log_count;
static char last_log[512];
static void count_log(const char *message, void *user) {
    (void)user;
    log_count++;
    snprintf(last_log, sizeof last_log, "%s", message);
}

static void test_log_once(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_set_log(count_log, NULL);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 64, 128, 64, 0, 0, W4A16_F16};
    gpu_packed c;
    gpu_packed_make(ctx, &spec, W4A16_F16, 81, &c);
    uint16_t *A = gpu_alloc(6 * 128 * 2), *C = gpu_alloc(6 * 64 * 2);
    CUDA_CHECK(cudaMemset(A, 0, 6 * 128 * 2));
    log_count = 0;
    for (int i = 0; i < 3; i++) W4A16_CHECK(w4a16_gemm(ctx, &c.packed, A, 128, C, 64, 5, NULL, NULL));
    assert_int_equal(log_count, 1);
    assert_non_null(strstr(last_log, "decode"));
    assert_non_null(strstr(last_log, "M=5"));
    W4A16_CHECK(w4a16_gemm(ctx, &c.packed, A, 128, C, 64, 6, NULL, NULL));
    assert_int_equal(log_count, 2);
    w4a16_set_log(NULL, NULL);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    gpu_packed_free(&c);
    w4a16_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_count_and_ctx),
        cmocka_unit_test(test_misaligned_views),
        cmocka_unit_test(test_interleaved_and_overlapping),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_graph_capture_and_determinism),
        cmocka_unit_test(test_two_contexts_two_streams),
        cmocka_unit_test(test_forced_kernels),
        cmocka_unit_test(test_workspace_too_small),
        cmocka_unit_test(test_log_once),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
