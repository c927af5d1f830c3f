/* The GPU part of `w4a16 demo`: pack the layer the demo read back, run the
 * dispatched kernel and the fallback on the demo's activations, check both
 * against the demo's fp64 reference rows next to cuBLAS's own error, and
 * time all three as `w4a16 bench` does (graph replays, weights cycled past
 * the L2). Without a device it says that it skipped. */
#include "demo_gpu.h"

#include <stdio.h>

#include "gpu_presence.h"

#ifdef W4A16_WITH_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timing.h"
#include "commands.h"
#include "gpu_tool.h"
#include "kernels.h"
#include "random_weight.h"
#include "verify_gpu.h"
#include "weight_copies.h"

typedef struct {
    const demo_layer *layer;
    device_info device;
    cudaStream_t stream;
    dense_gemm dense;
    w4a16_ctx *auto_ctx, *fallback_ctx;
    weight_copies copies;
    void *A, *C;
} demo_state;

static void print_row(const char *kernel, int64_t m, double error, double limit,
                      const char *result, double us, double cublas_us, const demo_state *d) {
    const demo_layer *l = d->layer;
    double flops = 2.0 * (double)m * (double)l->n * (double)l->k;
    char limit_text[16] = "-";
    if (!isnan(limit)) snprintf(limit_text, sizeof limit_text, "%.3e", limit);
    printf("  %-22s %5lld %10.3e %10s  %-4s %10.2f %8.2f %9.3f\n", kernel, (long long)m, error,
           limit_text, result, us, flops / (us * 1e6), cublas_us / us);
}

/* Runs one kernel on the first m rows of A with copy 0 of the weight
 * (cuBLAS when ctx is NULL), measures its error on the reference rows below
 * m, then times it. 1 on success. */
static int measure(demo_state *d, w4a16_ctx *ctx, int64_t m, verify_result *result, double *us) {
    const demo_layer *l = d->layer;
    gemm_call call = {&d->copies, ctx, &d->dense, d->A, d->C, m};
    int n_rows = 0;
    while (n_rows < l->n_ref_rows && l->ref_rows[n_rows] < m) n_rows++; /* rows ascend */
    int ok = verify_poison(d->C, m, l->n, d->stream) &&
             (ctx ? gpu_tool_w4a16_ok(gemm_call_try(&call, d->stream), "w4a16_gemm")
                  : gemm_call_dense(&call, 0, d->stream)) &&
             CUDA_OK(cudaStreamSynchronize(d->stream)) &&
             verify_output(d->C, m, l->n, l->act_dtype, l->ref_rows, n_rows, l->C_ref,
                           ctx != NULL, result);
    int copies = ctx ? d->copies.n_packed : d->copies.n_dense;
    graph_timing timing;
    ok = ok && time_graph(d->stream, calls_per_replay(copies),
                          ctx ? gemm_call_packed : gemm_call_dense, &call, &timing);
    if (ok) *us = timing.us_per_call;
    return ok;
}

/* Checks and times one kernel's row against cuBLAS's at the same M;
 * 1 passed, 0 wrong results, -1 error. */
static int kernel_row(demo_state *d, const char *label, w4a16_ctx *ctx, int64_t m,
                      double cublas_error, double cublas_us) {
    verify_result result;
    double us;
    if (!measure(d, ctx, m, &result, &us)) return -1;
    double limit = fmax(1.5 * cublas_error, d->layer->tolerance_floor);
    int pass = result.nonfinite == 0 && result.error <= limit;
    print_row(label, m, result.error, limit, pass ? "PASS" : "FAIL", us, cublas_us, d);
    if (result.nonfinite)
        printf("  %s: %lld outputs NaN, Inf or unwritten\n", label, (long long)result.nonfinite);
    return pass;
}

static int prepare(demo_state *d) {
    const demo_layer *l = d->layer;
    size_t dense_bytes = (size_t)(l->n * l->k) * 2;
    uint16_t *dense = malloc(dense_bytes);
    if (dense == NULL) {
        fprintf(stderr, "w4a16 demo: out of host memory for the dense weight\n");
        return 0;
    }
    source_dequantize(l->source, l->act_dtype, dense);
    int ok = device_info_get(&d->device) &&
             CUDA_OK(cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking)) &&
             dense_gemm_create(&d->dense, d->stream) &&
             W4A16_OK_CALL(kernel_ctx_create("auto", &d->auto_ctx)) &&
             W4A16_OK_CALL(kernel_ctx_create("fallback", &d->fallback_ctx)) &&
             weight_copies_pack(&d->copies, d->auto_ctx, l->source, l->act_dtype,
                                d->device.l2_bytes, d->stream) &&
             weight_copies_dense(&d->copies, dense, d->device.l2_bytes) &&
             (d->A = gpu_tool_upload_new(l->A, (size_t)(l->m * l->k) * 2, "activations")) &&
             (d->C = gpu_tool_alloc((size_t)(l->m * l->n) * 2, "outputs"));
    free(dense);
    return ok;
}

static int run(demo_state *d) {
    const demo_layer *l = d->layer;
    if (!prepare(d)) return EXIT_FAILURE_INPUT;
    printf("GPU: %s; %s %lldx%lld, M=%lld, packed %.1f MB (%d copies cycled past the L2)\n",
           d->device.name, l->name, (long long)l->n, (long long)l->k, (long long)l->m,
           d->copies.packed_bytes / 1e6, d->copies.n_packed);
    printf("  %-22s %5s %10s %10s  %-4s %10s %8s %9s\n", "kernel", "M", "err", "limit", "", "us",
           "TFLOP/s", "x cuBLAS");
    /* The demo's M (prefill), then one token (decode): row 0 is always a reference row. */
    int64_t ms[2] = {l->m, 1};
    int all_pass = 1;
    for (int i = 0; i < 2 && (i == 0 || l->m > 1); i++) {
        verify_result result;
        double cublas_us;
        if (!measure(d, NULL, ms[i], &result, &cublas_us)) return EXIT_FAILURE_INPUT;
        print_row("cublas (dense 16-bit)", ms[i], result.error, NAN, "", cublas_us, cublas_us, d);
        char label[64];
        snprintf(label, sizeof label, "auto (%s)",
                 w4a16_gemm_kernel_name(d->auto_ctx, &d->copies.packed[0], ms[i]));
        int auto_pass = kernel_row(d, label, d->auto_ctx, ms[i], result.error, cublas_us);
        int fallback_pass =
            auto_pass < 0 ? -1 : kernel_row(d, "fallback", d->fallback_ctx, ms[i], result.error, cublas_us);
        if (auto_pass < 0 || fallback_pass < 0) return EXIT_FAILURE_INPUT;
        all_pass = all_pass && auto_pass && fallback_pass;
    }
    printf("GPU check: %s (limit = max(1.5 x cuBLAS's error, %.0e))\n",
           all_pass ? "passed" : "FAILED", l->tolerance_floor);
    return all_pass ? EXIT_OK : EXIT_WRONG_RESULTS;
}

static int demo_gpu_run(const demo_layer *layer) {
    gpu_tool_set_command("demo");
    demo_state d;
    memset(&d, 0, sizeof d);
    d.layer = layer;
    int code = run(&d);
    cudaFree(d.A);
    cudaFree(d.C);
    weight_copies_free(&d.copies);
    w4a16_ctx_destroy(d.auto_ctx);
    w4a16_ctx_destroy(d.fallback_ctx);
    dense_gemm_destroy(&d.dense);
    if (d.stream) cudaStreamDestroy(d.stream);
    return code;
}
#endif

int demo_gpu(const demo_layer *layer) {
    if (!gpu_presence_found()) {
#ifdef W4A16_WITH_CUDA
        printf("GPU part skipped: no CUDA device was found\n");
#else
        printf("GPU part skipped: this build has no CUDA support\n");
#endif
        return 0;
    }
#ifdef W4A16_WITH_CUDA
    return demo_gpu_run(layer);
#else
    (void)layer;
    return 0;
#endif
}
