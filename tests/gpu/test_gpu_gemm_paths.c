/* w4a16_gemm through the fallback's less common paths, each against the fp64
 * reference with docs/DESIGN.md §1's criterion: a small workspace that forces
 * several W chunks and act-order's M-chunked permute of A; the
 * W4A16_FALLBACK_SPLIT modes; merged sources of different formats and their
 * N- and K-slices, act-order K-slices included; a GPTQ v1 zero of 16 end to
 * end; graph capture and determinism of the one-chunk path; M = 0;
 * W4A16_LOG=1 logging each choice once on stderr. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/dtype.h"
#include "gpu_support.h"

static const int64_t MS[] = {1, 17, 256, 1000, 2049};
static const int N_MS = (int)(sizeof MS / sizeof MS[0]);

/* Odd pitches (rows of A and C not 16-byte aligned), bias, reference rows
 * 0, M-2, M-1 of every M plus 8 random ones. */
static gpu_check_options options_for(w4a16_dtype dtype, int from_device, uint64_t seed) {
    gpu_check_options o = {dtype, from_device, 1, 3, 5, 8, seed};
    return o;
}

/* ---------------------------------------------- small workspace: chunks */

/* 520 x 1024 (n_padded 576, 2 KiB per dequantized row). With a 1 MiB
 * workspace, act-order keeps at most 256 permuted rows of A (half the
 * workspace), so M = 1000 and 2049 run in 4 and 9 M-chunks, and W (1.15 MB)
 * never fits what is left: 3 chunks of 192 rows at M = 1 and 17, 5 chunks of
 * 128 rows from M = 256 on.
 * Without act-order W runs in 3 chunks of 256 rows. With 4 MiB, A takes up
 * to 1024 rows (M = 2049: 3 M-chunks) and W fits in one chunk, dequantized
 * once for all of them. */
static void test_small_workspace_chunks(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    const struct {
        size_t workspace;
        gpu_weight_spec spec;
        w4a16_dtype act;
    } cases[] = {
        {1u << 20, {W4A16_FORMAT_GPTQ, 520, 1024, 128, 1, 1, W4A16_F16}, W4A16_F16},
        {1u << 20, {W4A16_FORMAT_CT, 520, 1024, 64, 0, 1, W4A16_BF16}, W4A16_BF16},
        {1u << 20, {W4A16_FORMAT_AWQ, 520, 1024, 128, 1, 0, W4A16_F16}, W4A16_F16},
        {1u << 20, {W4A16_FORMAT_GPTQ_V2, 520, 1024, -1, 1, 0, W4A16_F16}, W4A16_BF16},
        {4u << 20, {W4A16_FORMAT_GPTQ, 520, 1024, 32, 1, 1, W4A16_F16}, W4A16_BF16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w4a16_ctx *ctx = NULL;
        W4A16_CHECK(w4a16_ctx_create(0, cases[i].workspace, &ctx));
        gpu_check_options o = options_for(cases[i].act, (int)i % 2, 300 + i);
        gpu_check_gemm(ctx, cublas, &cases[i].spec, MS, N_MS, &o);
        printf("ok: %s, %s activations, %zu KiB workspace\n", gpu_weight_describe(&cases[i].spec),
               w4a16_dtype_name(cases[i].act), cases[i].workspace >> 10);
        w4a16_ctx_destroy(ctx);
    }
}

/* ------------------------------------------ W4A16_FALLBACK_SPLIT modes */

/* 1096 rows (n_padded 1152 >= 1024) at M >= 512: `even` splits W in two
 * halves, `head` into 192 rows then the rest; each chunk after the first is
 * dequantized on the side stream beside the previous chunk's GEMM. */
static void test_split_modes(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    const int64_t ms[] = {1, 512, 1000};
    const char *modes[] = {"even", "head", "none"};
    for (int i = 0; i < 3; i++) {
        setenv("W4A16_FALLBACK_SPLIT", modes[i], 1);
        w4a16_ctx *ctx = NULL;
        W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
        gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 1096, 512, 128, 1, i != 2, W4A16_F16};
        gpu_check_options o = options_for(i == 1 ? W4A16_BF16 : W4A16_F16, i % 2, 400 + i);
        gpu_check_gemm(ctx, cublas, &spec, ms, 3, &o);
        w4a16_ctx_destroy(ctx);
    }
    setenv("W4A16_FALLBACK_SPLIT", "halves", 1);
    w4a16_ctx *ctx = NULL;
    assert_int_equal(w4a16_ctx_create(0, 0, &ctx), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "W4A16_FALLBACK_SPLIT='halves'"));
    assert_null(ctx);
    unsetenv("W4A16_FALLBACK_SPLIT");
}

/* ----------------------------------------- merged sources and slices */

/* W of the slice: row r, column j of the concatenation's [n_begin.., k_begin..). */
static double slice_weight(const w4a16_source *sources, const w4a16_slice *s, int64_t r,
                           int64_t j) {
    int64_t row = s->n_begin + r;
    int i = 0;
    while (row >= sources[i].n) row -= sources[i++].n;
    return w4a16_source_weight(&sources[i], row, s->k_begin + j);
}

static double half_to_double(uint16_t bits, w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? w4a16_bf16_to_float(bits) : w4a16_f16_to_float(bits);
}

static uint16_t double_to_half(double value, w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? w4a16_float_to_bf16((float)value)
                               : w4a16_float_to_f16((float)value);
}

/* Packs `used` (the host sources `host`, or device copies of them) sliced,
 * then for M in {1, 17, 256} runs w4a16_gemm on a poisoned C and cuBLAS on
 * the slice's W rounded to dtype, both against the fp64 reference of every
 * row; misaligned rows and a bias as everywhere. */
static void check_slice_gemm(cublasHandle_t cublas, w4a16_ctx *ctx, const w4a16_source *host,
                             const w4a16_source *used, int n_sources, const w4a16_slice *slice,
                             w4a16_dtype dtype, uint64_t seed, const char *what) {
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, used, n_sources, slice, dtype, &packed, &packed_owner, NULL));
    const int64_t n = packed.n, k = packed.k, max_m = 256, lda = k + 1, ldc = n + 3;
    assert_int_equal(n, slice->n_end - slice->n_begin);
    assert_int_equal(k, slice->k_end - slice->k_begin);
    double *W = malloc((size_t)(n * k) * sizeof *W);
    uint16_t *dense = malloc((size_t)(n * k) * 2);
    assert_true(W != NULL && dense != NULL);
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < k; j++) {
            W[r * k + j] = slice_weight(host, slice, r, j);
            dense[r * k + j] = double_to_half(W[r * k + j], dtype);
        }
    uint16_t *A = gpu_random_halves(max_m * lda, dtype, -1, 1, seed);
    uint16_t *bias = gpu_random_halves(n, dtype, -1, 1, seed + 1);
    gpu_reference ref = {n, max_m, malloc((size_t)max_m * sizeof(int64_t)),
                         malloc((size_t)(max_m * n) * sizeof(double))};
    assert_true(ref.rows != NULL && ref.C != NULL);
    for (int64_t m = 0; m < max_m; m++) {
        ref.rows[m] = m;
        for (int64_t r = 0; r < n; r++) {
            double sum = half_to_double(bias[r], dtype);
            for (int64_t j = 0; j < k; j++)
                sum += half_to_double(A[m * lda + j], dtype) * W[r * k + j];
            ref.C[m * n + r] = sum;
        }
    }
    void *A_dev = gpu_upload(A, (size_t)(max_m * lda) * 2);
    void *bias_dev = gpu_upload(bias, (size_t)n * 2);
    void *dense_dev = gpu_upload(dense, (size_t)(n * k) * 2);
    const int64_t ms[] = {1, 17, 256};
    gpu_check_runs(ctx, cublas, &packed, dense_dev, A_dev, lda, bias_dev, ldc, &ref, ms, 3, what);
    CUDA_CHECK(cudaFree(dense_dev));
    CUDA_CHECK(cudaFree(bias_dev));
    CUDA_CHECK(cudaFree(A_dev));
    gpu_reference_free(&ref);
    free(A);
    free(bias);
    free(dense);
    free(W);
    w4a16_buffers_free(packed_owner);
}

/* q|k|v-like: an AWQ, a symmetric GPTQ and a compressed-tensors source (all
 * K = 256, G = 64, F16 scales) concatenated along N, then sliced: whole,
 * rows and columns cutting through sources and tiles, one source exactly,
 * a single group of columns. */
static void test_merged_sliced_gemm(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const gpu_weight_spec specs[3] = {{W4A16_FORMAT_AWQ, 40, 256, 64, 1, 0, W4A16_F16},
                                      {W4A16_FORMAT_GPTQ, 24, 256, 64, 0, 0, W4A16_F16},
                                      {W4A16_FORMAT_CT, 72, 256, 64, 1, 0, W4A16_F16}};
    gpu_weight parts[3];
    w4a16_source host[3], device[3];
    for (int i = 0; i < 3; i++) {
        gpu_weight_make(&specs[i], 500 + (uint64_t)i, &parts[i]);
        host[i] = parts[i].src;
        device[i] = gpu_source_upload(&parts[i]);
    }
    const w4a16_slice slices[] = {{0, 136, 0, 256}, {13, 121, 64, 192}, {64, 88, 192, 256},
                                  {40, 64, 0, 256}, {100, 136, 0, 64}};
    for (size_t s = 0; s < sizeof slices / sizeof slices[0]; s++) {
        char what[96];
        snprintf(what, sizeof what, "awq|gptq|ct rows [%lld, %lld) cols [%lld, %lld) from %s",
                 (long long)slices[s].n_begin, (long long)slices[s].n_end,
                 (long long)slices[s].k_begin, (long long)slices[s].k_end, s % 2 ? "device" : "host");
        check_slice_gemm(cublas, ctx, host, s % 2 ? device : host, 3, &slices[s],
                         s % 2 ? W4A16_BF16 : W4A16_F16, 510 + s, what);
    }
    for (int i = 0; i < 3; i++) {
        gpu_source_free(&device[i]);
        gpu_weight_free(&parts[i]);
    }
    w4a16_ctx_destroy(ctx);
}

/* Act-order GPTQ, G = 32: groups 5, 2, 7, 0 interleaved in columns 0..127,
 * 1, 3, 4, 6 in 128..255, so each half is a K-slice of whole groups (a
 * row-parallel rank); also a row range of it, and two act-order sources
 * with the same g_idx merged. */
static void test_act_order_slices_gemm(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 64, 256, 32, 1, 1, W4A16_F16};
    gpu_weight parts[2];
    w4a16_source host[2], device[2];
    const int32_t low[4] = {5, 2, 7, 0}, high[4] = {1, 3, 4, 6};
    for (int i = 0; i < 2; i++) {
        gpu_weight_make(&spec, 600 + (uint64_t)i, &parts[i]);
        for (int j = 0; j < 128; j++) {
            parts[i].g_idx[j] = low[j % 4];
            parts[i].g_idx[128 + j] = high[(j / 2) % 4];
        }
        host[i] = parts[i].src;
        device[i] = gpu_source_upload(&parts[i]);
    }
    const struct {
        int n_sources;
        w4a16_slice slice;
    } cases[] = {{1, {0, 64, 0, 128}}, {1, {0, 64, 128, 256}}, {1, {8, 56, 128, 256}},
                 {2, {0, 128, 0, 256}}, {2, {40, 100, 128, 256}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const w4a16_slice *s = &cases[i].slice;
        char what[112];
        snprintf(what, sizeof what, "act-order x%d rows [%lld, %lld) cols [%lld, %lld) from %s",
                 cases[i].n_sources, (long long)s->n_begin, (long long)s->n_end,
                 (long long)s->k_begin, (long long)s->k_end, i % 2 ? "device" : "host");
        check_slice_gemm(cublas, ctx, host, i % 2 ? device : host, cases[i].n_sources, s,
                         i % 2 ? W4A16_F16 : W4A16_BF16, 610 + i, what);
    }
    for (int i = 0; i < 2; i++) {
        gpu_source_free(&device[i]);
        gpu_weight_free(&parts[i]);
    }
    w4a16_ctx_destroy(ctx);
}

/* ------------------------------------------------ GPTQ v1 zero of 16 */

/* Every stored zero 15: GPTQ v1 means z = 16 (docs/DESIGN.md §2), so every
 * weight is (q - 16) * s, all negative. The packed zeros hold 16 (5 bits),
 * and the GEMM matches the reference. */
static void test_gptq_v1_zero_16(void **state) {
    GPU_REQUIRED();
    cublasHandle_t cublas = gpu_cublas(state);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    for (int act_order = 0; act_order < 2; act_order++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 136, 512, 128, 1, act_order, W4A16_F16};
        gpu_weight w;
        gpu_weight_make(&spec, 700 + (uint64_t)act_order, &w);
        memset(w.qzeros, 0xff, w.qzeros_bytes);
        assert_int_equal(w4a16_source_weight(&w.src, 0, 0) < 0, 1);
        w4a16_source device = gpu_source_upload(&w);
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        W4A16_CHECK(w4a16_pack(ctx, act_order ? &device : &w.src, 1, NULL, W4A16_F16, &packed,
                               &packed_owner, NULL));
        assert_non_null(packed.zeros);
        const int64_t cells = packed.groups_padded * packed.n_padded;
        uint8_t *zeros = malloc((size_t)cells);
        assert_non_null(zeros);
        gpu_download(zeros, packed.zeros, (size_t)cells);
        for (int64_t g = 0; g < packed.groups; g++)
            for (int64_t r = 0; r < packed.n; r++)
                if (zeros[g * packed.n_padded + r] != 16)
                    fail_msg("packed zero (row %lld, group %lld) = %d, want 16", (long long)r,
                             (long long)g, zeros[g * packed.n_padded + r]);
        free(zeros);
        w4a16_buffers_free(packed_owner);
        const w4a16_slice all = {0, 136, 0, 512};
        check_slice_gemm(cublas, ctx, &w.src, act_order ? &device : &w.src, 1, &all,
                         act_order ? W4A16_BF16 : W4A16_F16, 710 + (uint64_t)act_order,
                         act_order ? "gptq v1 z=16 act-order" : "gptq v1 z=16");
        gpu_source_free(&device);
        gpu_weight_free(&w);
    }
    w4a16_ctx_destroy(ctx);
}

/* ------------------------------------------- capture of one W chunk */

/* The default path (W fits the workspace: one dequantize, one GEMM on the
 * caller's stream, no side stream), with and without act-order's permute:
 * a direct run, a second run, and two replays of a captured graph, each into
 * poisoned C, are bitwise equal and finite. */
static void test_single_chunk_capture(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (int act_order = 0; act_order < 2; act_order++) {
        const gpu_weight_spec spec = {W4A16_FORMAT_CT, 520, 1024, 128, 1, act_order, W4A16_BF16};
        gpu_weight w;
        gpu_weight_make(&spec, 850 + (uint64_t)act_order, &w);
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_BF16, &packed, &packed_owner, stream));
        const int64_t M = 33, lda = 1024 + 1, ldc = 520 + 1;
        uint16_t *A = gpu_random_halves(M * lda, W4A16_BF16, -1, 1, 860 + (uint64_t)act_order);
        void *A_dev = gpu_upload(A, (size_t)(M * lda) * 2), *C = gpu_alloc((size_t)(M * ldc) * 2);
        gpu_check_repeat_and_replay(ctx, &packed, A_dev, lda, C, ldc, M, stream,
                                    act_order ? "act-order" : "no act-order");
        CUDA_CHECK(cudaFree(A_dev));
        CUDA_CHECK(cudaFree(C));
        free(A);
        w4a16_buffers_free(packed_owner);
        gpu_weight_free(&w);
    }
    CUDA_CHECK(cudaStreamDestroy(stream));
    w4a16_ctx_destroy(ctx);
}

/* ------------------------------------------------------- M = 0, log */

/* M = 0 with real buffers is a no-op that writes nothing, and asks nothing
 * of A, C or the pitches beyond their types. */
static void test_m_zero(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_CT, 64, 128, 32, 1, 1, W4A16_F16};
    gpu_weight w;
    gpu_weight_make(&spec, 800, &w);
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
    uint16_t *A = gpu_alloc(4 * 128 * 2), *C = gpu_alloc(4 * 64 * 2), *bias = gpu_alloc(64 * 2);
    gpu_poison(C, 4 * 64 * 2);
    W4A16_CHECK(w4a16_gemm(ctx, &packed, A, 128, C, 64, 0, bias, NULL));
    W4A16_CHECK(w4a16_gemm(ctx, &packed, A, 128, C, 64, 0, NULL, NULL));
    CUDA_CHECK(cudaDeviceSynchronize());
    assert_int_equal(gpu_count_written(C, 4 * 64), 0);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    CUDA_CHECK(cudaFree(bias));
    w4a16_buffers_free(packed_owner);
    gpu_weight_free(&w);
    w4a16_ctx_destroy(ctx);
}

/* Lines of `text` that contain `needle`. */
static int count_lines_with(const char *text, const char *needle) {
    int count = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t length = end ? (size_t)(end - line) : strlen(line);
        char buffer[1024];
        snprintf(buffer, sizeof buffer, "%.*s", (int)(length < 1023 ? length : 1023), line);
        count += strstr(buffer, needle) != NULL;
        line = end ? end + 1 : NULL;
    }
    return count;
}

/* W4A16_LOG=1 (no callback): each new (shape, M, kernel) once, on stderr. */
static void test_log_env_stderr(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_set_log(NULL, NULL);
    gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 64, 128, 64, 1, 0, W4A16_F16};
    gpu_weight w;
    gpu_weight_make(&spec, 900, &w);
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);

    setenv("W4A16_LOG", "1", 1);
    w4a16_ctx *ctx = NULL;
    w4a16_status created = w4a16_ctx_create(0, 0, &ctx);
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    w4a16_status status = created;
    if (status == W4A16_OK) status = w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL);
    uint16_t *A = gpu_alloc(9 * 128 * 2), *C = gpu_alloc(9 * 64 * 2);
    cudaMemset(A, 0, 9 * 128 * 2);
    /* M = 7 three times, then M = 3 twice: two lines. */
    for (int i = 0; i < 5 && status == W4A16_OK; i++)
        status = w4a16_gemm(ctx, &packed, A, 128, C, 64, i < 3 ? 7 : 3, NULL, NULL);
    cudaDeviceSynchronize();
    unsetenv("W4A16_LOG");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    W4A16_CHECK(status);

    char text[4096];
    rewind(capture);
    const size_t length = fread(text, 1, sizeof text - 1, capture);
    text[length] = '\0';
    fclose(capture);
    assert_int_equal(count_lines_with(text, "w4a16: gemm n=64 k=128"), 2);
    assert_int_equal(count_lines_with(text, "M=7 -> decode"), 1);
    assert_int_equal(count_lines_with(text, "M=3 -> decode"), 1);

    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    w4a16_buffers_free(packed_owner);
    w4a16_ctx_destroy(ctx);
    gpu_weight_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_workspace_chunks),
        cmocka_unit_test(test_split_modes),
        cmocka_unit_test(test_merged_sliced_gemm),
        cmocka_unit_test(test_act_order_slices_gemm),
        cmocka_unit_test(test_gptq_v1_zero_16),
        cmocka_unit_test(test_single_chunk_capture),
        cmocka_unit_test(test_m_zero),
        cmocka_unit_test(test_log_env_stderr),
    };
    int failed = cmocka_run_group_tests(tests, gpu_cublas_setup, gpu_cublas_teardown);
    return gpu_tests_exit_code(failed);
}
