/* `w4a16 check` on the GPU. Per shape, dtype, zero-point kind and group
 * size: a random quantized weight, packed once; per M: fresh random A, the
 * fp64 reference on sampled rows, cuBLAS on W dequantized to the activation
 * dtype (e_cublas), then every kernel forced in turn on a poisoned C. */
#ifdef W4A16_WITH_CUDA
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_compare.h"
#include "commands.h"
#include "common/rng.h"
#include "dense_gemm.h"
#include "gpu_tool.h"
#include "kernels.h"
#include "random_weight.h"
#include "ref_parallel.h"
#include "verify_gpu.h"

typedef struct {
    cudaStream_t stream;
    dense_gemm dense;
    w4a16_ctx *pack_ctx;
    w4a16_ctx *kernel_ctx[KERNELS_MAX]; /* by kernel_index */
    uint64_t rng;
    int passed, failed, skipped;
} check_state;

/* One configuration's weight: host source (for the reference), packed
 * weight (for the kernels), dense W in the activation dtype (for cuBLAS). */
typedef struct {
    const tool_shape *shape;
    w4a16_dtype dtype;
    int asym;
    int act_order;
    int64_t group;
    random_weight host;
    w4a16_weight packed;
    w4a16_buffers *packed_owner;
    void *dense;
} check_case;

/* Buffers of one M. */
typedef struct {
    int64_t m;
    uint16_t *A_host;
    void *A, *C;         /* device */
    double *ref;         /* [n_rows, n] */
    int64_t rows[CHECK_MAX_ROWS];
    int n_rows;
} check_io;

static void print_header(void) {
    printf("%-10s %6s %6s %5s %-5s %-4s %5s  %-13s %10s %10s %10s  %s\n", "shape", "N", "K", "M",
           "dtype", "sym", "group", "kernel", "err", "cublas_err", "limit", "result");
}

/* An error in 10 characters, "-" when there is none (skipped, or NaN in C). */
static void print_error(double value) {
    if (isnan(value))
        printf(" %10s", "-");
    else
        printf(" %10.3e", value);
}

static void print_result(const check_case *c, int64_t m, const char *kernel, double err,
                         double cublas_err, const char *result, const char *note) {
    printf("%-10s %6lld %6lld %5lld %-5s %-4s %5lld%s %-13s", c->shape->name,
           (long long)c->shape->n, (long long)c->shape->k, (long long)m,
           sweep_dtype_name(c->dtype), c->asym ? "asym" : "sym", (long long)c->group,
           c->act_order ? "a" : " ", kernel);
    print_error(err);
    print_error(cublas_err);
    print_error(check_limit(cublas_err, c->dtype));
    printf("  %s%s%s\n", result, note[0] ? "  " : "", note);
    fflush(stdout);
}

static int cublas_error(check_state *s, const check_case *c, check_io *io, double *error) {
    const tool_shape *shape = c->shape;
    verify_result result;
    if (!verify_poison(io->C, io->m, shape->n, s->stream) ||
        !dense_gemm_run(&s->dense, c->dtype, io->A, shape->k, c->dense, shape->n, shape->k, io->C,
                        shape->n, io->m) ||
        !CUDA_OK(cudaStreamSynchronize(s->stream)) ||
        !verify_output(io->C, io->m, shape->n, c->dtype, io->rows, io->n_rows, io->ref, 0, &result))
        return 0;
    *error = result.error;
    return 1;
}

/* Runs one forced kernel and prints its row; 0 on a CUDA error (exit 1). */
static int check_kernel(check_state *s, const check_case *c, check_io *io, int kernel,
                        double cublas_err) {
    const char *name = kernel_name(kernel);
    const tool_shape *shape = c->shape;
    if (!verify_poison(io->C, io->m, shape->n, s->stream)) return 0;
    w4a16_status status = w4a16_gemm(s->kernel_ctx[kernel], &c->packed, io->A, shape->k, io->C,
                                     shape->n, io->m, NULL, s->stream);
    char note[320] = "";
    if (status == W4A16_ERR_UNSUPPORTED && strcmp(name, "fallback") != 0) {
        snprintf(note, sizeof note, "(%s)", w4a16_last_error());
        print_result(c, io->m, name, NAN, cublas_err, "SKIP", note);
        s->skipped++;
        return 1;
    }
    if (status != W4A16_OK) {
        if (status == W4A16_ERR_CUDA) return gpu_tool_w4a16_ok(status, "w4a16_gemm");
        snprintf(note, sizeof note, "w4a16_gemm: %s: %s", w4a16_status_str(status), w4a16_last_error());
        print_result(c, io->m, name, NAN, cublas_err, "FAIL", note);
        s->failed++;
        return 1;
    }
    verify_result result;
    if (!CUDA_OK(cudaStreamSynchronize(s->stream)) ||
        !verify_output(io->C, io->m, shape->n, c->dtype, io->rows, io->n_rows, io->ref, 1, &result))
        return 0;
    int pass = result.nonfinite == 0 && result.error <= check_limit(cublas_err, c->dtype);
    if (result.nonfinite)
        snprintf(note, sizeof note, "%lld of %lld outputs NaN, Inf or unwritten",
                 (long long)result.nonfinite, (long long)(io->m * shape->n));
    print_result(c, io->m, name, result.error, cublas_err, pass ? "PASS" : "FAIL", note);
    pass ? s->passed++ : s->failed++;
    return 1;
}

static void free_io(check_io *io) {
    free(io->A_host);
    free(io->ref);
    cudaFree(io->A);
    cudaFree(io->C);
}

static int check_m(check_state *s, const check_case *c, int64_t m) {
    const tool_shape *shape = c->shape;
    check_io io;
    memset(&io, 0, sizeof io);
    io.m = m;
    io.n_rows = check_sample_rows(m, &s->rng, io.rows);
    io.A_host = malloc((size_t)(m * shape->k) * 2);
    io.ref = malloc((size_t)(io.n_rows * shape->n) * sizeof(double));
    int ok = io.A_host && io.ref;
    if (!ok) fprintf(stderr, "w4a16 check: out of host memory at M=%lld\n", (long long)m);
    if (ok) {
        w4a16_rng_fill(io.A_host, c->dtype, m * shape->k, -1.0, 1.0, &s->rng);
        ok = (io.A = gpu_tool_upload_new(io.A_host, (size_t)(m * shape->k) * 2, "activations")) &&
             (io.C = gpu_tool_alloc((size_t)(m * shape->n) * 2, "outputs")) &&
             W4A16_OK_CALL(ref_gemm_parallel(&c->host.source, io.A_host, c->dtype, shape->k,
                                             io.rows, io.n_rows, io.ref));
    }
    double cublas_err = NAN;
    ok = ok && cublas_error(s, c, &io, &cublas_err);
    for (int kernel = 0; ok && kernel < kernel_count(); kernel++)
        ok = check_kernel(s, c, &io, kernel, cublas_err);
    free_io(&io);
    return ok;
}

/* Random weight, packed; W dequantized on the host to the activation dtype
 * and copied to the device for cuBLAS. 1 ready, 0 CUDA error, -1 pack failed
 * (printed as a FAIL row). */
static int prepare_case(check_state *s, check_case *c) {
    const tool_shape *shape = c->shape;
    if (!W4A16_OK_CALL(random_weight_make(shape->n, shape->k, c->group, c->asym, c->act_order,
                                          c->dtype, &s->rng, &c->host)))
        return 0;
    w4a16_weight_init(&c->packed);
    w4a16_status status = w4a16_pack(s->pack_ctx, &c->host.source, 1, NULL, c->dtype,
                                     &c->packed, &c->packed_owner, s->stream);
    if (status == W4A16_ERR_CUDA) return gpu_tool_w4a16_ok(status, "w4a16_pack");
    if (status != W4A16_OK) {
        char note[320];
        snprintf(note, sizeof note, "w4a16_pack: %s: %s", w4a16_status_str(status), w4a16_last_error());
        print_result(c, 0, "pack", NAN, NAN, "FAIL", note);
        s->failed++;
        return -1;
    }
    size_t bytes = (size_t)(shape->n * shape->k) * 2;
    uint16_t *dense = malloc(bytes);
    if (dense == NULL) {
        fprintf(stderr, "w4a16 check: out of host memory for a dense %s\n", shape->name);
        return 0;
    }
    source_dequantize(&c->host.source, c->dtype, dense);
    c->dense = gpu_tool_upload_new(dense, bytes, "the dense weight for cuBLAS");
    free(dense);
    return c->dense != NULL;
}

static int check_case_run(check_state *s, check_case *c, const m_list *ms) {
    fprintf(stderr, "check: %s %lldx%lld %s %s group %lld%s\n", c->shape->name,
            (long long)c->shape->n, (long long)c->shape->k, sweep_dtype_name(c->dtype),
            c->asym ? "asym" : "sym", (long long)c->group, c->act_order ? " act-order" : "");
    int ready = prepare_case(s, c);
    for (int i = 0; ready > 0 && i < ms->count; i++)
        if (!check_m(s, c, ms->values[i])) ready = 0;
    random_weight_free(&c->host);
    w4a16_buffers_free(c->packed_owner);
    c->packed_owner = NULL;
    cudaFree(c->dense);
    return ready != 0;
}

static int create(check_state *s) {
    if (!CUDA_OK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking)) ||
        !dense_gemm_create(&s->dense, s->stream) ||
        !W4A16_OK_CALL(kernel_ctx_create("auto", &s->pack_ctx)))
        return 0;
    for (int i = 0; i < kernel_count(); i++)
        if (!W4A16_OK_CALL(kernel_ctx_create(kernel_name(i), &s->kernel_ctx[i]))) return 0;
    return 1;
}

static int run_sweep(check_state *s, const sweep *sw) {
    for (int i = 0; i < sw->shapes.count; i++)
        for (int d = 0; d < sw->n_dtypes; d++)
            for (int a = 0; a < sw->n_asyms; a++)
                for (int g = 0; g < sw->n_groups; g++) {
                    check_case c;
                    memset(&c, 0, sizeof c);
                    c.shape = &sw->shapes.items[i];
                    c.dtype = sw->dtypes[d];
                    c.asym = sw->asyms[a];
                    c.group = sw->groups[g];
                    c.act_order = sw->act_order;
                    if (c.act_order && c.group == -1) {
                        fprintf(stderr, "check: %s: per-channel skipped: act-order needs groups\n",
                                c.shape->name);
                        continue;
                    }
                    if (!sweep_group_fits(c.group, c.shape->k)) {
                        fprintf(stderr, "check: %s: group %lld skipped: it does not divide K=%lld\n",
                                c.shape->name, (long long)c.group, (long long)c.shape->k);
                        continue;
                    }
                    if (!check_case_run(s, &c, &sw->ms)) return 0;
                }
    return 1;
}

int check_run(const check_options *options) {
    gpu_tool_set_command("check");
    check_state s;
    memset(&s, 0, sizeof s);
    s.rng = options->seed;
    device_info device;
    int code = EXIT_FAILURE_INPUT;
    if (!device_info_get(&device) || !create(&s)) goto done;
    device_info_print(stdout, &device);
    printf("check: seed %llu; err = max|C - C_ref| / max|C_ref| over <= %d sampled rows"
           " against the fp64 reference\n",
           (unsigned long long)options->seed, CHECK_MAX_ROWS);
    print_header();
    if (!run_sweep(&s, &options->sw)) goto done;
    printf("check: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped);
    if (s.passed + s.failed == 0) {
        fprintf(stderr, "w4a16 check: nothing was checked\n");
        goto done;
    }
    code = s.failed ? EXIT_WRONG_RESULTS : EXIT_OK;
done:
    for (int i = 0; i < kernel_count(); i++) w4a16_ctx_destroy(s.kernel_ctx[i]);
    w4a16_ctx_destroy(s.pack_ctx);
    dense_gemm_destroy(&s.dense);
    if (s.stream) cudaStreamDestroy(s.stream);
    return code;
}
#endif
