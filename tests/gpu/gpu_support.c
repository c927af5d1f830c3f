/* GPU test helpers (see gpu_support.h). */
#include "gpu_support.h"
#include "late_writer.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/layouts.h"
#include "checkpoint/source.h"
#include "common/dtype.h"
#include "test_support.h"

int gpu_present(void) {
    static int present = -1;
    if (present < 0) {
        int count = 0;
        present = w4a16_device_count(&count) == W4A16_OK && count > 0;
        if (!present) printf("no CUDA device: skipping GPU tests\n");
    }
    return present;
}

int gpu_tests_exit_code(int cmocka_result) {
    return cmocka_result == 0 && !gpu_present() ? GPU_TESTS_SKIPPED : cmocka_result;
}

int gpu_cublas_setup(void **state) {
    static cublasHandle_t handle;
    *state = &handle;
    if (!gpu_present()) return 0;
    return cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

int gpu_cublas_teardown(void **state) {
    cublasHandle_t *handle = *state;
    if (*handle != NULL) cublasDestroy(*handle);
    *handle = NULL;
    return 0;
}

cublasHandle_t gpu_cublas(void **state) { return *(cublasHandle_t *)*state; }

void gpu_check_cuda(cudaError_t error, const char *expr, const char *file, int line) {
    if (error != cudaSuccess)
        fail_msg("%s:%d: %s: %s", file, line, expr, cudaGetErrorString(error));
}

void gpu_check_cublas(cublasStatus_t status, const char *expr, const char *file, int line) {
    if (status != CUBLAS_STATUS_SUCCESS)
        fail_msg("%s:%d: %s: %s", file, line, expr, cublasGetStatusString(status));
}

void gpu_check_w4a16(w4a16_status status, const char *expr, const char *file, int line) {
    if (status != W4A16_OK)
        fail_msg("%s:%d: %s: %s: %s", file, line, expr, w4a16_status_str(status),
                 w4a16_last_error());
}

static void *host_alloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------------------- weights */

static int64_t random_below(uint64_t *rng, int64_t bound) {
    return (int64_t)(test_rng_next(rng) % (uint64_t)bound);
}

static void put_scale(void *scales, w4a16_dtype dtype, int64_t i, float value) {
    switch (dtype) {
    case W4A16_F16: ((uint16_t *)scales)[i] = w4a16_float_to_f16(value); break;
    case W4A16_BF16: ((uint16_t *)scales)[i] = w4a16_float_to_bf16(value); break;
    default: ((float *)scales)[i] = value; break;
    }
}

/* g_idx with exactly G columns per group, in a random column order. */
static void random_g_idx(int32_t *g_idx, int64_t k, int64_t group_size, uint64_t *rng) {
    int64_t *order = host_alloc((size_t)k * sizeof *order);
    for (int64_t j = 0; j < k; j++) order[j] = j;
    for (int64_t j = k - 1; j > 0; j--) {
        int64_t other = random_below(rng, j + 1), t = order[j];
        order[j] = order[other], order[other] = t;
    }
    for (int64_t j = 0; j < k; j++) g_idx[order[j]] = (int32_t)(j / group_size);
    free(order);
}

void gpu_weight_make(const gpu_weight_spec *spec, uint64_t seed, gpu_weight *out) {
    memset(out, 0, sizeof *out);
    out->spec = *spec;
    uint64_t rng = seed;
    const int64_t n = spec->n, k = spec->k;
    const int64_t groups = spec->group_size < 0 ? 1 : k / spec->group_size;
    w4a16_format_layout layout;
    if (w4a16_format_layout_get(spec->format, n, k, groups, &layout) != W4A16_OK)
        fail_msg("%s: %s", gpu_weight_describe(spec), w4a16_last_error());
    out->qweight_bytes = (size_t)(layout.qweight_shape[0] * layout.qweight_shape[1]) * 4;
    out->qweight = host_alloc(out->qweight_bytes);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < k; c++)
            w4a16_qlayout_put(&layout.qweight, out->qweight, r, c, (int32_t)random_below(&rng, 16));
    if (spec->asymmetric) {
        out->qzeros_bytes = (size_t)(layout.qzeros_shape[0] * layout.qzeros_shape[1]) * 4;
        out->qzeros = host_alloc(out->qzeros_bytes);
        const int32_t lowest = layout.qzeros.offset; /* GPTQ v1: 1..16 */
        for (int64_t r = 0; r < n; r++)
            for (int64_t g = 0; g < groups; g++)
                w4a16_qlayout_put(&layout.qzeros, out->qzeros, r, g,
                                  lowest + (int32_t)random_below(&rng, 16));
    }
    const int64_t scale_count = layout.scales_shape[0] * layout.scales_shape[1];
    out->scales_bytes = (size_t)scale_count * (size_t)(w4a16_dtype_bits(spec->scales_dtype) / 8);
    out->scales = host_alloc(out->scales_bytes);
    for (int64_t i = 0; i < scale_count; i++)
        put_scale(out->scales, spec->scales_dtype, i, (float)test_rng_uniform(&rng, 0.002, 0.02));
    if (spec->act_order && spec->group_size > 0) {
        out->g_idx = host_alloc((size_t)k * sizeof(int32_t));
        random_g_idx(out->g_idx, k, spec->group_size, &rng);
    }
    w4a16_source *s = &out->src;
    s->n = n;
    s->k = k;
    s->group_size = spec->group_size;
    s->qweight = out->qweight;
    s->qweight_layout = layout.qweight;
    s->qzeros = out->qzeros;
    s->qzeros_layout = layout.qzeros;
    s->scales = out->scales;
    s->scales_dtype = spec->scales_dtype;
    s->scales_stride_n = layout.scales_stride_n;
    s->scales_stride_g = layout.scales_stride_g;
    s->g_idx = out->g_idx;
    s->on_device = 0;
}

void gpu_weight_free(gpu_weight *w) {
    free(w->qweight);
    free(w->qzeros);
    free(w->scales);
    free(w->g_idx);
    memset(w, 0, sizeof *w);
}

void gpu_packed_make(w4a16_ctx *ctx, const gpu_weight_spec *spec, w4a16_dtype act_dtype,
                     uint64_t seed, gpu_packed *out) {
    gpu_weight_make(spec, seed, &out->w);
    w4a16_weight_init(&out->packed);
    out->owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, &out->w.src, 1, NULL, act_dtype, &out->packed, &out->owner, NULL));
}

void gpu_packed_free(gpu_packed *p) {
    w4a16_buffers_free(p->owner);
    gpu_weight_free(&p->w);
    memset(p, 0, sizeof *p);
}

w4a16_source gpu_source_upload(const gpu_weight *w) {
    w4a16_source s = w->src;
    s.qweight = gpu_upload(w->qweight, w->qweight_bytes);
    s.qzeros = w->qzeros ? gpu_upload(w->qzeros, w->qzeros_bytes) : NULL;
    s.scales = gpu_upload(w->scales, w->scales_bytes);
    s.g_idx = w->g_idx ? gpu_upload(w->g_idx, (size_t)w->spec.k * sizeof(int32_t)) : NULL;
    s.on_device = 1;
    return s;
}

void gpu_source_free(w4a16_source *src) {
    cudaFree((void *)src->qweight);
    cudaFree((void *)src->qzeros);
    cudaFree((void *)src->scales);
    cudaFree((void *)src->g_idx);
    memset(src, 0, sizeof *src);
}

const char *gpu_weight_describe(const gpu_weight_spec *spec) {
    static char text[160];
    char group[24];
    if (spec->group_size < 0)
        snprintf(group, sizeof group, "per-channel");
    else
        snprintf(group, sizeof group, "g%lld", (long long)spec->group_size);
    snprintf(text, sizeof text, "%s %s %s %s-scales%s %lldx%lld", w4a16_format_name(spec->format),
             group, spec->asymmetric ? "asym" : "sym", w4a16_dtype_name(spec->scales_dtype),
             spec->act_order ? " act-order" : "", (long long)spec->n, (long long)spec->k);
    return text;
}

void *gpu_dense_weight(const w4a16_source *src, w4a16_dtype act_dtype) {
    uint16_t *dense = host_alloc((size_t)(src->n * src->k) * 2);
    double *row = host_alloc((size_t)src->k * sizeof *row);
    for (int64_t r = 0; r < src->n; r++) {
        w4a16_source_row(src, r, row);
        for (int64_t c = 0; c < src->k; c++)
            dense[r * src->k + c] = act_dtype == W4A16_BF16 ? w4a16_float_to_bf16((float)row[c])
                                                            : w4a16_float_to_f16((float)row[c]);
    }
    void *device = gpu_upload(dense, (size_t)(src->n * src->k) * 2);
    free(row);
    free(dense);
    return device;
}

/* ------------------------------------------------------------- buffers */

void *gpu_alloc(size_t bytes) {
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
}

/* Upload and poison finish before they return: tests run the library on
 * non-blocking streams, which do not wait for the legacy stream's work. */
void *gpu_upload(const void *host, size_t bytes) {
    void *p = gpu_alloc(bytes);
    CUDA_CHECK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());
    return p;
}

void gpu_download(void *host, const void *device, size_t bytes) {
    CUDA_CHECK(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
}

void gpu_poison(void *device, size_t bytes) {
    CUDA_CHECK(cudaMemset(device, 0xff, bytes));
    CUDA_CHECK(cudaDeviceSynchronize());
}

uint16_t *gpu_random_halves(int64_t count, w4a16_dtype dtype, double lo, double hi,
                            uint64_t seed) {
    uint16_t *values = host_alloc((size_t)count * 2);
    uint64_t rng = seed;
    test_fill_random(values, dtype, count, lo, hi, &rng);
    return values;
}

/* ------------------------------------------------------------ accuracy */

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void gpu_reference_make(const w4a16_source *src, const uint16_t *A, w4a16_dtype dtype,
                        int64_t lda, const uint16_t *bias, const int64_t *ms, int n_ms,
                        int extra, uint64_t seed, gpu_reference *out) {
    int64_t max_m = 0;
    for (int i = 0; i < n_ms; i++) max_m = ms[i] > max_m ? ms[i] : max_m;
    int64_t *rows = host_alloc((size_t)(3 * n_ms + extra) * sizeof *rows);
    int64_t count = 0;
    for (int i = 0; i < n_ms; i++) {
        rows[count++] = 0;
        if (ms[i] >= 2) rows[count++] = ms[i] - 2;
        rows[count++] = ms[i] - 1;
    }
    uint64_t rng = seed;
    for (int i = 0; i < extra; i++) rows[count++] = random_below(&rng, max_m);
    qsort(rows, (size_t)count, sizeof *rows, compare_int64);
    int64_t unique = 0;
    for (int64_t i = 0; i < count; i++)
        if (unique == 0 || rows[unique - 1] != rows[i]) rows[unique++] = rows[i];
    out->n = src->n;
    out->n_rows = unique;
    out->rows = rows;
    out->C = host_alloc((size_t)(unique * src->n) * sizeof(double));
    W4A16_CHECK(w4a16_ref_gemm(src, A, dtype, lda, rows, unique, bias, out->C));
}

void gpu_reference_free(gpu_reference *ref) {
    free(ref->rows);
    free(ref->C);
    memset(ref, 0, sizeof *ref);
}

/* Broadcasts bias into every row of C, so that GemmEx with beta = 1 adds it:
 * row 0, then rows [0, r) copied to [r, 2r), doubling. */
static void fill_bias(const void *bias, int64_t n, int64_t M, void *C, int64_t ldc,
                      cudaStream_t stream) {
    const size_t pitch = (size_t)ldc * 2, width = (size_t)n * 2;
    CUDA_CHECK(cudaMemcpyAsync(C, bias, width, cudaMemcpyDeviceToDevice, stream));
    for (int64_t done = 1; done < M; done *= 2) {
        const int64_t rows = done < M - done ? done : M - done;
        CUDA_CHECK(cudaMemcpy2DAsync((char *)C + (size_t)done * pitch, pitch, C, pitch, width,
                                     (size_t)rows, cudaMemcpyDeviceToDevice, stream));
    }
}

void gpu_cublas_gemm(cublasHandle_t handle, const void *W, w4a16_dtype dtype, int64_t n,
                     int64_t k, const void *A, int64_t lda, int64_t M, const void *bias, void *C,
                     int64_t ldc, cudaStream_t stream) {
    if (M == 0) return;
    if (bias != NULL) fill_bias(bias, n, M, C, ldc, stream);
    const float alpha = 1.0f, beta = bias != NULL ? 1.0f : 0.0f;
    const cudaDataType t = dtype == W4A16_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    CUBLAS_CHECK(cublasSetStream(handle, stream));
    CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)M, (int)k, &alpha, W,
                              t, (int)k, A, t, (int)lda, &beta, C, t, (int)ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

static double to_double(uint16_t bits, w4a16_dtype dtype) {
    return dtype == W4A16_BF16 ? w4a16_bf16_to_float(bits) : w4a16_f16_to_float(bits);
}

gpu_result gpu_measure(const void *C, int64_t ldc, int64_t M, w4a16_dtype dtype,
                       const gpu_reference *ref) {
    gpu_result result = {0, 0, 0};
    if (M == 0) return result;
    const int64_t n = ref->n;
    uint16_t *host = host_alloc((size_t)(M * ldc) * 2);
    gpu_download(host, C, (size_t)(M * ldc) * 2);
    for (int64_t m = 0; m < M; m++) {
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(to_double(host[m * ldc + j], dtype))) result.nan++;
        for (int64_t j = n; j < ldc; j++)
            if (host[m * ldc + j] != 0xffff) result.touched++;
    }
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < ref->n_rows && ref->rows[i] < M; i++)
        for (int64_t j = 0; j < n; j++) {
            const double want = ref->C[i * n + j];
            const double got = to_double(host[ref->rows[i] * ldc + j], dtype);
            const double diff = fabs(got - want);
            worst = diff > worst || isnan(diff) ? diff : worst;
            scale = fabs(want) > scale ? fabs(want) : scale;
        }
    result.err = scale > 0 ? worst / scale : worst;
    free(host);
    return result;
}

int64_t gpu_count_written(const void *device, int64_t count) {
    uint16_t *host = host_alloc((size_t)count * 2);
    gpu_download(host, device, (size_t)count * 2);
    int64_t written = 0;
    for (int64_t i = 0; i < count; i++) written += host[i] != 0xffff;
    free(host);
    return written;
}

double gpu_error_floor(w4a16_dtype dtype) { return dtype == W4A16_BF16 ? 8e-3 : 1e-3; }

/* ------------------------------------------------ one weight, many M */

static int64_t max_of(const int64_t *values, int count) {
    int64_t best = 0;
    for (int i = 0; i < count; i++) best = values[i] > best ? values[i] : best;
    return best;
}

void gpu_check_runs(w4a16_ctx *ctx, cublasHandle_t cublas, const w4a16_weight *packed,
                    const void *dense, const void *A, int64_t lda, const void *bias, int64_t ldc,
                    const gpu_reference *ref, const int64_t *ms, int n_ms, const char *what) {
    const w4a16_dtype dtype = packed->act_dtype;
    const int64_t n = packed->n, k = packed->k, max_m = max_of(ms, n_ms);
    void *C = gpu_alloc((size_t)(max_m * ldc) * 2), *C_cublas = gpu_alloc((size_t)(max_m * ldc) * 2);
    for (int i = 0; i < n_ms; i++) {
        const int64_t M = ms[i];
        gpu_poison(C, (size_t)(max_m * ldc) * 2);
        gpu_poison(C_cublas, (size_t)(max_m * ldc) * 2);
        W4A16_CHECK(w4a16_gemm(ctx, packed, A, lda, C, ldc, M, bias, NULL));
        gpu_cublas_gemm(cublas, dense, dtype, n, k, A, lda, M, bias, C_cublas, ldc, NULL);
        CUDA_CHECK(cudaDeviceSynchronize());
        const gpu_result got = gpu_measure(C, ldc, M, dtype, ref);
        const gpu_result base = gpu_measure(C_cublas, ldc, M, dtype, ref);
        const double limit = fmax(1.5 * base.err, gpu_error_floor(dtype));
        /* The row after the last one asked for must still be poison. */
        const int64_t past_m = M < max_m ? gpu_count_written((uint16_t *)C + M * ldc, ldc) : 0;
        if (got.nan || got.touched || past_m || !(got.err <= limit) || base.nan)
            fail_msg("%s, %s activations, M=%lld%s: err %.3g (limit %.3g, e_cublas %.3g), "
                     "%lld NaN, %lld written past n, %lld in row M (cuBLAS NaN %lld)",
                     what, w4a16_dtype_name(dtype), (long long)M, bias ? " with bias" : "",
                     got.err, limit, base.err, (long long)got.nan, (long long)got.touched,
                     (long long)past_m, (long long)base.nan);
    }
    CUDA_CHECK(cudaFree(C));
    CUDA_CHECK(cudaFree(C_cublas));
}

void gpu_check_repeat_and_replay(w4a16_ctx *ctx, const w4a16_weight *packed, const void *A,
                                 int64_t lda, void *C, int64_t ldc, int64_t M,
                                 cudaStream_t stream, const char *what) {
    const int64_t n = packed->n, count = M * ldc;
    /* NaN / Inf: the exponent all ones. */
    const uint16_t exponent = packed->act_dtype == W4A16_BF16 ? 0x7f80 : 0x7c00;
    uint16_t *runs[4];
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    for (int run = 0; run < 4; run++) {
        gpu_poison(C, (size_t)count * 2);
        /* The poison ran on the legacy stream; `stream` does not wait for it. */
        CUDA_CHECK(cudaDeviceSynchronize());
        if (run < 2) {
            W4A16_CHECK(w4a16_gemm(ctx, packed, A, lda, C, ldc, M, NULL, stream));
        } else {
            if (run == 2) {
                CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
                W4A16_CHECK(w4a16_gemm(ctx, packed, A, lda, C, ldc, M, NULL, stream));
                CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
                CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
            }
            CUDA_CHECK(cudaGraphLaunch(exec, stream));
        }
        CUDA_CHECK(cudaStreamSynchronize(stream));
        runs[run] = host_alloc((size_t)count * 2);
        gpu_download(runs[run], C, (size_t)count * 2);
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < n; j++)
            if ((runs[0][m * ldc + j] & exponent) == exponent)
                fail_msg("%s: C[%lld][%lld] is not finite", what, (long long)m, (long long)j);
    for (int run = 1; run < 4; run++)
        if (memcmp(runs[0], runs[run], (size_t)count * 2) != 0)
            fail_msg("%s: run %d differs from run 0 (runs 2 and 3 replay a graph)", what, run);
    for (int run = 0; run < 4; run++) free(runs[run]);
    CUDA_CHECK(cudaGraphExecDestroy(exec));
    CUDA_CHECK(cudaGraphDestroy(graph));
}

int gpu_check_gemm(w4a16_ctx *ctx, cublasHandle_t cublas, const gpu_weight_spec *spec,
                   const int64_t *ms, int n_ms, const gpu_check_options *o) {
    const w4a16_dtype dtype = o->act_dtype;
    gpu_weight w;
    gpu_weight_make(spec, o->seed, &w);
    w4a16_source device = o->from_device ? gpu_source_upload(&w) : w.src;
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, &device, 1, NULL, dtype, &packed, &packed_owner, NULL));

    const int64_t n = spec->n, k = spec->k, max_m = max_of(ms, n_ms);
    const int64_t lda = k + o->lda_pad, ldc = n + o->ldc_pad;
    uint16_t *A = gpu_random_halves(max_m * lda, dtype, -1, 1, o->seed ^ 0xa);
    uint16_t *bias = o->with_bias ? gpu_random_halves(n, dtype, -1, 1, o->seed ^ 0xb) : NULL;
    void *A_dev = gpu_upload(A, (size_t)(max_m * lda) * 2);
    void *bias_dev = bias ? gpu_upload(bias, (size_t)n * 2) : NULL;
    gpu_reference ref;
    gpu_reference_make(&w.src, A, dtype, lda, bias, ms, n_ms, o->extra_rows, o->seed ^ 0xc, &ref);
    void *dense = gpu_dense_weight(&w.src, dtype);
    char what[160];
    snprintf(what, sizeof what, "%s", gpu_weight_describe(spec));
    gpu_check_runs(ctx, cublas, &packed, dense, A_dev, lda, bias_dev, ldc, &ref, ms, n_ms, what);

    CUDA_CHECK(cudaFree(dense));
    CUDA_CHECK(cudaFree(A_dev));
    if (bias_dev) CUDA_CHECK(cudaFree(bias_dev));
    gpu_reference_free(&ref);
    free(A);
    free(bias);
    w4a16_buffers_free(packed_owner);
    if (o->from_device) gpu_source_free(&device);
    gpu_weight_free(&w);
    return n_ms;
}

int gpu_check_cross_product(w4a16_ctx *ctx, cublasHandle_t cublas, int64_t n, int64_t k,
                            w4a16_dtype act_dtype, const int64_t *ms, int n_ms,
                            const gpu_cross_options *o) {
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
                    const int padded = (config / 4) % 2;
                    gpu_check_options options = {act_dtype,
                                                 config % 2,
                                                 (config / 2) % 2,
                                                 padded * o->lda_pad,
                                                 padded * o->ldc_pad,
                                                 o->extra_rows,
                                                 o->seed + (uint64_t)config};
                    gpu_check_gemm(ctx, cublas, &spec, ms, n_ms, &options);
                    config++;
                }
    return config;
}

w4a16_ctx *gpu_forced_ctx(const char *kernel, size_t workspace_bytes) {
    w4a16_ctx *ctx = NULL;
    setenv("W4A16_KERNEL", kernel, 1);
    const w4a16_status status = w4a16_ctx_create(0, workspace_bytes, &ctx);
    unsetenv("W4A16_KERNEL");
    return status == W4A16_OK ? ctx : NULL;
}

/* One run of gpu_check_chain's chain: `how` 0 back to back, 1 synchronized
 * after each call, 2 captured in a graph and replayed. The last output, on
 * the host. */
static uint16_t *run_chain(w4a16_ctx *ctx, const w4a16_weight *packed, const uint16_t *x0,
                           int64_t M, int steps, int how, cudaStream_t stream) {
    const int64_t n = packed->n;
    const size_t bytes = (size_t)(M * n) * 2;
    void *buf[2] = {gpu_upload(x0, bytes), gpu_alloc(bytes)};
    gpu_poison(buf[1], bytes);
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    if (how == 2) CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < steps; i++) {
        W4A16_CHECK(w4a16_gemm(ctx, packed, buf[i % 2], n, buf[(i + 1) % 2], n, M, NULL, stream));
        if (how == 1) CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    if (how == 2) {
        CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
        CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
        CUDA_CHECK(cudaGraphLaunch(exec, stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    uint16_t *out = malloc(bytes);
    assert_non_null(out);
    gpu_download(out, buf[steps % 2], bytes);
    if (how == 2) {
        CUDA_CHECK(cudaGraphExecDestroy(exec));
        CUDA_CHECK(cudaGraphDestroy(graph));
    }
    CUDA_CHECK(cudaFree(buf[0]));
    CUDA_CHECK(cudaFree(buf[1]));
    return out;
}

void gpu_check_chain(w4a16_ctx *ctx, w4a16_ctx *plain, const char *kernel,
                     const gpu_weight_spec *spec, int64_t M, uint64_t seed) {
    assert_non_null(ctx);
    assert_non_null(plain);
    assert_int_equal(spec->n, spec->k);
    const int steps = 4;
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    gpu_packed p;
    gpu_packed_make(ctx, spec, W4A16_F16, seed, &p);
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &p.packed, M), kernel);
    uint16_t *x0 = gpu_random_halves(M * spec->n, W4A16_F16, -1, 1, seed + 1);
    uint16_t *want = run_chain(ctx, &p.packed, x0, M, steps, 1, stream);
    for (int64_t i = 0; i < M * spec->n; i++) {
        const double v = w4a16_f16_to_float(want[i]);
        if (!isfinite(v) || v == 0.0)
            fail_msg("%s chain: output %lld is %g", kernel, (long long)i, v);
    }
    uint16_t *runs[3] = {run_chain(ctx, &p.packed, x0, M, steps, 0, stream),
                         run_chain(ctx, &p.packed, x0, M, steps, 2, stream),
                         run_chain(plain, &p.packed, x0, M, steps, 0, stream)};
    const char *names[3] = {"back to back", "a graph replay", "W4A16_PDL=0"};
    for (int r = 0; r < 3; r++) {
        if (memcmp(want, runs[r], (size_t)(M * spec->n) * 2) != 0)
            fail_msg("%s chain (%s, M=%lld): %s differs from the synchronized chain", kernel,
                     gpu_weight_describe(spec), (long long)M, names[r]);
        free(runs[r]);
    }
    free(want);
    free(x0);
    gpu_packed_free(&p);
    CUDA_CHECK(cudaStreamDestroy(stream));
}

void gpu_check_late_weight_write(w4a16_ctx *ctx, const char *kernel, const gpu_weight_spec *spec,
                                 int64_t M, uint64_t seed) {
    assert_non_null(ctx);
    const int64_t n = spec->n, k = spec->k;
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    gpu_packed old_w, new_w;
    gpu_packed_make(ctx, spec, W4A16_F16, seed, &old_w);
    gpu_packed_make(ctx, spec, W4A16_F16, seed + 1, &new_w);
    assert_string_equal(w4a16_gemm_kernel_name(ctx, &old_w.packed, M), kernel);
    uint16_t *host = gpu_random_halves(M * k, W4A16_F16, -1, 1, seed + 2);
    void *A = gpu_upload(host, (size_t)(M * k) * 2);
    free(host);
    host = gpu_random_halves(2 * n, W4A16_F16, -1, 1, seed + 3);
    void *old_bias = gpu_upload(host, (size_t)n * 2), *new_bias = gpu_upload(host + n, (size_t)n * 2);
    free(host);
    const size_t c_bytes = (size_t)(M * n) * 2;
    void *C = gpu_alloc(c_bytes);
    uint16_t *want = malloc(c_bytes), *got = malloc(c_bytes);
    assert_non_null(want);
    assert_non_null(got);

    gpu_poison(C, c_bytes);
    W4A16_CHECK(w4a16_gemm(ctx, &new_w.packed, A, k, C, n, M, new_bias, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    gpu_download(want, C, c_bytes);
    W4A16_CHECK(w4a16_gemm(ctx, &old_w.packed, A, k, C, n, M, old_bias, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    gpu_poison(C, c_bytes);

    const late_copies copies = {
        {old_w.packed.qweight, old_w.packed.scales, old_w.packed.zeros, old_w.packed.perm, old_bias},
        {new_w.packed.qweight, new_w.packed.scales, new_w.packed.zeros, new_w.packed.perm, new_bias},
        {new_w.packed.qweight_bytes, new_w.packed.scales_bytes, new_w.packed.zeros_bytes,
         new_w.packed.perm_bytes, (size_t)n * 2}};
    for (int c = 0; c < LATE_COPIES; c++) assert_int_equal(copies.bytes[c] % 16, 0);
    CUDA_CHECK(late_copy_launch(&copies, 200000, stream)); /* ~100 µs at 2 GHz */
    W4A16_CHECK(w4a16_gemm(ctx, &old_w.packed, A, k, C, n, M, old_bias, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    gpu_download(got, C, c_bytes);
    if (memcmp(want, got, c_bytes) != 0)
        fail_msg("%s (%s, M=%lld): a call right after a kernel that wrote its weights late "
                 "differs from the call on those weights synchronized (it loaded before its "
                 "grid dependency wait)",
                 kernel, gpu_weight_describe(spec), (long long)M);
    free(want);
    free(got);
    CUDA_CHECK(cudaFree(A));
    CUDA_CHECK(cudaFree(C));
    CUDA_CHECK(cudaFree(old_bias));
    CUDA_CHECK(cudaFree(new_bias));
    gpu_packed_free(&old_w);
    gpu_packed_free(&new_w);
    CUDA_CHECK(cudaStreamDestroy(stream));
}
