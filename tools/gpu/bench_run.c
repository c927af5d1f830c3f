/* `w4a16 bench` on the GPU: per shape, random weights packed into enough
 * copies to cycle past the L2, then per M the cuBLAS baseline, each forced
 * kernel and the dispatched choice, each timed by graph replay. */
#ifdef W4A16_WITH_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_timing.h"
#include "commands.h"
#include "common/rng.h"
#include "cuda/kernels.h"
#include "gpu_tool.h"
#include "kernels.h"
#include "random_weight.h"
#include "weight_copies.h"

#define PACK_REPEATS 5

typedef struct {
    const bench_options *options;
    w4a16_dtype dtype;
    int64_t group;
    int asym;
    device_info device;
    cudaStream_t stream;
    dense_gemm dense;
    w4a16_ctx *auto_ctx;
    w4a16_ctx *kernel_ctx[KERNELS_MAX]; /* by kernel_index; NULL when not timed */
    void *A, *C;              /* for the largest M, K and N of the sweep */
    bench_rows rows;
    uint64_t rng;
} bench_state;

/* One shape's weights and the figures of its per-shape rows. */
typedef struct {
    const tool_shape *shape;
    weight_copies copies;
    double source_bytes; /* the checkpoint tensors that pack reads */
    void *dequantized;   /* the "dequant" row's output, [n_padded, k_padded] */
} shape_weights;

static bench_row make_row(const bench_state *b, const tool_shape *shape, int64_t m,
                          const char *kernel) {
    bench_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.shape, sizeof row.shape, "%s", shape->name);
    snprintf(row.kernel, sizeof row.kernel, "%s", kernel);
    row.n = shape->n, row.k = shape->k, row.m = m;
    row.group = b->group, row.dtype = b->dtype, row.asym = b->asym;
    row.us = row.tflops = row.gbps = row.ratio_vs_cublas = row.host_us = NAN;
    return row;
}

static int add_row(bench_state *b, bench_row *row, double us, double bytes, double cublas_us) {
    row->us = us;
    if (row->m > 0)
        row->tflops = 2.0 * (double)row->m * (double)row->n * (double)row->k / (us * 1e6);
    row->gbps = bytes / (us * 1e3);
    if (!isnan(cublas_us)) row->ratio_vs_cublas = cublas_us / us;
    bench_print_row(stdout, row);
    if (bench_rows_add(&b->rows, row)) return 1;
    fprintf(stderr, "w4a16 bench: out of host memory\n");
    return 0;
}

/* Times one row by graph replay; 0 on error. */
static int time_row(bench_state *b, const char *what, int64_t m, enqueue_fn enqueue, void *args,
                    int copies, double *us) {
    graph_timing timing;
    if (!time_graph(b->stream, calls_per_replay(copies), enqueue, args, &timing)) return 0;
    *us = timing.us_per_call;
    if (timing.spread > 0.1)
        fprintf(stderr, "bench: %s M=%lld: replays spread %.0f%% (10th to 90th percentile)\n",
                what, (long long)m, 100 * timing.spread);
    return 1;
}

/* One untimed call: 1 ran, 0 the kernel cannot take this call (said why), -1 error. */
static int probe(bench_state *b, const gemm_call *call, const char *shape, const char *kernel) {
    w4a16_status status = gemm_call_try(call, b->stream);
    if (status == W4A16_ERR_UNSUPPORTED) {
        fprintf(stderr, "bench: %s M=%lld: %s skipped: %s\n", shape, (long long)call->m, kernel,
                w4a16_last_error());
        return 0;
    }
    if (!gpu_tool_w4a16_ok(status, "w4a16_gemm")) return -1;
    return CUDA_OK(cudaStreamSynchronize(b->stream)) ? 1 : -1;
}

static int bench_m(bench_state *b, shape_weights *w, int64_t m) {
    const tool_shape *shape = w->shape;
    const weight_copies *copies = &w->copies;
    gemm_call call = {copies, NULL, &b->dense, b->A, b->C, m};
    double cublas_us, us;
    fprintf(stderr, "bench: %s %lldx%lld M=%lld\n", shape->name, (long long)shape->n,
            (long long)shape->k, (long long)m);

    if (!gemm_call_dense(&call, 0, b->stream) || !CUDA_OK(cudaStreamSynchronize(b->stream)) ||
        !time_row(b, shape->name, m, gemm_call_dense, &call, copies->n_dense, &cublas_us))
        return 0;
    bench_row row = make_row(b, shape, m, "cublas");
    /* cuBLAS's own host time per call: the floor under the fallback's. */
    if (!time_host(b->stream, gemm_call_dense, &call, &row.host_us)) return 0;
    if (!add_row(b, &row, cublas_us, 2.0 * (double)shape->n * (double)shape->k, cublas_us))
        return 0;

    for (int i = 0; i < kernel_count(); i++) {
        if (b->kernel_ctx[i] == NULL) continue;
        call.ctx = b->kernel_ctx[i];
        int ran = probe(b, &call, shape->name, kernel_name(i));
        if (ran < 0) return 0;
        if (ran == 0) continue;
        if (!time_row(b, shape->name, m, gemm_call_packed, &call, copies->n_packed, &us)) return 0;
        row = make_row(b, shape, m, kernel_name(i));
        if (!add_row(b, &row, us, copies->packed_bytes, cublas_us)) return 0;
    }

    call.ctx = b->auto_ctx;
    int ran = probe(b, &call, shape->name, "auto");
    if (ran <= 0) return ran == 0;
    row = make_row(b, shape, m, "auto");
    snprintf(row.chosen, sizeof row.chosen, "%s",
             w4a16_gemm_kernel_name(b->auto_ctx, &copies->packed[0], m));
    if (!time_row(b, shape->name, m, gemm_call_packed, &call, copies->n_packed, &us) ||
        !time_host(b->stream, gemm_call_packed, &call, &row.host_us))
        return 0;
    return add_row(b, &row, us, copies->packed_bytes, cublas_us);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Packing from device memory, wall clock around a synchronized call (the
 * library may allocate): the median of a few, after the copies warmed it. */
static int time_pack(bench_state *b, shape_weights *w, const w4a16_source *device_source) {
    double us[PACK_REPEATS];
    for (int r = 0; r < PACK_REPEATS; r++) {
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *owner = NULL;
        if (!CUDA_OK(cudaStreamSynchronize(b->stream))) return 0;
        double start = wall_seconds();
        int ok = W4A16_OK_CALL(w4a16_pack(b->auto_ctx, device_source, 1, NULL, b->dtype, &packed,
                                          &owner, b->stream)) &&
                 CUDA_OK(cudaStreamSynchronize(b->stream));
        us[r] = 1e6 * (wall_seconds() - start);
        w4a16_buffers_free(owner);
        if (!ok) return 0;
    }
    qsort(us, PACK_REPEATS, sizeof us[0], compare_doubles);
    bench_row row = make_row(b, w->shape, 0, "pack");
    return add_row(b, &row, us[PACK_REPEATS / 2], w->source_bytes + w->copies.packed_bytes, NAN);
}

/* The fallback's first step alone: the whole packed weight to 16 bits. */
static int enqueue_dequant(void *user, int call, cudaStream_t stream) {
    const shape_weights *w = user;
    const w4a16_weight *packed = &w->copies.packed[call % w->copies.n_packed];
    return CUDA_OK(w4a16_launch_dequantize(packed, 0, packed->n_padded, w->dequantized,
                                           packed->k_padded, stream));
}

/* GB/s counts bytes read (packed weight, scales, zeros) plus bytes written (16-bit W). */
static int time_dequant(bench_state *b, shape_weights *w) {
    const w4a16_weight *first = &w->copies.packed[0];
    double written = 2.0 * (double)first->n_padded * (double)first->k_padded;
    double us;
    w->dequantized = gpu_tool_alloc((size_t)written, "the dequantized weight");
    int ok = w->dequantized && enqueue_dequant(w, 0, b->stream) &&
             CUDA_OK(cudaStreamSynchronize(b->stream)) &&
             time_row(b, w->shape->name, 0, enqueue_dequant, w, w->copies.n_packed, &us);
    cudaFree(w->dequantized);
    w->dequantized = NULL;
    if (!ok) return 0;
    bench_row row = make_row(b, w->shape, 0, "dequant");
    return add_row(b, &row, us, w->copies.packed_bytes + written, NAN);
}

/* The copy ceiling the dequantize is held to: a device-to-device copy of
 * COPY_BYTES (far past the L2), GB/s counting bytes read plus written. */
#define COPY_BYTES ((size_t)256 << 20)

typedef struct {
    void *from, *to;
} copy_buffers;

static int enqueue_copy(void *user, int call, cudaStream_t stream) {
    (void)call;
    const copy_buffers *c = user;
    return CUDA_OK(cudaMemcpyAsync(c->to, c->from, COPY_BYTES, cudaMemcpyDeviceToDevice, stream));
}

static int time_copy(bench_state *b, const tool_shape *shape) {
    copy_buffers c = {gpu_tool_alloc(COPY_BYTES, "the copy source"),
                      gpu_tool_alloc(COPY_BYTES, "the copy target")};
    double us;
    int ok = c.from && c.to && CUDA_OK(cudaMemset(c.from, 0x3c, COPY_BYTES)) &&
             time_row(b, shape->name, 0, enqueue_copy, &c, 1, &us);
    cudaFree(c.from);
    cudaFree(c.to);
    if (!ok) return 0;
    bench_row row = make_row(b, shape, 0, "copy");
    return add_row(b, &row, us, 2.0 * (double)COPY_BYTES, NAN);
}

/* Random checkpoint tensors copied to the device, packed into the copies. */
static int pack_copies(bench_state *b, shape_weights *w) {
    const tool_shape *shape = w->shape;
    random_weight host;
    if (!W4A16_OK_CALL(random_weight_make(shape->n, shape->k, b->group, b->asym, b->dtype,
                                          &b->rng, &host)))
        return 0;
    w4a16_source device_source = host.source;
    void *qweight = NULL, *qzeros = NULL, *scales = NULL;
    int ok = (qweight = gpu_tool_upload_new(host.qweight, host.qweight_bytes, "checkpoint qweight")) &&
             (!b->asym || (qzeros = gpu_tool_upload_new(host.qzeros, host.qzeros_bytes, "checkpoint zeros"))) &&
             (scales = gpu_tool_upload_new(host.scales, host.scales_bytes, "checkpoint scales"));
    w->source_bytes = (double)(host.qweight_bytes + host.qzeros_bytes + host.scales_bytes);
    random_weight_free(&host);
    device_source.qweight = qweight;
    device_source.qzeros = qzeros;
    device_source.scales = scales;
    device_source.on_device = 1;
    ok = ok && weight_copies_pack(&w->copies, b->auto_ctx, &device_source, b->dtype,
                                  b->device.l2_bytes, b->stream);
    if (ok)
        fprintf(stderr, "bench: %s: %d packed copies of %.1f MB\n", shape->name,
                w->copies.n_packed, w->copies.packed_bytes / 1e6);
    ok = ok && time_pack(b, w, &device_source);
    cudaFree(qweight);
    cudaFree(qzeros);
    cudaFree(scales);
    return ok;
}

/* Random dense weights for cuBLAS (values in [-1, 1]). */
static int dense_copies(bench_state *b, shape_weights *w) {
    size_t count = (size_t)(w->shape->n * w->shape->k);
    uint16_t *host = malloc(2 * count);
    if (host == NULL) {
        fprintf(stderr, "w4a16 bench: out of host memory for a dense %s\n", w->shape->name);
        return 0;
    }
    w4a16_rng_fill(host, b->dtype, (int64_t)count, -1.0, 1.0, &b->rng);
    int ok = weight_copies_dense(&w->copies, host, b->device.l2_bytes);
    free(host);
    return ok;
}

static int bench_shape(bench_state *b, const tool_shape *shape) {
    shape_weights *w = calloc(1, sizeof *w);
    if (w == NULL) return 0;
    w->shape = shape;
    int ok = pack_copies(b, w) && time_copy(b, shape) && time_dequant(b, w) && dense_copies(b, w);
    for (int i = 0; ok && i < b->options->sw.ms.count; i++)
        ok = bench_m(b, w, b->options->sw.ms.values[i]);
    weight_copies_free(&w->copies);
    free(w);
    return ok;
}

/* Activations for the largest M and K of the sweep, outputs for the largest M and N. */
static int allocate_io(bench_state *b) {
    const sweep *sw = &b->options->sw;
    int64_t max_n = 0, max_k = 0, max_m = m_list_max(&sw->ms);
    for (int i = 0; i < sw->shapes.count; i++) {
        if (sw->shapes.items[i].n > max_n) max_n = sw->shapes.items[i].n;
        if (sw->shapes.items[i].k > max_k) max_k = sw->shapes.items[i].k;
    }
    size_t a_count = (size_t)(max_m * max_k);
    uint16_t *host = malloc(2 * a_count);
    if (host == NULL) {
        fprintf(stderr, "w4a16 bench: out of host memory for activations\n");
        return 0;
    }
    w4a16_rng_fill(host, b->dtype, (int64_t)a_count, -1.0, 1.0, &b->rng);
    b->A = gpu_tool_upload_new(host, 2 * a_count, "activations");
    free(host);
    b->C = gpu_tool_alloc((size_t)(2 * max_m * max_n), "outputs");
    return b->A && b->C;
}

static int create_contexts(bench_state *b) {
    if (!W4A16_OK_CALL(kernel_ctx_create("auto", &b->auto_ctx))) return 0;
    for (int i = 0; i < kernel_count(); i++)
        if (b->options->kernel_enabled[i] &&
            !W4A16_OK_CALL(kernel_ctx_create(kernel_name(i), &b->kernel_ctx[i])))
            return 0;
    return 1;
}

static void print_config(const bench_state *b) {
    device_info_print(stdout, &b->device);
    printf("bench: %s, group %lld, %s, commit %s; median of >= 30 graph replays of >= 20 calls,"
           " weights cycled past 2x L2\n",
           sweep_dtype_name(b->dtype), (long long)b->group, b->asym ? "asymmetric" : "symmetric",
           W4A16_GIT_COMMIT);
    bench_print_header(stdout);
}

int bench_run(const bench_options *options) {
    gpu_tool_set_command("bench");
    bench_state b;
    memset(&b, 0, sizeof b);
    b.options = options;
    b.dtype = options->sw.dtypes[0];
    b.group = options->sw.groups[0];
    b.asym = options->sw.asyms[0];
    b.rng = 0x7e57be4c4ull;
    int code = EXIT_FAILURE_INPUT, benched = 0;
    if (!device_info_get(&b.device) ||
        !CUDA_OK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking)) ||
        !dense_gemm_create(&b.dense, b.stream) || !create_contexts(&b) || !allocate_io(&b))
        goto done;
    print_config(&b);
    for (int i = 0; i < options->sw.shapes.count; i++) {
        const tool_shape *shape = &options->sw.shapes.items[i];
        if (!sweep_group_fits(b.group, shape->k)) {
            fprintf(stderr, "bench: %s skipped: group %lld does not divide K=%lld\n", shape->name,
                    (long long)b.group, (long long)shape->k);
            continue;
        }
        if (!bench_shape(&b, shape)) goto done;
        benched++;
    }
    if (benched == 0) {
        fprintf(stderr, "w4a16 bench: no shape fits group %lld\n", (long long)b.group);
        goto done;
    }
    if (options->json_path &&
        !bench_write_json(options->json_path, b.device.name, W4A16_GIT_COMMIT, &b.rows))
        goto done;
    code = EXIT_OK;
done:
    bench_rows_free(&b.rows);
    cudaFree(b.A);
    cudaFree(b.C);
    for (int i = 0; i < kernel_count(); i++) w4a16_ctx_destroy(b.kernel_ctx[i]);
    w4a16_ctx_destroy(b.auto_ctx);
    dense_gemm_destroy(&b.dense);
    if (b.stream) cudaStreamDestroy(b.stream);
    return code;
}
#endif
