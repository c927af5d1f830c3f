/* w4a16_gemm on the four Qwen3-4B shapes at M in {1, 17, 256, 2049}: a
 * sample of configurations that covers every format, both activation dtypes,
 * every group size and sym/asym, with reference rows sampled (fp64 over the
 * full K). One weight is act-order on down (K = 9728), where the permuted A
 * of M = 2049 does not fit in half the default workspace and goes in M-chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "gpu_support.h"

static const int64_t MS[] = {1, 17, 256, 2049};

enum { QKV, O_PROJ, GATE_UP, DOWN };
static const int64_t SHAPES[4][2] = {{6144, 2560}, {2560, 4096}, {19456, 2560}, {2560, 9728}};

typedef struct {
    int shape;
    w4a16_format format;
    int64_t group;
    int asymmetric, act_order;
    w4a16_dtype scales, act;
} sample;

static const sample SAMPLES[] = {
    {QKV, W4A16_FORMAT_AWQ, 128, 1, 0, W4A16_F16, W4A16_F16},
    {O_PROJ, W4A16_FORMAT_GPTQ, 32, 0, 0, W4A16_F16, W4A16_BF16},
    {GATE_UP, W4A16_FORMAT_GPTQ_V2, 64, 1, 0, W4A16_F16, W4A16_F16},
    {DOWN, W4A16_FORMAT_CT, -1, 0, 0, W4A16_BF16, W4A16_BF16},
    {QKV, W4A16_FORMAT_CT, 32, 1, 0, W4A16_F32, W4A16_BF16},
    {O_PROJ, W4A16_FORMAT_AWQ, -1, 1, 0, W4A16_F16, W4A16_F16},
    {DOWN, W4A16_FORMAT_GPTQ, 128, 1, 1, W4A16_F16, W4A16_F16},
    {GATE_UP, W4A16_FORMAT_AWQ, 32, 0, 0, W4A16_F16, W4A16_BF16},
};

static void test_qwen3_4b_sample(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    cublasHandle_t cublas = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    CUBLAS_CHECK(cublasCreate(&cublas));
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        const sample *s = &SAMPLES[i];
        gpu_weight_spec spec = {s->format, SHAPES[s->shape][0], SHAPES[s->shape][1], s->group,
                                s->asymmetric, s->act_order, s->scales};
        gpu_check_options options = {s->act, (int)i % 2, (int)(i / 2) % 2, 0, 0, 4, 4242 + i};
        gpu_check_gemm(ctx, cublas, &spec, MS, 4, &options);
        printf("ok: %s, %s activations\n", gpu_weight_describe(&spec), w4a16_dtype_name(s->act));
    }
    cublasDestroy(cublas);
    w4a16_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_qwen3_4b_sample)};
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
