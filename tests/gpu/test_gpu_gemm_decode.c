/* The decode kernels (M <= 16), forced by W4A16_KERNEL, against the fp64
 * reference with docs/DESIGN.md §1's criterion (gpu_check_gemm). decode (v3,
 * Hopper; skipped elsewhere, saying so): the cross-product of formats x
 * sym/asym x fp16/bf16 x group sizes x act-order at M in {1, 3, 8, 9, 16},
 * odd shapes, A read 16 bytes at a time up to a ragged k, A one element or
 * 16 bytes past an aligned address, every K split from 1 to 8 (forced with
 * W4A16_DECODE_SPLITS) over G = 48, per-channel and act-order, a K too long
 * for one CTA's shared memory, a 256-byte workspace (the kernel needs none),
 * CUDA-graph capture and bitwise repeat with and without the cluster's
 * reduction, chains of calls launched programmatically (W4A16_PDL); what it
 * declines, and auto choosing it at M <= 16. decode_v2 (kept for A/B and pre-Hopper
 * GPUs): a smaller cross-product, so the A/B kernel stays correct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_support.h"

static const int64_t MS[] = {1, 3, 8, 9, 16};
static const int N_MS = (int)(sizeof MS / sizeof MS[0]);

typedef struct {
    int hopper;
    w4a16_ctx *decode, *v2, *automatic;
    cublasHandle_t cublas;
} fixture;

/* A ctx forcing `kernel`, with W4A16_DECODE_SPLITS = `splits` (0: planned)
 * and `workspace_bytes` of workspace (0: the default). */
static w4a16_ctx *forced_ctx_with(const char *kernel, int splits, size_t workspace_bytes) {
    char value[16];
    if (splits > 0) {
        snprintf(value, sizeof value, "%d", splits);
        setenv("W4A16_DECODE_SPLITS", value, 1);
    }
    w4a16_ctx *ctx = gpu_forced_ctx(kernel, workspace_bytes);
    unsetenv("W4A16_DECODE_SPLITS");
    return ctx;
}

static w4a16_ctx *forced_ctx(const char *kernel, int splits) {
    return forced_ctx_with(kernel, splits, 0);
}

/* ctx creation with the environment variable `name` set to `value` fails with
 * W4A16_ERR_ARG, naming both, and returns no ctx. */
static void assert_ctx_refuses(const char *name, const char *value) {
    char expected[96];
    snprintf(expected, sizeof expected, "%s='%s'", name, value);
    setenv(name, value, 1);
    w4a16_ctx *ctx = NULL;
    assert_int_equal(w4a16_ctx_create(0, 0, &ctx), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), expected));
    unsetenv(name);
    assert_null(ctx);
}

static int setup(void **state) {
    static fixture f;
    *state = &f;
    if (!gpu_present()) return 0;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return -1;
    f.hopper = prop.major == 9;
    if (!f.hopper)
        printf("device 0 (%s) is not Hopper: skipping the decode (v3) tests\n", prop.name);
    f.decode = f.hopper ? forced_ctx("decode", 0) : NULL;
    f.v2 = forced_ctx("decode_v2", 0);
    if ((f.hopper && f.decode == NULL) || f.v2 == NULL ||
        w4a16_ctx_create(0, 0, &f.automatic) != W4A16_OK)
        return -1;
    return cublasCreate(&f.cublas) == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->cublas) cublasDestroy(f->cublas);
    w4a16_ctx_destroy(f->decode);
    w4a16_ctx_destroy(f->v2);
    w4a16_ctx_destroy(f->automatic);
    return 0;
}

/* An odd lda in the padded configurations: A gathered element by element. */
static void cross_product(w4a16_ctx *ctx, cublasHandle_t cublas, int64_t n, int64_t k,
                          w4a16_dtype act_dtype, const int64_t *ms, int n_ms) {
    const gpu_cross_options options = {1, 5, 8, 3000};
    const int weights = gpu_check_cross_product(ctx, cublas, n, k, act_dtype, ms, n_ms, &options);
    printf("%lldx%lld %s: %d weights x %d M\n", (long long)n, (long long)k,
           w4a16_dtype_name(act_dtype), weights, n_ms);
}

static void test_small_f16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f->decode, f->cublas, 72, 96, W4A16_F16, MS, N_MS);
}

static void test_small_bf16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f->decode, f->cublas, 72, 96, W4A16_BF16, MS, N_MS);
}

static void test_medium_f16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f->decode, f->cublas, 512, 1024, W4A16_F16, MS, N_MS);
}

static void test_medium_bf16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f->decode, f->cublas, 520, 1088, W4A16_BF16, MS, N_MS); /* N % 64, K % 128 */
}

/* Odd shapes: N = 1, 13, 131 (CTAs with warps past the last n-tile); K odd,
 * K < 64, K not a multiple of 64 (per-channel: the last k-tile is partly
 * padding), G = 48 (two groups in some k-tiles). */
static void test_odd_shapes(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        w4a16_format format;
        int64_t n, k, group;
    } shapes[] = {{W4A16_FORMAT_CT, 1, 8, -1},      {W4A16_FORMAT_GPTQ, 24, 200, -1},
                  {W4A16_FORMAT_AWQ, 40, 50, -1},   {W4A16_FORMAT_CT, 131, 2112, 64},
                  {W4A16_FORMAT_AWQ, 40, 51, -1},   {W4A16_FORMAT_CT, 13, 240, 48},
                  {W4A16_FORMAT_CT, 136, 4160, 32}, {W4A16_FORMAT_AWQ, 24, 3000, -1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int dtype = 0; dtype < 2; dtype++) {
            gpu_weight_spec spec = {shapes[i].format, shapes[i].n, shapes[i].k, shapes[i].group,
                                    (int)i % 2, 0, W4A16_F16};
            gpu_check_options options = {dtype ? W4A16_BF16 : W4A16_F16, (int)i % 2, 1,
                                         (int64_t)(i % 3), 3, 5, 70 + i};
            gpu_check_gemm(f->decode, f->cublas, &spec, MS, N_MS, &options);
        }
}

/* A 16-byte aligned with lda a multiple of 8 but k not: the 16-byte copies
 * of A end in a partial chunk, zero-filled past k. */
static void test_ragged_k_async_copies(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        int64_t n, k, group;
    } shapes[] = {{64, 50, -1}, {200, 1001, -1}, {128, 2121, -1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t k = shapes[i].k, lda_pad = (k + 7) / 8 * 8 - k;
        /* AWQ packs along N, so K need not be a multiple of 8 (compressed-tensors' must). */
        gpu_weight_spec spec = {W4A16_FORMAT_AWQ, shapes[i].n, k, shapes[i].group, (int)i % 2, 0,
                                W4A16_F16};
        gpu_check_options options = {i % 2 ? W4A16_BF16 : W4A16_F16, 1, (int)i % 2, lda_pad, 0,
                                     5, 400 + i};
        assert_int_equal((k + lda_pad) % 8, 0);
        gpu_check_gemm(f->decode, f->cublas, &spec, MS, N_MS, &options);
    }
}

/* A starting 1 element (gathered) and 8 elements (16-byte copies) past an
 * aligned address, lda a multiple of 8. */
static void test_offset_a(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 264, 1024, 128, 1, 0, W4A16_F16};
    gpu_weight w;
    gpu_weight_make(&spec, 510, &w);
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(f->decode, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
    const int64_t lda = 1024 + 8, ldc = 264, rows = 16;
    uint16_t *A = gpu_random_halves(rows * lda + 8, W4A16_F16, -1, 1, 511);
    uint16_t *A_dev = gpu_upload(A, (size_t)(rows * lda + 8) * 2);
    void *dense = gpu_dense_weight(&w.src, W4A16_F16);
    const int64_t offsets[] = {1, 8};
    for (int i = 0; i < 2; i++) {
        gpu_reference ref;
        gpu_reference_make(&w.src, A + offsets[i], W4A16_F16, lda, NULL, MS, N_MS, 4, 512 + i,
                           &ref);
        gpu_check_runs(f->decode, f->cublas, &packed, dense, A_dev + offsets[i], lda, NULL, ldc,
                       &ref, MS, N_MS, offsets[i] == 1 ? "A + 1 element" : "A + 16 bytes");
        gpu_reference_free(&ref);
    }
    CUDA_CHECK(cudaFree(dense));
    CUDA_CHECK(cudaFree(A_dev));
    free(A);
    w4a16_buffers_free(packed_owner);
    gpu_weight_free(&w);
}

/* Every K split from 1 to 8, forced: G = 48 with act-order (two groups in a
 * k-tile, gathered A), per-channel bf16 with bias, G = 128 asym with f32
 * scales; each split's sums meet in the cluster. */
static void test_every_split(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const int64_t ms[] = {1, 9, 16};
    const gpu_weight_spec specs[] = {{W4A16_FORMAT_GPTQ, 264, 4224, 48, 1, 1, W4A16_F16},
                                     {W4A16_FORMAT_CT, 136, 2112, -1, 0, 0, W4A16_BF16},
                                     {W4A16_FORMAT_CT, 1040, 1536, 128, 1, 0, W4A16_F32}};
    for (int splits = 1; splits <= 8; splits++) {
        w4a16_ctx *ctx = forced_ctx("decode", splits);
        assert_non_null(ctx);
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
            gpu_check_options options = {i == 1 ? W4A16_BF16 : W4A16_F16, (int)i % 2, i == 1,
                                         i == 2 ? 0 : 3, 1, 4, 600 + 10 * (uint64_t)splits + i};
            gpu_check_gemm(ctx, f->cublas, &specs[i], ms, 3, &options);
        }
        w4a16_ctx_destroy(ctx);
        printf("decode split %d ways: ok\n", splits);
    }
}

/* K = 28672 (the 70B down projection's): at M = 16 its A (917 KB) needs at
 * least five K-ranges to fit shared memory (N = 256, two CTAs of rows, splits
 * 8 ways at any M). */
static void test_long_k(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const int64_t ms[] = {1, 16};
    const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ_V2, 256, 28672, 128, 1, 0, W4A16_F16};
    const gpu_check_options options = {W4A16_F16, 1, 1, 0, 0, 2, 700};
    gpu_check_gemm(f->decode, f->cublas, &spec, ms, 2, &options);
}

/* The split's sums meet in the cluster's shared memory, not the workspace:
 * a ctx with 256 bytes of it runs o_proj (8 K-ranges) and act-order alike. */
static void test_tiny_workspace(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    w4a16_ctx *ctx = forced_ctx_with("decode", 0, 256);
    assert_non_null(ctx);
    const int64_t ms[] = {1, 16};
    const gpu_weight_spec specs[] = {{W4A16_FORMAT_AWQ, 2560, 4096, 128, 1, 0, W4A16_F16},
                                     {W4A16_FORMAT_GPTQ, 512, 2048, 64, 0, 1, W4A16_F16}};
    for (size_t i = 0; i < 2; i++) {
        const gpu_check_options options = {W4A16_F16, 1, 1, 0, 0, 3, 750 + i};
        gpu_check_gemm(ctx, f->cublas, &specs[i], ms, 2, &options);
    }
    w4a16_ctx_destroy(ctx);
}

/* Decline: forced, W4A16_ERR_UNSUPPORTED with the reason; auto, another kernel. */
static void test_declines(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        int64_t n, k, group, m;
        const char *reason;
    } cases[] = {{64, 128, 64, 17, "M=17"}, {16, 48, 8, 1, "group_size=8"},
                 {16, 72, 18, 1, "group_size=18"}, {16, 48, 24, 4, "group_size=24"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gpu_weight_spec spec = {W4A16_FORMAT_CT, cases[i].n, cases[i].k, cases[i].group, 1, 0,
                                W4A16_F16};
        gpu_weight w;
        gpu_weight_make(&spec, 90 + i, &w);
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        W4A16_CHECK(
            w4a16_pack(f->automatic, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
        const int64_t m = cases[i].m, k = cases[i].k, n = cases[i].n;
        uint16_t *A_host = gpu_random_halves(m * k, W4A16_F16, -1, 1, 95 + i);
        void *A = gpu_upload(A_host, (size_t)(m * k) * 2), *C = gpu_alloc((size_t)(m * n) * 2);
        gpu_poison(C, (size_t)(m * n) * 2);
        w4a16_ctx *forced[] = {f->decode, f->v2};
        for (int c = 0; c < 2; c++) {
            assert_int_equal(w4a16_gemm(forced[c], &packed, A, k, C, n, m, NULL, NULL),
                             W4A16_ERR_UNSUPPORTED);
            assert_non_null(strstr(w4a16_last_error(), cases[i].reason));
            assert_int_equal(gpu_count_written(C, m * n), 0); /* nothing of the caller's changed */
        }
        assert_string_not_equal(w4a16_gemm_kernel_name(f->automatic, &packed, m), "decode");
        assert_string_not_equal(w4a16_gemm_kernel_name(f->automatic, &packed, m), "decode_v2");
        assert_string_not_equal(w4a16_gemm_kernel_name(f->automatic, &packed, m), "none");
        W4A16_CHECK(w4a16_gemm(f->automatic, &packed, A, k, C, n, m, NULL, NULL));
        assert_int_equal(gpu_count_written(C, m * n), m * n);
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(A));
        CUDA_CHECK(cudaFree(C));
        free(A_host);
        w4a16_buffers_free(packed_owner);
        gpu_weight_free(&w);
    }
    /* A split that is not a number from 1 to 8 is refused at ctx creation. */
    assert_ctx_refuses("W4A16_DECODE_SPLITS", "9");
}

/* Qwen3-4B shapes at M = 1 and 16 forced (gate_up g64, down act-order g128,
 * o_proj per-channel bf16, qkv AWQ), and auto: decode at M <= 16. */
static void test_qwen_shapes(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const int64_t ms[] = {1, 16};
    gpu_weight_spec specs[] = {{W4A16_FORMAT_GPTQ_V2, 19456, 2560, 64, 1, 0, W4A16_F16},
                               {W4A16_FORMAT_GPTQ, 2560, 9728, 128, 1, 1, W4A16_F16},
                               {W4A16_FORMAT_CT, 2560, 4096, -1, 0, 0, W4A16_BF16},
                               {W4A16_FORMAT_AWQ, 6144, 2560, 128, 1, 0, W4A16_F16}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        gpu_check_options options = {i == 2 ? W4A16_BF16 : W4A16_F16, (int)i % 2, (int)i % 2, 0,
                                     0, 4, 5000 + i};
        gpu_check_gemm(f->decode, f->cublas, &specs[i], ms, 2, &options);
        printf("decode ok: %s\n", gpu_weight_describe(&specs[i]));
    }
    gpu_weight w;
    gpu_weight_make(&specs[3], 5100, &w);
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(f->automatic, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 1), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 8), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 16), "decode");
    assert_string_not_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 17), "decode");
    w4a16_buffers_free(packed_owner);
    gpu_weight_free(&w);
}

/* A direct run, a second run and two replays of a captured graph, each into
 * poisoned C, are bitwise equal and finite: one K-range (gate_up-like N), a
 * cluster of K-ranges (N = 2560), and act-order's gather with a split. */
static void test_capture_and_repeat(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const struct {
        int64_t n, k, M;
        int act_order, splits; /* splits 0: the plan's (8 for N = 2560) */
    } cases[] = {{4096, 1024, 16, 0, 1}, {2560, 4096, 1, 0, 0}, {2560, 4096, 11, 1, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        w4a16_ctx *ctx = forced_ctx("decode", cases[c].splits);
        assert_non_null(ctx);
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, cases[c].n, cases[c].k, 128, 1,
                                      cases[c].act_order, W4A16_F16};
        gpu_weight w;
        gpu_weight_make(&spec, 850 + c, &w);
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_BF16, &packed, &packed_owner, stream));
        const int64_t M = cases[c].M, lda = cases[c].k + 8, ldc = cases[c].n + 1;
        uint16_t *A = gpu_random_halves(M * lda, W4A16_BF16, -1, 1, 860 + c);
        void *A_dev = gpu_upload(A, (size_t)(M * lda) * 2), *C = gpu_alloc((size_t)(M * ldc) * 2);
        char what[64];
        snprintf(what, sizeof what, "case %zu (%lldx%lld, M=%lld)", c, (long long)cases[c].n,
                 (long long)cases[c].k, (long long)M);
        gpu_check_repeat_and_replay(ctx, &packed, A_dev, lda, C, ldc, M, stream, what);
        CUDA_CHECK(cudaFree(A_dev));
        CUDA_CHECK(cudaFree(C));
        free(A);
        w4a16_buffers_free(packed_owner);
        gpu_weight_free(&w);
        w4a16_ctx_destroy(ctx);
    }
    CUDA_CHECK(cudaStreamDestroy(stream));
}

/* Programmatic dependent launch (W4A16_PDL, on by default): chains of calls
 * that each read the previous output and overwrite the previous input
 * (gpu_check_chain), without and with the cluster's split (N = K = 1024: the
 * plan splits K). */
static void test_programmatic_chain(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 1024, 1024, 128, 0, 0, W4A16_F16};
    for (int splits = 1; splits >= 0; splits--) { /* 1, then the plan's */
        w4a16_ctx *ctx = forced_ctx("decode", splits);
        setenv("W4A16_PDL", "0", 1);
        w4a16_ctx *plain = forced_ctx("decode", splits);
        unsetenv("W4A16_PDL");
        gpu_check_chain(ctx, plain, "decode", &spec, 4, 870 + splits);
        w4a16_ctx_destroy(ctx);
        w4a16_ctx_destroy(plain);
    }
    /* Anything but 0 or 1 is refused at ctx creation. */
    assert_ctx_refuses("W4A16_PDL", "yes");
}

/* decode_v2, the A/B kernel: the small cross-product and two Qwen shapes. */
static void test_v2(void **state) {
    fixture *f = *state;
    GPU_REQUIRED();
    cross_product(f->v2, f->cublas, 72, 96, W4A16_F16, MS, N_MS);
    const int64_t ms[] = {1, 16};
    const gpu_weight_spec specs[] = {{W4A16_FORMAT_GPTQ, 2560, 9728, 128, 1, 1, W4A16_F16},
                                     {W4A16_FORMAT_CT, 2560, 4096, -1, 0, 0, W4A16_BF16}};
    for (size_t i = 0; i < 2; i++) {
        gpu_check_options options = {i ? W4A16_BF16 : W4A16_F16, 1, 1, 0, 0, 4, 5200 + i};
        gpu_check_gemm(f->v2, f->cublas, &specs[i], ms, 2, &options);
    }
}

/* A caller's kernel that lets the next start at once and writes the weights
 * (and bias) late: the decode call after it must see the new bytes
 * (gpu_check_late_weight_write). Whole K and the cluster's split, group 128
 * symmetric and act-order with zero points (perm and zeros staged too). */
static void test_weights_written_late(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const gpu_weight_spec specs[] = {{W4A16_FORMAT_GPTQ, 1024, 1024, 128, 0, 0, W4A16_F16},
                                     {W4A16_FORMAT_GPTQ_V2, 1024, 1024, 128, 1, 1, W4A16_F16}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        for (int splits = 1; splits >= 0; splits--) { /* 1, then the plan's */
            w4a16_ctx *ctx = forced_ctx("decode", splits);
            gpu_check_late_weight_write(ctx, "decode", &specs[i], 1, 880 + 2 * i + splits);
            gpu_check_late_weight_write(ctx, "decode", &specs[i], 16, 890 + 2 * i + splits);
            w4a16_ctx_destroy(ctx);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_f16),         cmocka_unit_test(test_small_bf16),
        cmocka_unit_test(test_medium_f16),        cmocka_unit_test(test_medium_bf16),
        cmocka_unit_test(test_odd_shapes),        cmocka_unit_test(test_ragged_k_async_copies),
        cmocka_unit_test(test_offset_a),          cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_long_k),            cmocka_unit_test(test_tiny_workspace),
        cmocka_unit_test(test_declines),
        cmocka_unit_test(test_qwen_shapes),       cmocka_unit_test(test_capture_and_repeat),
        cmocka_unit_test(test_programmatic_chain), cmocka_unit_test(test_weights_written_late),
        cmocka_unit_test(test_v2),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
