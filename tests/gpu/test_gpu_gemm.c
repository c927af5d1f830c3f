/* w4a16_gemm against the fp64 reference on small and odd shapes: the full
 * cross-product of formats x sym/asym x fp16/bf16 x group sizes (and
 * act-order where the format has it) x M in {1, 3, 8, 17, 64, 127, 255, 256,
 * 1000, 2049}, with docs/DESIGN.md §1's criterion (gpu_check_gemm). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "gpu_support.h"

static const int64_t MS[] = {1, 3, 8, 17, 64, 127, 255, 256, 1000, 2049};
static const int N_MS = (int)(sizeof MS / sizeof MS[0]);

typedef struct {
    w4a16_ctx *ctx;
    cublasHandle_t cublas;
} fixture;

static int setup(void **state) {
    static fixture f;
    *state = &f;
    if (!gpu_present()) return 0;
    if (w4a16_ctx_create(0, 0, &f.ctx) != W4A16_OK) return -1;
    return cublasCreate(&f.cublas) == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->cublas) cublasDestroy(f->cublas);
    w4a16_ctx_destroy(f->ctx);
    return 0;
}

/* Scales dtype by format: AWQ and GPTQ checkpoints store F16; compressed-
 * tensors cycles through F16, BF16 and F32. */
static w4a16_dtype scales_for(w4a16_format format, int config) {
    if (format != W4A16_FORMAT_CT) return W4A16_F16;
    const w4a16_dtype cycle[3] = {W4A16_BF16, W4A16_F32, W4A16_F16};
    return cycle[config % 3];
}

static void cross_product(fixture *f, int64_t n, int64_t k, w4a16_dtype act_dtype) {
    const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                    W4A16_FORMAT_CT};
    const int64_t groups[] = {32, 64, 128, -1};
    int config = 0, checked = 0;
    for (int fi = 0; fi < 4; fi++)
        for (int asym = 0; asym < 2; asym++)
            for (int gi = 0; gi < 4; gi++)
                for (int act = 0; act < 2; act++) {
                    if (groups[gi] > 0 && k % groups[gi] != 0) continue;
                    if (act && (formats[fi] == W4A16_FORMAT_AWQ || groups[gi] < 0)) continue;
                    gpu_weight_spec spec = {formats[fi], n, k, groups[gi], asym, act,
                                            scales_for(formats[fi], config)};
                    /* Alternate host / device sources and bias / no bias. */
                    gpu_check_options options = {act_dtype, config % 2, (config / 2) % 2, 0, 8,
                                                 24, 1000 + (uint64_t)config};
                    checked += gpu_check_gemm(f->ctx, f->cublas, &spec, MS, N_MS, &options);
                    config++;
                }
    printf("%lldx%lld %s: %d weights, %d GEMMs within max(1.5 e_cublas, %.0e)\n", (long long)n,
           (long long)k, w4a16_dtype_name(act_dtype), config, checked, gpu_error_floor(act_dtype));
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
    cross_product(*state, 512, 1024, W4A16_BF16);
}

/* Odd sizes the fast kernels will not take: N not a multiple of 16, K of 64,
 * K odd (AWQ packs along N, so any K; per-channel, the last column pair
 * straddles the padding), groups of 8, 18 and 24 (one scale per column pair). */
static void test_odd_shapes(void **state) {
    GPU_REQUIRED();
    fixture *f = *state;
    const struct {
        w4a16_format format;
        int64_t n, k, group;
    } shapes[] = {{W4A16_FORMAT_CT, 13, 40, 8}, {W4A16_FORMAT_CT, 1, 8, -1},
                  {W4A16_FORMAT_GPTQ, 24, 200, -1}, {W4A16_FORMAT_AWQ, 40, 50, -1},
                  {W4A16_FORMAT_GPTQ_V2, 8, 168, 24}, {W4A16_FORMAT_CT, 131, 2112, 64},
                  {W4A16_FORMAT_AWQ, 40, 51, -1}, {W4A16_FORMAT_AWQ, 16, 54, 18}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int dtype = 0; dtype < 2; dtype++) {
            gpu_weight_spec spec = {shapes[i].format, shapes[i].n, shapes[i].k, shapes[i].group,
                                    1, 0, W4A16_F16};
            gpu_check_options options = {dtype ? W4A16_BF16 : W4A16_F16, (int)i % 2, 1, 3, 5, 16,
                                         7 + i};
            gpu_check_gemm(f->ctx, f->cublas, &spec, MS, N_MS, &options);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_f16),  cmocka_unit_test(test_small_bf16),
        cmocka_unit_test(test_medium_f16), cmocka_unit_test(test_medium_bf16),
        cmocka_unit_test(test_odd_shapes),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
