/* `w4a16 bench` on the GPU: per shape, random weights packed into enough
 * copies to cycle past the L2 (bench_bed.h), the time to pack, dequantize
 * and copy, then per M the cuBLAS baseline, each forced kernel and the
 * dispatched choice, each timed by graph replay. */
#ifdef W4A16_WITH_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_bed.h"
#include "commands.h"
#include "cuda/kernels.h"

#define PACK_REPEATS 5

/* The auto row: the dispatched choice, with the host time of one call. */
static int bench_auto(bench_bed *b, const bench_weights *w, int64_t m, double cublas_us) {
    const weight_copies *copies = &w->copies;
    gemm_call call = {copies, b->auto_ctx, &b->dense, b->A, b->C, m};
    double us;
    int ran = bench_bed_probe(b, &call, w->shape->name, "auto");
    if (ran <= 0) return ran == 0;
    bench_row row = bench_bed_row(b, w->shape, m, "auto");
    snprintf(row.chosen, sizeof row.chosen, "%s",
             w4a16_gemm_kernel_name(b->auto_ctx, &copies->packed[0], m));
    if (!bench_bed_time(b, w->shape->name, m, gemm_call_packed, &call, copies->n_packed, &us) ||
        !time_host(b->stream, gemm_call_packed, &call, &row.host_us))
        return 0;
    return bench_bed_add_row(b, &row, us, copies->packed_bytes, cublas_us);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Packing from device memory, wall clock around a synchronized call (the
 * library may allocate): the median of a few, after the copies warmed it. */
static int time_pack(bench_bed *b, const bench_weights *w) {
    double us[PACK_REPEATS];
    for (int r = 0; r < PACK_REPEATS; r++) {
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *owner = NULL;
        if (!CUDA_OK(cudaStreamSynchronize(b->stream))) return 0;
        double start = wall_seconds();
        int ok = W4A16_OK_CALL(w4a16_pack(b->auto_ctx, &w->source, 1, NULL, b->dtype, &packed,
                                          &owner, b->stream)) &&
                 CUDA_OK(cudaStreamSynchronize(b->stream));
        us[r] = 1e6 * (wall_seconds() - start);
        w4a16_buffers_free(owner);
        if (!ok) return 0;
    }
    qsort(us, PACK_REPEATS, sizeof us[0], compare_doubles);
    bench_row row = bench_bed_row(b, w->shape, 0, "pack");
    return bench_bed_add_row(b, &row, us[PACK_REPEATS / 2],
                             w->source_bytes + w->copies.packed_bytes, NAN);
}

/* The fallback's first step alone: the whole packed weight to 16 bits. */
typedef struct {
    const weight_copies *copies;
    void *dequantized; /* [n_padded, k_padded] */
} dequant_args;

static int enqueue_dequant(void *user, int call, cudaStream_t stream) {
    const dequant_args *d = user;
    const w4a16_weight *packed = &d->copies->packed[call % d->copies->n_packed];
    return CUDA_OK(w4a16_launch_dequantize(packed, 0, packed->n_padded, d->dequantized,
                                           packed->k_padded, stream));
}

/* GB/s counts bytes read (packed weight, scales, zeros) plus bytes written (16-bit W). */
static int time_dequant(bench_bed *b, const bench_weights *w) {
    const w4a16_weight *first = &w->copies.packed[0];
    double written = 2.0 * (double)first->n_padded * (double)first->k_padded;
    double us;
    dequant_args d = {&w->copies, gpu_tool_alloc((size_t)written, "the dequantized weight")};
    int ok = d.dequantized && enqueue_dequant(&d, 0, b->stream) &&
             CUDA_OK(cudaStreamSynchronize(b->stream)) &&
             bench_bed_time(b, w->shape->name, 0, enqueue_dequant, &d, w->copies.n_packed, &us);
    cudaFree(d.dequantized);
    if (!ok) return 0;
    bench_row row = bench_bed_row(b, w->shape, 0, "dequant");
    return bench_bed_add_row(b, &row, us, w->copies.packed_bytes + written, NAN);
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

static int time_copy(bench_bed *b, const tool_shape *shape) {
    copy_buffers c = {gpu_tool_alloc(COPY_BYTES, "the copy source"),
                      gpu_tool_alloc(COPY_BYTES, "the copy target")};
    double us;
    int ok = c.from && c.to && CUDA_OK(cudaMemset(c.from, 0x3c, COPY_BYTES)) &&
             bench_bed_time(b, shape->name, 0, enqueue_copy, &c, 1, &us);
    cudaFree(c.from);
    cudaFree(c.to);
    if (!ok) return 0;
    bench_row row = bench_bed_row(b, shape, 0, "copy");
    return bench_bed_add_row(b, &row, us, 2.0 * (double)COPY_BYTES, NAN);
}

static int bench_shape(bench_bed *b, const sweep *sw, const tool_shape *shape) {
    bench_weights w;
    int ok = bench_weights_make(b, shape, &w) && time_pack(b, &w) && time_copy(b, shape) &&
             time_dequant(b, &w);
    for (int i = 0; ok && i < sw->ms.count; i++) {
        double cublas_us, us[KERNELS_MAX];
        ok = bench_bed_time_kernels(b, &w, sw->ms.values[i], &cublas_us, us) &&
             bench_auto(b, &w, sw->ms.values[i], cublas_us);
    }
    bench_weights_free(&w);
    return ok;
}

int bench_run(const bench_options *options) {
    gpu_tool_set_command("bench");
    const sweep *sw = &options->sw;
    bench_bed b;
    int code = EXIT_FAILURE_INPUT, benched = 0;
    if (!bench_bed_open(&b, sw, options->kernel_enabled, stdout)) goto done;
    bench_bed_print_config(&b, stdout);
    bench_print_header(stdout);
    for (int i = 0; i < sw->shapes.count; i++) {
        const tool_shape *shape = &sw->shapes.items[i];
        if (!bench_bed_shape_fits(&b, shape)) continue;
        if (!bench_shape(&b, sw, shape)) goto done;
        benched++;
    }
    if (benched == 0) {
        fprintf(stderr, "w4a16 bench: no shape fits group %lld\n", (long long)b.group);
        goto done;
    }
    if (options->json_path &&
        !bench_write_json(options->json_path, b.device.name, W4A16_GIT_COMMIT, &b.rows))
        goto done;
    if (b.refused > 0) {
        fprintf(stderr, "w4a16 bench: %d calls refused (above): their rows are missing\n", b.refused);
        goto done;
    }
    code = EXIT_OK;
done:
    bench_bed_close(&b);
    return code;
}
#endif
