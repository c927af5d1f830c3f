/* The decode kernel (M <= 16), forced by W4A16_KERNEL=decode, against the
 * fp64 reference with docs/DESIGN.md §1's criterion (gpu_check_gemm): the
 * cross-product of formats x sym/asym x fp16/bf16 x group sizes x act-order
 * at M in {1, 3, 8, 16}, odd shapes, lda odd (the element-wise A path), bias
 * and padded C; what it declines (M = 17, groups of 8, 18, 24), and auto
 * choosing it at M <= 16 and the fallback above. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_support.h"

static const int64_t MS[] = {1, 3, 8, 16};
static const int N_MS = (int)(sizeof MS / sizeof MS[0]);

typedef struct {
    w4a16_ctx *decode, *automatic;
    cublasHandle_t cublas;
} fixture;

static int setup(void **state) {
    static fixture f;
    *state = &f;
    if (!gpu_present()) return 0;
    setenv("W4A16_KERNEL", "decode", 1);
    const w4a16_status forced = w4a16_ctx_create(0, 0, &f.decode);
    unsetenv("W4A16_KERNEL");
    if (forced != W4A16_OK || w4a16_ctx_create(0, 0, &f.automatic) != W4A16_OK) return -1;
    return cublasCreate(&f.cublas) == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->cublas) cublasDestroy(f->cublas);
    w4a16_ctx_destroy(f->decode);
    w4a16_ctx_destroy(f->automatic);
    return 0;
}

static void cross_product(fixture *f, int64_t n, int64_t k, w4a16_dtype act_dtype) {
    const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                    W4A16_FORMAT_CT};
    const w4a16_dtype ct_scales[3] = {W4A16_BF16, W4A16_F32, W4A16_F16};
    const int64_t groups[] = {32, 64, 128, -1};
    int config = 0;
    for (int fi = 0; fi < 4; fi++)
        for (int asym = 0; asym < 2; asym++)
            for (int gi = 0; gi < 4; gi++)
                for (int act = 0; act < 2; act++) {
                    if (groups[gi] > 0 && k % groups[gi] != 0) continue;
                    if (act && (formats[fi] == W4A16_FORMAT_AWQ || groups[gi] < 0)) continue;
                    gpu_weight_spec spec = {formats[fi], n, k, groups[gi], asym, act,
                                            formats[fi] == W4A16_FORMAT_CT ? ct_scales[config % 3]
                                                                           : W4A16_F16};
                    /* Alternate host / device sources, bias, and an odd lda (A read
                     * element by element) with a padded C. */
                    gpu_check_options options = {act_dtype,  config % 2, (config / 2) % 2,
                                                 (config / 4) % 2, (config / 4) % 2 * 5,
                                                 8, 3000 + (uint64_t)config};
                    gpu_check_gemm(f->decode, f->cublas, &spec, MS, N_MS, &options);
                    config++;
                }
    printf("decode %lldx%lld %s: %d weights x M in {1, 3, 8, 16}\n", (long long)n, (long long)k,
           w4a16_dtype_name(act_dtype), config);
}

static void test_small_f16(void **state) {
    GPU_REQUIRED();
    cross_product(*state, 72, 96, W4A16_F16);
}

static void test_small_bf16(void **state) {
    GPU_REQUIRED();
    cross_product(*state, 72, 96, W4A16_BF16);
}

static void test_medium_f16(void **state) {
    GPU_REQUIRED();
    cross_product(*state, 512, 1024, W4A16_F16);
}

static void test_medium_bf16(void **state) {
    GPU_REQUIRED();
    cross_product(*state, 520, 1088, W4A16_BF16); /* N not a multiple of 64, K of 128 */
}

/* Odd shapes decode takes: N = 1, 13, 131; K odd, K < 64, K not a multiple
 * of 64 (per-channel: the last k16 steps and k-tile are partly padding). */
static void test_odd_shapes(void **state) {
    GPU_REQUIRED();
    fixture *f = *state;
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

/* Decline: forced, W4A16_ERR_UNSUPPORTED with the reason; auto, the fallback. */
static void test_declines(void **state) {
    GPU_REQUIRED();
    fixture *f = *state;
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
        assert_int_equal(w4a16_gemm(f->decode, &packed, A, k, C, n, m, NULL, NULL),
                         W4A16_ERR_UNSUPPORTED);
        assert_non_null(strstr(w4a16_last_error(), cases[i].reason));
        assert_int_equal(gpu_count_written(C, m * n), 0); /* nothing of the caller's changed */
        assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, m), "fallback");
        W4A16_CHECK(w4a16_gemm(f->automatic, &packed, A, k, C, n, m, NULL, NULL));
        assert_int_equal(gpu_count_written(C, m * n), m * n);
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(A));
        CUDA_CHECK(cudaFree(C));
        free(A_host);
        w4a16_buffers_free(packed_owner);
        gpu_weight_free(&w);
    }
}

/* Qwen3-4B shapes at M = 1 forced (gate_up g64, down act-order g128, o_proj
 * per-channel bf16), and auto: decode at M = 1, the fallback at M = 17. */
static void test_qwen_shapes(void **state) {
    GPU_REQUIRED();
    fixture *f = *state;
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
    W4A16_CHECK(
        w4a16_pack(f->automatic, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 1), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 16), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &packed, 17), "fallback");
    w4a16_buffers_free(packed_owner);
    gpu_weight_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_f16),  cmocka_unit_test(test_small_bf16),
        cmocka_unit_test(test_medium_f16), cmocka_unit_test(test_medium_bf16),
        cmocka_unit_test(test_odd_shapes), cmocka_unit_test(test_declines),
        cmocka_unit_test(test_qwen_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
