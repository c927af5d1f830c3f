/* The Hopper kernel (sm90_prefill), forced, against the fp64 reference with
 * docs/DESIGN.md §1's criterion (gpu_check_gemm): formats x sym/asym x
 * fp16/bf16 x group sizes x act-order at ragged M from 9 to 300 (token tiles
 * of 32 to 256, with and without split K), odd N and K, large M, Qwen3-4B
 * shapes, a workspace too small for its splits or for act-order's whole A;
 * what it declines (misaligned A, lda not a multiple of 8, groups of 8 and
 * 24) with the fallback taking them under auto; CUDA-graph capture and
 * bitwise repeat; plans forced with W4A16_SM90_PLAN (the hybrid, paired
 * tiles with stream-K and split K); chains of calls launched
 * programmatically (W4A16_PDL). Skips on a GPU that is not Hopper, saying so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu_support.h"

static const int64_t MS[] = {9, 17, 32, 64, 100, 256, 300};
static const int N_MS = (int)(sizeof MS / sizeof MS[0]);

typedef struct {
    int hopper;
    w4a16_ctx *sm90, *automatic;
    cublasHandle_t cublas;
} fixture;

static w4a16_ctx *forced_ctx(size_t workspace_bytes) {
    return gpu_forced_ctx("sm90_prefill", workspace_bytes);
}

static int setup(void **state) {
    static fixture f;
    *state = &f;
    if (!gpu_present()) return 0;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return -1;
    f.hopper = prop.major == 9;
    if (!f.hopper) {
        printf("device 0 (%s) is not Hopper: skipping the sm90_prefill tests\n", prop.name);
        return 0;
    }
    f.sm90 = forced_ctx(0);
    if (f.sm90 == NULL || w4a16_ctx_create(0, 0, &f.automatic) != W4A16_OK) return -1;
    return cublasCreate(&f.cublas) == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->cublas) cublasDestroy(f->cublas);
    w4a16_ctx_destroy(f->sm90);
    w4a16_ctx_destroy(f->automatic);
    return 0;
}

/* Padded rows of A stay a multiple of 8 (the tensor map's 16-byte rows).
 * Padded rows of C: by 3 (odd ldc: the kernel's plain stores) or by 8 (TMA
 * stores, which must leave the padding untouched). */
static void cross_product(fixture *f, int64_t n, int64_t k, w4a16_dtype act_dtype,
                          int64_t ldc_pad) {
    const gpu_cross_options options = {8, ldc_pad, 6, 7000};
    const int weights = gpu_check_cross_product(f->sm90, f->cublas, n, k, act_dtype, MS, N_MS,
                                                &options);
    printf("sm90_prefill %lldx%lld %s: %d weights x %d M\n", (long long)n, (long long)k,
           w4a16_dtype_name(act_dtype), weights, N_MS);
}

static void test_small_f16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f, 136, 256, W4A16_F16, 3); /* two 128-row tiles, the second of 64 rows */
}

static void test_small_bf16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f, 136, 256, W4A16_BF16, 8);
}

static void test_medium_f16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f, 520, 1088, W4A16_F16, 8); /* N not a multiple of 64, K of 128 */
}

static void test_medium_bf16(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cross_product(f, 384, 2048, W4A16_BF16, 3);
}

/* Odd shapes: N = 1, 13, 131; K < 64, K odd (per-channel), K not a multiple
 * of 64; lda padded to a multiple of 8. */
static void test_odd_shapes(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        w4a16_format format;
        int64_t n, k, group;
    } shapes[] = {{W4A16_FORMAT_CT, 1, 8, -1},      {W4A16_FORMAT_GPTQ, 24, 200, -1},
                  {W4A16_FORMAT_AWQ, 40, 51, -1},   {W4A16_FORMAT_CT, 131, 2112, 64},
                  {W4A16_FORMAT_CT, 13, 240, 48},   {W4A16_FORMAT_CT, 136, 4160, 32},
                  {W4A16_FORMAT_AWQ, 24, 3000, -1}, {W4A16_FORMAT_GPTQ_V2, 200, 96, 32}};
    const int64_t ms[] = {1, 17, 77, 256};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int dtype = 0; dtype < 2; dtype++) {
            gpu_weight_spec spec = {shapes[i].format, shapes[i].n, shapes[i].k, shapes[i].group,
                                    (int)i % 2, 0, W4A16_F16};
            const int64_t lda_pad = (8 - shapes[i].k % 8) % 8 + 8 * (int64_t)(i % 2);
            gpu_check_options options = {dtype ? W4A16_BF16 : W4A16_F16, (int)i % 2, 1,
                                         lda_pad, 3, 5, 170 + i};
            gpu_check_gemm(f->sm90, f->cublas, &spec, ms, 4, &options);
        }
}

/* Large M (several token tiles of 256, a ragged last one), Qwen3-4B shapes
 * and the token tiles between 128 and 256. */
static void test_large_and_qwen(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const int64_t large[] = {1000, 2048};
    gpu_weight_spec big = {W4A16_FORMAT_AWQ, 1024, 2048, 128, 1, 0, W4A16_F16};
    gpu_check_options big_options = {W4A16_F16, 1, 1, 0, 0, 3, 9000};
    gpu_check_gemm(f->sm90, f->cublas, &big, large, 2, &big_options);
    const int64_t ms[] = {64, 512};
    const gpu_weight_spec specs[] = {{W4A16_FORMAT_GPTQ_V2, 19456, 2560, 64, 1, 0, W4A16_F16},
                                     {W4A16_FORMAT_GPTQ, 2560, 9728, 128, 1, 1, W4A16_F16},
                                     {W4A16_FORMAT_CT, 2560, 4096, -1, 0, 0, W4A16_BF16},
                                     {W4A16_FORMAT_AWQ, 6144, 2560, 128, 1, 0, W4A16_F16}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        gpu_check_options options = {i == 2 ? W4A16_BF16 : W4A16_F16, (int)i % 2, (int)i % 2, 0,
                                     0, 2, 9100 + i};
        gpu_check_gemm(f->sm90, f->cublas, &specs[i], ms, 2, &options);
        printf("sm90_prefill ok: %s\n", gpu_weight_describe(&specs[i]));
    }
    /* The widths between 128 and 256 (stored in two passes of half the tile),
     * as the plan picks them (tests/test_sm90_plan.c pins these picks): o_proj
     * at M = 1000 (192 tokens), 1024 x 1024 at M = 2100 (160), 3300 (224) and
     * 2700 (192); C's rows 16-byte aligned (TMA stores) and not. */
    const struct {
        gpu_weight_spec spec;
        int64_t M, ldc_pad;
    } wide[] = {{{W4A16_FORMAT_AWQ, 2560, 4096, 128, 1, 0, W4A16_F16}, 1000, 0},
                {{W4A16_FORMAT_GPTQ, 1024, 1024, 64, 0, 0, W4A16_F16}, 2100, 8},
                {{W4A16_FORMAT_CT, 1024, 1024, 128, 0, 0, W4A16_BF16}, 3300, 0},
                {{W4A16_FORMAT_AWQ, 1024, 1024, 128, 1, 0, W4A16_F16}, 2700, 3}};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        gpu_check_options options = {i == 2 ? W4A16_BF16 : W4A16_F16, 1, (int)i % 2, 0,
                                     wide[i].ldc_pad, 3, 9200 + i};
        gpu_check_gemm(f->sm90, f->cublas, &wide[i].spec, &wide[i].M, 1, &options);
    }
}

/* A workspace too small for the planned splits (fewer splits) and for
 * act-order's whole permuted A (M in chunks): still correct. */
static void test_small_workspace(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const size_t sizes[] = {256 << 10, 3 << 20};
    const int64_t ms[] = {17, 300};
    for (size_t s = 0; s < 2; s++) {
        w4a16_ctx *ctx = forced_ctx(sizes[s]);
        assert_non_null(ctx);
        for (int act = 0; act < 2; act++) {
            gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 256, 4096, 128, act, act, W4A16_F16};
            gpu_check_options options = {W4A16_F16, 0, 1, 0, 0, 4, 9300 + 2 * s + (uint64_t)act};
            gpu_check_gemm(ctx, f->cublas, &spec, ms, 2, &options);
        }
        w4a16_ctx_destroy(ctx);
    }
}

/* Decline: forced, W4A16_ERR_UNSUPPORTED with the reason and C untouched;
 * auto runs the fallback. */
static void test_declines(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        int64_t n, k, group, lda, a_offset;
        const char *reason;
    } cases[] = {{64, 128, 64, 128, 1, "16-byte aligned"},
                 {64, 128, 64, 130, 0, "lda=130"},
                 {16, 48, 8, 48, 0, "group_size=8"},
                 {16, 48, 24, 48, 0, "group_size=24"}};
    const int64_t m = 40;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gpu_weight_spec spec = {W4A16_FORMAT_CT, cases[i].n, cases[i].k, cases[i].group, 1, 0,
                                W4A16_F16};
        gpu_packed p;
        gpu_packed_make(f->automatic, &spec, W4A16_F16, 190 + i, &p);
        const int64_t lda = cases[i].lda, n = cases[i].n, a_count = m * lda + 8;
        uint16_t *A_host = gpu_random_halves(a_count, W4A16_F16, -1, 1, 195 + i);
        uint16_t *A_base = gpu_upload(A_host, (size_t)a_count * 2);
        const uint16_t *A = A_base + cases[i].a_offset;
        void *C = gpu_alloc((size_t)(m * n) * 2);
        gpu_poison(C, (size_t)(m * n) * 2);
        assert_int_equal(w4a16_gemm(f->sm90, &p.packed, A, lda, C, n, m, NULL, NULL),
                         W4A16_ERR_UNSUPPORTED);
        assert_non_null(strstr(w4a16_last_error(), cases[i].reason));
        assert_int_equal(gpu_count_written(C, m * n), 0);
        W4A16_CHECK(w4a16_gemm(f->automatic, &p.packed, A, lda, C, n, m, NULL, NULL));
        assert_int_equal(gpu_count_written(C, m * n), m * n);
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(A_base));
        CUDA_CHECK(cudaFree(C));
        free(A_host);
        gpu_packed_free(&p);
    }
}

/* Auto picks sm90_prefill above decode's range on Hopper, to any M. */
static void test_auto_choice(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 6144, 2560, 128, 1, 0, W4A16_F16};
    gpu_packed p;
    gpu_packed_make(f->automatic, &spec, W4A16_F16, 5100, &p);
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &p.packed, 16), "decode");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &p.packed, 17), "sm90_prefill");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &p.packed, 1024), "sm90_prefill");
    assert_string_equal(w4a16_gemm_kernel_name(f->automatic, &p.packed, 8192), "sm90_prefill");
    gpu_packed_free(&p);
}

/* A direct run, a second run and two replays of a captured graph, each into
 * poisoned C, are bitwise equal and finite: with one split (M = 300 on a wide
 * N) and with split K and its reduction (M = 33 on a narrow N, long K), with
 * and without act-order's permute. */
static void test_capture_and_repeat(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const struct {
        int64_t n, k, M;
        int act_order;
    } cases[] = {{2048, 1024, 300, 0}, {256, 4096, 33, 0}, {256, 4096, 33, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, cases[c].n, cases[c].k, 128, 1,
                                      cases[c].act_order, W4A16_F16};
        gpu_weight w;
        gpu_weight_make(&spec, 850 + c, &w);
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        W4A16_CHECK(
            w4a16_pack(f->sm90, &w.src, 1, NULL, W4A16_BF16, &packed, &packed_owner, stream));
        /* ldc: odd (plain stores) or a multiple of 8 (TMA stores) by turns. */
        const int64_t M = cases[c].M, lda = cases[c].k + 8, ldc = cases[c].n + (c % 2 ? 1 : 8);
        uint16_t *A = gpu_random_halves(M * lda, W4A16_BF16, -1, 1, 860 + c);
        void *A_dev = gpu_upload(A, (size_t)(M * lda) * 2), *C = gpu_alloc((size_t)(M * ldc) * 2);
        char what[32];
        snprintf(what, sizeof what, "case %zu", c);
        gpu_check_repeat_and_replay(f->sm90, &packed, A_dev, lda, C, ldc, M, stream, what);
        CUDA_CHECK(cudaFree(A_dev));
        CUDA_CHECK(cudaFree(C));
        free(A);
        w4a16_buffers_free(packed_owner);
        gpu_weight_free(&w);
    }
    CUDA_CHECK(cudaStreamDestroy(stream));
}

/* Batch-invariant mode: rows of A computed at M = 1, 7, 64, 65 and 300 (A
 * offset to the row, so the row sits at every position of a tile) give the
 * same bits as in the M = 300 call, on a wide N and on a narrow N with long K
 * (where the normal plan splits K), with bias, with act-order; the mode
 * refuses another forced kernel and an A it cannot read, naming why; and it
 * can be turned off again. */
static void test_batch_invariant(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    W4A16_CHECK(w4a16_ctx_set_batch_invariant(ctx, 1));
    const struct {
        int64_t n, k;
        int act_order;
    } cases[] = {{1024, 512, 0}, {256, 4096, 0}, {256, 4096, 1}};
    const int64_t big = 300, ms[] = {1, 7, 64, 65}, rows[] = {0, 5, 63, 64, 130, 299};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, cases[c].n, cases[c].k, 128, 1,
                                      cases[c].act_order, W4A16_F16};
        gpu_packed p;
        gpu_packed_make(ctx, &spec, W4A16_F16, 870 + c, &p);
        const w4a16_weight *packed = &p.packed;
        const int64_t n = cases[c].n, lda = cases[c].k + 8, ldc = n + 3;
        uint16_t *A = gpu_random_halves(big * lda, W4A16_F16, -1, 1, 880 + c);
        uint16_t *bias = gpu_random_halves(n, W4A16_F16, -1, 1, 890 + c);
        uint16_t *A_dev = gpu_upload(A, (size_t)(big * lda) * 2);
        void *bias_dev = gpu_upload(bias, (size_t)n * 2);
        uint16_t *C_big = gpu_alloc((size_t)(big * ldc) * 2), *C = gpu_alloc((size_t)(big * ldc) * 2);
        assert_string_equal(w4a16_gemm_kernel_name(ctx, packed, 1), "sm90_prefill");
        W4A16_CHECK(w4a16_gemm(ctx, packed, A_dev, lda, C_big, ldc, big, bias_dev, NULL));
        uint16_t *want = malloc((size_t)(big * ldc) * 2), *got = malloc((size_t)ldc * 2);
        assert_non_null(want);
        assert_non_null(got);
        gpu_download(want, C_big, (size_t)(big * ldc) * 2);
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
            for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
                /* Row rows[r] as row `at` of a call of ms[i] rows. */
                const int64_t m = ms[i], at = rows[r] % m, first = rows[r] - at;
                if (first + m > big) continue;
                gpu_poison(C, (size_t)(big * ldc) * 2);
                W4A16_CHECK(w4a16_gemm(ctx, packed, A_dev + first * lda, lda, C, ldc, m,
                                       bias_dev, NULL));
                gpu_download(got, C + at * ldc, (size_t)ldc * 2);
                if (memcmp(got, want + rows[r] * ldc, (size_t)n * 2) != 0)
                    fail_msg("case %zu: row %lld differs at M=%lld (row %lld of the call)", c,
                             (long long)rows[r], (long long)m, (long long)at);
            }
        free(want);
        free(got);
        CUDA_CHECK(cudaFree(A_dev));
        CUDA_CHECK(cudaFree(bias_dev));
        CUDA_CHECK(cudaFree(C_big));
        CUDA_CHECK(cudaFree(C));
        free(A);
        free(bias);
        if (c == 0) { /* what the mode refuses, then off again */
            uint16_t *A1 = gpu_alloc((size_t)(8 * lda + 8) * 2), *C1 = gpu_alloc((size_t)(8 * ldc) * 2);
            assert_int_equal(w4a16_gemm(ctx, packed, A1 + 1, lda, C1, ldc, 8, NULL, NULL),
                             W4A16_ERR_UNSUPPORTED);
            assert_non_null(strstr(w4a16_last_error(), "batch-invariant"));
            assert_non_null(strstr(w4a16_last_error(), "16-byte aligned"));
            W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "fallback"));
            assert_int_equal(w4a16_gemm(ctx, packed, A1, lda, C1, ldc, 8, NULL, NULL),
                             W4A16_ERR_UNSUPPORTED);
            assert_non_null(strstr(w4a16_last_error(), "fallback"));
            W4A16_CHECK(w4a16_ctx_set_kernel(ctx, "auto"));
            W4A16_CHECK(w4a16_ctx_set_batch_invariant(ctx, 0));
            assert_string_not_equal(w4a16_gemm_kernel_name(ctx, packed, 8), "sm90_prefill");
            W4A16_CHECK(w4a16_ctx_set_batch_invariant(ctx, 1));
            assert_int_equal(w4a16_ctx_set_batch_invariant(ctx, 2), W4A16_ERR_ARG);
            CUDA_CHECK(cudaDeviceSynchronize());
            CUDA_CHECK(cudaFree(A1));
            CUDA_CHECK(cudaFree(C1));
        }
        gpu_packed_free(&p);
    }
    w4a16_ctx_destroy(ctx);
}

/* A ctx forcing sm90_prefill with W4A16_SM90_PLAN = `plan` (NULL: planned)
 * and W4A16_PDL = `pdl`. */
static w4a16_ctx *plan_ctx(const char *plan, const char *pdl) {
    if (plan != NULL) setenv("W4A16_SM90_PLAN", plan, 1);
    setenv("W4A16_PDL", pdl, 1);
    w4a16_ctx *ctx = forced_ctx(0);
    unsetenv("W4A16_SM90_PLAN");
    unsetenv("W4A16_PDL");
    return ctx;
}

/* Programmatic dependent launch (W4A16_PDL, up to 16 rows for sm90_prefill):
 * chains of calls that each read the previous output and overwrite the
 * previous input (gpu_check_chain): whole tiles, split K and stream-K (the
 * parts and counters in the workspace), act-order (A permuted into the
 * workspace by a kernel of its own before each call), and 64 rows (launched
 * as ordinary kernels). */
static void test_programmatic_chain(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        const char *plan;
        int64_t M;
        int act_order;
    } cases[] = {{"32,1", 16, 0}, {"32,3", 16, 0}, {"32,sk", 12, 0}, {NULL, 9, 1}, {"64,2", 64, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 1024, 1024, 128, 0, cases[i].act_order,
                                      W4A16_F16};
        w4a16_ctx *ctx = plan_ctx(cases[i].plan, "1"), *plain = plan_ctx(cases[i].plan, "0");
        gpu_check_chain(ctx, plain, "sm90_prefill", &spec, cases[i].M, 9400 + i);
        printf("chain ok: plan %s, M = %lld%s\n", cases[i].plan ? cases[i].plan : "planned",
               (long long)cases[i].M, cases[i].act_order ? ", act-order" : "");
        w4a16_ctx_destroy(ctx);
        w4a16_ctx_destroy(plain);
    }
}

/* A caller's kernel that lets the next start at once and writes the weights
 * (and bias) late: an sm90_prefill call launched programmatically after it
 * (up to 16 rows) must see the new bytes (gpu_check_late_weight_write), with
 * whole tiles, split K and act-order. */
static void test_weights_written_late(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    const struct {
        const char *plan;
        int act_order;
    } cases[] = {{"32,1", 0}, {"32,3", 0}, {NULL, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 1024, 1024, 128, 0, cases[i].act_order,
                                      W4A16_F16};
        w4a16_ctx *ctx = plan_ctx(cases[i].plan, "1");
        gpu_check_late_weight_write(ctx, "sm90_prefill", &spec, 16, 9500 + i);
        w4a16_ctx_destroy(ctx);
    }
}

/* Plans forced with W4A16_SM90_PLAN (read when the ctx is created), each
 * against the reference: the hybrid (a whole round of 132 tiles, then
 * stream-K over the rest) with one CTA an SM and with two (64-token tiles),
 * stream-K over paired CTAs with each tile in ~13 parts, and split K over
 * paired CTAs in more than one round. The 128-token tile in every mode:
 * whole tiles with group 32, zeros and act-order; split K in bf16; stream-K
 * with fp32 scales per channel and C stored without TMA (odd ldc); the
 * hybrid. A plan the shape
 * cannot take fails the call with W4A16_ERR_ARG, writing nothing; a
 * malformed value fails the ctx. */
static void test_forced_plans(void **state) {
    fixture *f = *state;
    HOPPER_REQUIRED(f);
    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    const struct {
        const char *plan;
        gpu_weight_spec spec;
        w4a16_dtype act;
        int64_t M;
        int64_t ldc_pad;
        int needs_132_sms; /* the hybrid's round is 132 tiles */
    } cases[] = {
        {"256,hy", {W4A16_FORMAT_AWQ, 2560, 1024, 128, 1, 0, W4A16_F16}, W4A16_F16, 2048, 0, 1},
        {"64,hy", {W4A16_FORMAT_GPTQ, 9728, 1024, 128, 0, 0, W4A16_F16}, W4A16_F16, 256, 0, 1},
        {"64,sk", {W4A16_FORMAT_CT, 2560, 4096, 128, 0, 0, W4A16_BF16}, W4A16_BF16, 64, 0, 0},
        {"32,5", {W4A16_FORMAT_AWQ, 2560, 4096, 64, 1, 0, W4A16_F16}, W4A16_F16, 100, 0, 0},
        {"128,1", {W4A16_FORMAT_GPTQ, 1024, 2048, 32, 1, 1, W4A16_F16}, W4A16_F16, 300, 0, 0},
        {"128,3", {W4A16_FORMAT_AWQ, 2560, 4096, 128, 1, 0, W4A16_BF16}, W4A16_BF16, 200, 0, 0},
        {"128,sk", {W4A16_FORMAT_CT, 9728, 1024, -1, 0, 0, W4A16_F32}, W4A16_F16, 128, 1, 0},
        {"128,hy", {W4A16_FORMAT_GPTQ, 9728, 1024, 64, 0, 0, W4A16_F16}, W4A16_F16, 256, 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].needs_132_sms && sms != 132) {
            printf("W4A16_SM90_PLAN=%s: skipped, the device has %d SMs, not 132\n", cases[i].plan,
                   sms);
            continue;
        }
        w4a16_ctx *ctx = plan_ctx(cases[i].plan, "1");
        assert_non_null(ctx);
        gpu_check_options options = {cases[i].act, 1, (int)i % 2, 0, cases[i].ldc_pad, 3, 9300 + i};
        gpu_check_gemm(ctx, f->cublas, &cases[i].spec, &cases[i].M, 1, &options);
        printf("W4A16_SM90_PLAN=%s ok: %s at M = %lld\n", cases[i].plan,
               gpu_weight_describe(&cases[i].spec), (long long)cases[i].M);
        w4a16_ctx_destroy(ctx);
    }
    /* 48 tokens is no tile width: the call fails and C stays poisoned. */
    w4a16_ctx *ctx = plan_ctx("48,1", "1");
    assert_non_null(ctx);
    const gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 256, 256, 128, 1, 0, W4A16_F16};
    gpu_packed p;
    gpu_packed_make(ctx, &spec, W4A16_F16, 9400, &p);
    const int64_t m = 40, n = spec.n;
    uint16_t *A_host = gpu_random_halves(m * spec.k, W4A16_F16, -1, 1, 9401);
    void *A = gpu_upload(A_host, (size_t)(m * spec.k) * 2);
    void *C = gpu_alloc((size_t)(m * n) * 2);
    gpu_poison(C, (size_t)(m * n) * 2);
    assert_int_equal(w4a16_gemm(ctx, &p.packed, A, spec.k, C, n, m, NULL, NULL), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "W4A16_SM90_PLAN='48,1'"));
    CUDA_CHECK(cudaDeviceSynchronize());
    assert_int_equal(gpu_count_written(C, m * n), 0);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    free(A_host);
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
    const char *malformed[] = {"64", "64,", "64,x", "64,0", "300,1", "64,2,3", "sk"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        setenv("W4A16_SM90_PLAN", malformed[i], 1);
        w4a16_ctx *bad = NULL;
        assert_int_equal(w4a16_ctx_create(0, 0, &bad), W4A16_ERR_ARG);
        unsetenv("W4A16_SM90_PLAN");
        assert_null(bad);
        assert_non_null(strstr(w4a16_last_error(), "W4A16_SM90_PLAN"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_invariant),
        cmocka_unit_test(test_small_f16),       cmocka_unit_test(test_small_bf16),
        cmocka_unit_test(test_medium_f16),      cmocka_unit_test(test_medium_bf16),
        cmocka_unit_test(test_odd_shapes),      cmocka_unit_test(test_large_and_qwen),
        cmocka_unit_test(test_small_workspace), cmocka_unit_test(test_declines),
        cmocka_unit_test(test_auto_choice),     cmocka_unit_test(test_capture_and_repeat),
        cmocka_unit_test(test_forced_plans),    cmocka_unit_test(test_programmatic_chain),
        cmocka_unit_test(test_weights_written_late),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
