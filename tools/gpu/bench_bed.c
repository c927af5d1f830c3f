/* The measuring bench and tune share (see bench_bed.h). */
#ifdef W4A16_WITH_CUDA
#include "bench_bed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "random_weight.h"

/* Activations for the largest M and K of the sweep, outputs for the largest M and N. */
static int allocate_io(bench_bed *bed, const sweep *sw) {
    int64_t max_n = 0, max_k = 0, max_m = m_list_max(&sw->ms);
    for (int i = 0; i < sw->shapes.count; i++) {
        if (sw->shapes.items[i].n > max_n) max_n = sw->shapes.items[i].n;
        if (sw->shapes.items[i].k > max_k) max_k = sw->shapes.items[i].k;
    }
    size_t a_count = (size_t)(max_m * max_k);
    uint16_t *host = malloc(2 * a_count);
    if (host == NULL) {
        fprintf(stderr, "w4a16 %s: out of host memory for activations\n", gpu_tool_command());
        return 0;
    }
    w4a16_rng_fill(host, bed->dtype, (int64_t)a_count, -1.0, 1.0, &bed->rng);
    bed->A = gpu_tool_upload_new(host, 2 * a_count, "activations");
    free(host);
    bed->C = gpu_tool_alloc((size_t)(2 * max_m * max_n), "outputs");
    return bed->A && bed->C;
}

static int create_contexts(bench_bed *bed, const int kernel_enabled[KERNELS_MAX]) {
    if (!W4A16_OK_CALL(kernel_ctx_create("auto", &bed->auto_ctx))) return 0;
    for (int i = 0; i < kernel_count(); i++)
        if (kernel_enabled[i] && !W4A16_OK_CALL(kernel_ctx_create(kernel_name(i), &bed->kernel_ctx[i])))
            return 0;
    return 1;
}

int bench_bed_open(bench_bed *bed, const sweep *sw, const int kernel_enabled[KERNELS_MAX],
                   FILE *row_echo) {
    memset(bed, 0, sizeof *bed);
    bed->dtype = sw->dtypes[0];
    bed->group = sw->groups[0];
    bed->asym = sw->asyms[0];
    bed->act_order = sw->act_order;
    bed->row_echo = row_echo;
    bed->rng = 0x7e57be4c4ull;
    return device_info_get(&bed->device) &&
           CUDA_OK(cudaStreamCreateWithFlags(&bed->stream, cudaStreamNonBlocking)) &&
           dense_gemm_create(&bed->dense, bed->stream) && create_contexts(bed, kernel_enabled) &&
           allocate_io(bed, sw);
}

void bench_bed_close(bench_bed *bed) {
    bench_rows_free(&bed->rows);
    cudaFree(bed->A);
    cudaFree(bed->C);
    for (int i = 0; i < kernel_count(); i++) w4a16_ctx_destroy(bed->kernel_ctx[i]);
    w4a16_ctx_destroy(bed->auto_ctx);
    dense_gemm_destroy(&bed->dense);
    if (bed->stream) cudaStreamDestroy(bed->stream);
    memset(bed, 0, sizeof *bed);
}

void bench_bed_print_config(const bench_bed *bed, FILE *out) {
    device_info_print(out, &bed->device);
    fprintf(out, "%s: %s, group %lld, %s%s, commit %s; median of >= 30 graph replays of >= 20 calls,"
            " weights cycled past 2x L2\n",
            gpu_tool_command(), sweep_dtype_name(bed->dtype), (long long)bed->group,
            bed->asym ? "asymmetric" : "symmetric", bed->act_order ? ", act-order" : "",
            W4A16_GIT_COMMIT);
}

int bench_bed_shape_fits(const bench_bed *bed, const tool_shape *shape) {
    if (sweep_group_fits(bed->group, shape->k)) return 1;
    fprintf(stderr, "%s: %s skipped: group %lld does not divide K=%lld\n", gpu_tool_command(),
            shape->name, (long long)bed->group, (long long)shape->k);
    return 0;
}

/* Random checkpoint tensors, copied to the device. */
static int upload_source(bench_bed *bed, bench_weights *w) {
    const tool_shape *shape = w->shape;
    random_weight host;
    if (!W4A16_OK_CALL(random_weight_make(shape->n, shape->k, bed->group, bed->asym,
                                          bed->act_order, bed->dtype, &bed->rng, &host)))
        return 0;
    w->source = host.source;
    w->source.qweight = NULL;
    w->source.qzeros = NULL;
    w->source.scales = NULL;
    w->source.g_idx = NULL;
    w->source.on_device = 1;
    void *qweight = NULL, *qzeros = NULL, *scales = NULL, *g_idx = NULL;
    int ok = (qweight = gpu_tool_upload_new(host.qweight, host.qweight_bytes, "checkpoint qweight")) &&
             (!bed->asym || (qzeros = gpu_tool_upload_new(host.qzeros, host.qzeros_bytes, "checkpoint zeros"))) &&
             (scales = gpu_tool_upload_new(host.scales, host.scales_bytes, "checkpoint scales")) &&
             (!bed->act_order || (g_idx = gpu_tool_upload_new(host.g_idx, host.g_idx_bytes, "checkpoint g_idx")));
    w->source_bytes =
        (double)(host.qweight_bytes + host.qzeros_bytes + host.scales_bytes + host.g_idx_bytes);
    random_weight_free(&host);
    w->source.qweight = qweight;
    w->source.qzeros = qzeros;
    w->source.scales = scales;
    w->source.g_idx = g_idx;
    return ok;
}

/* Random dense weights for cuBLAS (values in [-1, 1]). */
static int dense_copies(bench_bed *bed, bench_weights *w) {
    size_t count = (size_t)(w->shape->n * w->shape->k);
    uint16_t *host = malloc(2 * count);
    if (host == NULL) {
        fprintf(stderr, "w4a16 %s: out of host memory for a dense %s\n", gpu_tool_command(),
                w->shape->name);
        return 0;
    }
    w4a16_rng_fill(host, bed->dtype, (int64_t)count, -1.0, 1.0, &bed->rng);
    int ok = weight_copies_dense(&w->copies, host, bed->device.l2_bytes);
    free(host);
    return ok;
}

int bench_weights_make(bench_bed *bed, const tool_shape *shape, bench_weights *w) {
    memset(w, 0, sizeof *w);
    w->shape = shape;
    if (!upload_source(bed, w) ||
        !weight_copies_pack(&w->copies, bed->auto_ctx, &w->source, bed->dtype,
                            bed->device.l2_bytes, bed->stream))
        return 0;
    fprintf(stderr, "%s: %s: %d packed copies of %.1f MB\n", gpu_tool_command(), shape->name,
            w->copies.n_packed, w->copies.packed_bytes / 1e6);
    return dense_copies(bed, w);
}

void bench_weights_free(bench_weights *w) {
    weight_copies_free(&w->copies);
    cudaFree((void *)w->source.qweight);
    cudaFree((void *)w->source.qzeros);
    cudaFree((void *)w->source.scales);
    cudaFree((void *)w->source.g_idx);
    memset(w, 0, sizeof *w);
}

bench_row bench_bed_row(const bench_bed *bed, const tool_shape *shape, int64_t m,
                        const char *kernel) {
    bench_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.shape, sizeof row.shape, "%s", shape->name);
    snprintf(row.kernel, sizeof row.kernel, "%s", kernel);
    row.n = shape->n, row.k = shape->k, row.m = m;
    row.group = bed->group, row.dtype = bed->dtype, row.asym = bed->asym;
    row.act_order = bed->act_order;
    row.us = row.tflops = row.gbps = row.ratio_vs_cublas = row.host_us = NAN;
    return row;
}

int bench_bed_add_row(bench_bed *bed, bench_row *row, double us, double bytes, double cublas_us) {
    row->us = us;
    if (row->m > 0)
        row->tflops = 2.0 * (double)row->m * (double)row->n * (double)row->k / (us * 1e6);
    row->gbps = bytes / (us * 1e3);
    if (!isnan(cublas_us)) row->ratio_vs_cublas = cublas_us / us;
    if (bed->row_echo) bench_print_row(bed->row_echo, row);
    if (bench_rows_add(&bed->rows, row)) return 1;
    fprintf(stderr, "w4a16 %s: out of host memory\n", gpu_tool_command());
    return 0;
}

int bench_bed_time(bench_bed *bed, const char *what, int64_t m, enqueue_fn enqueue, void *args,
                   int copies, double *us) {
    graph_timing timing;
    if (!time_graph(bed->stream, calls_per_replay(copies), enqueue, args, &timing)) return 0;
    *us = timing.us_per_call;
    if (timing.spread > 0.1)
        fprintf(stderr, "%s: %s M=%lld: replays spread %.0f%% (10th to 90th percentile)\n",
                gpu_tool_command(), what, (long long)m, 100 * timing.spread);
    return 1;
}

int bench_bed_probe(bench_bed *bed, const gemm_call *call, const char *shape, const char *kernel) {
    w4a16_status status = gemm_call_try(call, bed->stream);
    if (status == W4A16_ERR_UNSUPPORTED) {
        fprintf(stderr, "%s: %s M=%lld: %s skipped: %s\n", gpu_tool_command(), shape,
                (long long)call->m, kernel, w4a16_last_error());
        return 0;
    }
    if (status == W4A16_ERR_ARG || status == W4A16_ERR_SHAPE) {
        fprintf(stderr, "%s: %s M=%lld: %s refused: %s\n", gpu_tool_command(), shape,
                (long long)call->m, kernel, w4a16_last_error());
        bed->refused++;
        return 0;
    }
    if (!gpu_tool_w4a16_ok(status, "w4a16_gemm")) return -1;
    return CUDA_OK(cudaStreamSynchronize(bed->stream)) ? 1 : -1;
}

int bench_bed_time_kernels(bench_bed *bed, const bench_weights *w, int64_t m, double *cublas_us,
                           double us[KERNELS_MAX]) {
    const tool_shape *shape = w->shape;
    const weight_copies *copies = &w->copies;
    gemm_call call = {copies, NULL, &bed->dense, bed->A, bed->C, m};
    for (int i = 0; i < KERNELS_MAX; i++) us[i] = NAN;
    fprintf(stderr, "%s: %s %lldx%lld M=%lld\n", gpu_tool_command(), shape->name,
            (long long)shape->n, (long long)shape->k, (long long)m);

    if (!gemm_call_dense(&call, 0, bed->stream) || !CUDA_OK(cudaStreamSynchronize(bed->stream)) ||
        !bench_bed_time(bed, shape->name, m, gemm_call_dense, &call, copies->n_dense, cublas_us))
        return 0;
    bench_row row = bench_bed_row(bed, shape, m, "cublas");
    /* cuBLAS's own host time per call: the floor under the fallback's. */
    if (!time_host(bed->stream, gemm_call_dense, &call, &row.host_us) ||
        !bench_bed_add_row(bed, &row, *cublas_us, 2.0 * (double)shape->n * (double)shape->k,
                           *cublas_us))
        return 0;

    for (int i = 0; i < kernel_count(); i++) {
        if (bed->kernel_ctx[i] == NULL) continue;
        call.ctx = bed->kernel_ctx[i];
        int ran = bench_bed_probe(bed, &call, shape->name, kernel_name(i));
        if (ran < 0) return 0;
        if (ran == 0) continue;
        if (!bench_bed_time(bed, shape->name, m, gemm_call_packed, &call, copies->n_packed, &us[i]))
            return 0;
        row = bench_bed_row(bed, shape, m, kernel_name(i));
        if (!bench_bed_add_row(bed, &row, us[i], copies->packed_bytes, *cublas_us)) return 0;
    }
    return 1;
}
#endif
