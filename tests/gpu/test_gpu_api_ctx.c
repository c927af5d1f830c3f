/* The ctx under the caller's control: kernels forced through
 * w4a16_ctx_set_kernel (over W4A16_KERNEL, with messages that say who forced
 * them), each checked against the fp64 reference; w4a16_workspace_size; and
 * the caller's workspace at several sizes -- 0, too small, enough for
 * chunks, exactly one piece, more -- through w4a16_ctx_create_with_workspace
 * and w4a16_ctx_set_workspace, for the fallback and for auto's choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_support.h"

/* Odd pitches, bias, 4 random reference rows besides 0, M-2, M-1. */
static gpu_check_options options(uint64_t seed) {
    gpu_check_options o = {W4A16_F16, 0, 1, 3, 5, 4, seed};
    return o;
}

static int is_hopper(void) {
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    return prop.major == 9;
}

static void expect_refused(w4a16_status got, w4a16_status want, const char *needle) {
    if (got != want)
        fail_msg("%s, expected %s (%s)", w4a16_status_str(got), w4a16_status_str(want),
                 w4a16_last_error());
    if (strstr(w4a16_last_error(), needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", w4a16_last_error(), needle);
}

static void test_forced_through_the_api(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 200, 384, 64, 1, 0, W4A16_F16};
    gpu_packed p;
    gpu_packed_make(ctx, &spec, W4A16_F16, 5, &p);
    void *A = gpu_alloc(64 * 385 * 2), *C = gpu_alloc(64 * 200 * 2);
    CUDA_CHECK(cudaMemset(A, 0, 64 * 385 * 2));

    expect_refused(w4a16_ctx_set_kernel(NULL, "decode"), W4A16_ERR_ARG, "ctx is NULL");
    expect_refused(w4a16_ctx_set_batch_invariant(NULL, 1), W4A16_ERR_ARG, "ctx is NULL");
    expect_refused(w4a16_ctx_set_batch_invariant(ctx, -1), W4A16_ERR_ARG, "on=-1");
    expect_refused(w4a16_ctx_set_kernel(ctx, NULL), W4A16_ERR_ARG, "kernel name is NULL");
    expect_refused(w4a16_ctx_set_kernel(ctx, "bogus"), W4A16_ERR_ARG, "\"bogus\"");
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 8), "decode"); /* still auto */

    /* Forced kernels that cannot take the call: refused, saying who forced them. */
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "decode"));
    gpu_poison(C, 64 * 200 * 2);
    expect_refused(w4a16_gemm(ctx, &p.packed, A, 384, C, 200, 17, NULL, NULL),
                   W4A16_ERR_UNSUPPORTED, "decode (forced by w4a16_ctx_set_kernel)");
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 17), "none");
    size_t bytes = 0;
    expect_refused(w4a16_workspace_size(ctx, &p.packed, 17, &bytes), W4A16_ERR_UNSUPPORTED,
                   "M=17 is more than 16");
    /* Off Hopper it cannot run at all; on Hopper not with rows of A at an odd pitch. */
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "sm90_prefill"));
    expect_refused(w4a16_gemm(ctx, &p.packed, A, 385, C, 200, 64, NULL, NULL),
                   W4A16_ERR_UNSUPPORTED, "sm90_prefill (forced by w4a16_ctx_set_kernel)");
    CUDA_CHECK(cudaDeviceSynchronize());
    assert_int_equal(gpu_count_written(C, 64 * 200), 0);

    /* Forced kernels that can: each against the reference, at M decode also takes. */
    const int64_t small[] = {1, 8, 16};
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "fallback"));
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 8), "fallback");
    W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, 8, &bytes));
    assert_true(bytes > 0);
    gpu_check_options o = options(6);
    gpu_check_gemm(ctx, cublas, &spec, small, 3, &o);
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "decode"));
    W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, 8, &bytes));
    assert_int_equal(bytes, 0);
    gpu_check_gemm(ctx, cublas, &spec, small, 3, &o);
    if (is_hopper()) { /* its A rows must be 16-byte aligned: pad lda to a multiple of 8 */
        const int64_t prefill[] = {17, 64};
        W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "sm90_prefill"));
        gpu_check_options aligned = {W4A16_F16, 0, 1, 8, 5, 4, 7};
        gpu_check_gemm(ctx, cublas, &spec, prefill, 2, &aligned);
    }
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "auto"));
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 8), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 17),
                        is_hopper() ? "sm90_prefill" : "fallback");
    w4a16_ctx_destroy(ctx);

    /* W4A16_KERNEL forces at creation; the API overrides it. */
    setenv("W4A16_KERNEL", "decode", 1);
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    unsetenv("W4A16_KERNEL");
    expect_refused(w4a16_gemm(ctx, &p.packed, A, 384, C, 200, 17, NULL, NULL),
                   W4A16_ERR_UNSUPPORTED, "decode (forced by W4A16_KERNEL)");
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "auto"));
    W4A16_CHECK(w4a16_gemm(ctx, &p.packed, A, 384, C, 200, 17, NULL, NULL));
    assert_string_not_equal(w4a16_gemm_kernel_name(ctx, &p.packed, 17), "decode");
    CUDA_CHECK(cudaDeviceSynchronize());
    w4a16_ctx_destroy(ctx);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    gpu_packed_free(&p);
}

/* 520 x 1024, act-order: the fallback's one piece is W (576 rows of 2048
 * bytes) and M rows of permuted A (2048 bytes each), each 256-aligned. */
static const gpu_weight_spec ACT_ORDER = {W4A16_FORMAT_GPTQ, 520, 1024, 128, 1, 1, W4A16_F16};
static const int64_t MS[] = {17, 256, 1000};
enum { N_MS = 3 };

static size_t one_piece(int64_t M) { return 576 * 2048 + (size_t)M * 2048; }

/* The fallback's need is the formula above; auto's is that of the kernel it
 * chooses (sm90_prefill's on Hopper: at least the permuted A). */
static void test_workspace_size(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_packed p;
    gpu_packed_make(ctx, &ACT_ORDER, W4A16_F16, 11, &p);
    size_t bytes = 1;
    for (int i = 0; i < N_MS; i++) {
        W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, MS[i], &bytes));
        assert_true(bytes >= (size_t)MS[i] * 2048);
    }
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "fallback"));
    for (int i = 0; i < N_MS; i++) {
        W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, MS[i], &bytes));
        assert_int_equal(bytes, one_piece(MS[i]));
    }
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "auto"));
    W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, 4, &bytes)); /* decode */
    assert_int_equal(bytes, 0);
    W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, 0, &bytes));
    assert_int_equal(bytes, 0);
    expect_refused(w4a16_workspace_size(ctx, &p.packed, 8, NULL), W4A16_ERR_ARG, "bytes is NULL");
    expect_refused(w4a16_workspace_size(ctx, &p.packed, -1, &bytes), W4A16_ERR_ARG, "M=-1");
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
}

/* A workspace too small for every M of MS: each call W4A16_ERR_NOMEM, naming
 * the workspace and the bytes w4a16_workspace_size says that M needs, C
 * untouched. */
static void expect_too_small(w4a16_ctx *ctx, const gpu_packed *p, size_t bytes) {
    void *A = gpu_alloc(1000 * 1024 * 2), *C = gpu_alloc(1000 * 520 * 2);
    CUDA_CHECK(cudaMemset(A, 0, 1000 * 1024 * 2));
    gpu_poison(C, 1000 * 520 * 2);
    char workspace[64], needs[96];
    snprintf(workspace, sizeof workspace, "the workspace of %zu bytes", bytes);
    for (int i = 0; i < N_MS; i++) {
        size_t need = 0;
        W4A16_CHECK(w4a16_workspace_size(ctx, &p->packed, MS[i], &need));
        snprintf(needs, sizeof needs, "needs %zu bytes to run in one piece", need);
        expect_refused(w4a16_gemm(ctx, &p->packed, A, 1024, C, 520, MS[i], NULL, NULL),
                       W4A16_ERR_NOMEM, workspace);
        if (strstr(w4a16_last_error(), needs) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", w4a16_last_error(), needs);
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    assert_int_equal(gpu_count_written(C, 1000 * 520), 0);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
}

/* The fallback (forced, the kernel whose chunking this is about) on the
 * caller's workspace at each size: 0 and 4 KiB are too small; 1 MiB runs
 * act-order's A in M-passes and W in chunks; exactly one piece for M = 1000;
 * more. */
static void test_caller_workspace_sizes(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    const size_t most = one_piece(1000) + (1u << 20);
    char *arena = gpu_alloc(most + 256);
    const size_t sizes[] = {0, 4096, 1u << 20, one_piece(1000), most};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        w4a16_ctx *ctx = NULL;
        W4A16_CHECK(w4a16_ctx_create_with_workspace(0, sizes[s] ? arena : NULL, sizes[s], &ctx));
        W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "fallback"));
        if (sizes[s] <= 4096) {
            gpu_packed p;
            gpu_packed_make(ctx, &ACT_ORDER, W4A16_F16, 21, &p);
            expect_too_small(ctx, &p, sizes[s]);
            gpu_packed_free(&p);
        } else {
            gpu_check_options o = options(30 + s);
            gpu_check_gemm(ctx, cublas, &ACT_ORDER, MS, N_MS, &o);
            printf("ok: %zu bytes of the caller's workspace\n", sizes[s]);
        }
        w4a16_ctx_destroy(ctx); /* never frees the caller's workspace */
    }
    /* Still the caller's: the arena is intact and can be freed by its owner. */
    CUDA_CHECK(cudaFree(arena));
}

/* Auto, whichever kernel it chooses: with no workspace, act-order's calls
 * above decode's range fail naming what they need, decode runs; with what
 * w4a16_workspace_size says, every M runs, against the reference. */
static void test_auto_workspace(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create_with_workspace(0, NULL, 0, &ctx));
    gpu_packed p;
    gpu_packed_make(ctx, &ACT_ORDER, W4A16_F16, 25, &p);
    expect_too_small(ctx, &p, 0);
    const int64_t decode_m[] = {1, 16};
    gpu_check_options o = options(26);
    gpu_check_gemm(ctx, cublas, &ACT_ORDER, decode_m, 2, &o);
    size_t need = 0, bytes = 0;
    for (int i = 0; i < N_MS; i++) {
        W4A16_CHECK(w4a16_workspace_size(ctx, &p.packed, MS[i], &bytes));
        if (bytes > need) need = bytes;
    }
    void *workspace = gpu_alloc(need);
    W4A16_CHECK(w4a16_ctx_set_workspace(ctx, workspace, need));
    gpu_check_gemm(ctx, cublas, &ACT_ORDER, MS, N_MS, &o);
    printf("ok: %s with %zu bytes\n", w4a16_gemm_kernel_name(ctx, &p.packed, 1000), need);
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
    CUDA_CHECK(cudaFree(workspace));
}

static void test_set_workspace(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    char *arena = gpu_alloc(one_piece(1000) + 256);
    w4a16_ctx *ctx = NULL;
    expect_refused(w4a16_ctx_create_with_workspace(0, NULL, 4096, &ctx), W4A16_ERR_ARG,
                   "workspace is NULL but bytes=4096");
    expect_refused(w4a16_ctx_create_with_workspace(0, arena + 128, 4096, &ctx), W4A16_ERR_ARG,
                   "is not 256-byte aligned");
    _Alignas(256) static char host[4096];
    expect_refused(w4a16_ctx_create_with_workspace(0, host, sizeof host, &ctx), W4A16_ERR_ARG,
                   "is not device memory");
    assert_null(ctx);

    /* A ctx that owns its workspace swaps it for none (its own is freed),
     * then for the caller's. */
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_packed p;
    gpu_packed_make(ctx, &ACT_ORDER, W4A16_F16, 41, &p);
    expect_refused(w4a16_ctx_set_workspace(NULL, arena, 4096), W4A16_ERR_ARG, "ctx is NULL");
    expect_refused(w4a16_ctx_set_workspace(ctx, arena + 16, 4096), W4A16_ERR_ARG, "256-byte");
    W4A16_CHECK(w4a16_ctx_set_workspace(ctx, NULL, 0));
    expect_too_small(ctx, &p, 0);
    W4A16_CHECK(w4a16_ctx_set_workspace(ctx, arena, one_piece(1000)));
    gpu_check_options o = options(42);
    gpu_check_gemm(ctx, cublas, &ACT_ORDER, MS, N_MS, &o);
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
    CUDA_CHECK(cudaFree(arena));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forced_through_the_api),
        cmocka_unit_test(test_workspace_size),
        cmocka_unit_test(test_caller_workspace_sizes),
        cmocka_unit_test(test_auto_workspace),
        cmocka_unit_test(test_set_workspace),
    };
    int failed = cmocka_run_group_tests(tests, gpu_cublas_setup, gpu_cublas_teardown);
    return gpu_tests_exit_code(failed);
}
