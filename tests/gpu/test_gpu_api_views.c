/* The weight view and the error contract of w4a16_gemm and w4a16_pack on a
 * GPU: a copied view works and its buffers are freed once, by their owner;
 * a view at a 16-byte offset (a tensor slice) gives the same bits, while
 * misaligned and short views are refused by name with C untouched; a failure
 * injected at each step of each kernel path leaves C untouched (a chunked
 * call, only the chunks before the failure written); an error pending from
 * the caller's earlier work is reported as such, before anything is queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fault.h"
#include "gpu_support.h"

/* One call's device buffers: A [M][k], bias [n], C [M][n] poisoned. */
typedef struct {
    int64_t M, n, k;
    void *A, *bias, *C;
} call_buffers;

static void buffers_make(int64_t M, int64_t n, int64_t k, uint64_t seed, call_buffers *b) {
    b->M = M, b->n = n, b->k = k;
    uint16_t *A = gpu_random_halves(M * k, W4A16_F16, -1, 1, seed);
    uint16_t *bias = gpu_random_halves(n, W4A16_F16, -1, 1, seed + 1);
    b->A = gpu_upload(A, (size_t)(M * k) * 2);
    b->bias = gpu_upload(bias, (size_t)n * 2);
    b->C = gpu_alloc((size_t)(M * n) * 2);
    gpu_poison(b->C, (size_t)(M * n) * 2);
    free(A);
    free(bias);
}

static void buffers_free(call_buffers *b) {
    CUDA_CHECK(cudaFree(b->A));
    CUDA_CHECK(cudaFree(b->bias));
    CUDA_CHECK(cudaFree(b->C));
}

static w4a16_status run(w4a16_ctx *ctx, const w4a16_weight *w, const call_buffers *b) {
    return w4a16_gemm(ctx, w, b->A, b->k, b->C, b->n, b->M, b->bias, NULL);
}

static uint16_t *download_C(const call_buffers *b) {
    CUDA_CHECK(cudaDeviceSynchronize());
    uint16_t *host = malloc((size_t)(b->M * b->n) * 2);
    assert_non_null(host);
    gpu_download(host, b->C, (size_t)(b->M * b->n) * 2);
    return host;
}

static void expect_C_untouched(const call_buffers *b, const char *what) {
    CUDA_CHECK(cudaDeviceSynchronize());
    const int64_t written = gpu_count_written(b->C, b->M * b->n);
    if (written != 0) fail_msg("%s: %lld elements of C written", what, (long long)written);
}

/* Buffer i of a view (0 qweight, 1 scales, 2 zeros, 3 perm) and its size. */
static void *buffer_of(const w4a16_weight *w, int i, size_t *bytes) {
    switch (i) {
    case 0: *bytes = w->qweight_bytes; return w->qweight;
    case 1: *bytes = w->scales_bytes; return w->scales;
    case 2: *bytes = w->zeros_bytes; return w->zeros;
    default: *bytes = w->perm_bytes; return w->perm;
    }
}

static void set_buffer(w4a16_weight *w, int i, void *address, size_t bytes) {
    switch (i) {
    case 0: w->qweight = address, w->qweight_bytes = bytes; break;
    case 1: w->scales = address, w->scales_bytes = bytes; break;
    case 2: w->zeros = address, w->zeros_bytes = bytes; break;
    default: w->perm = address, w->perm_bytes = bytes; break;
    }
}

/* An act-order asymmetric weight: every buffer of the view is in use. */
static const gpu_weight_spec FULL = {W4A16_FORMAT_GPTQ, 520, 1024, 128, 1, 1, W4A16_F16};

/* A struct copy of a view runs like the original; the owner frees the
 * buffers once, and the driver no longer knows them afterwards. */
static void test_copied_view_freed_once(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    /* 4096 x 4096: 8 MiB of qweight, well above the allocation granularity. */
    const gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 4096, 4096, 128, 1, 0, W4A16_F16};
    gpu_packed p;
    gpu_packed_make(ctx, &spec, W4A16_F16, 3, &p);
    const w4a16_weight copy = p.packed;
    call_buffers b;
    buffers_make(5, spec.n, spec.k, 4, &b);
    W4A16_CHECK(run(ctx, &p.packed, &b));
    uint16_t *original = download_C(&b);
    gpu_poison(b.C, (size_t)(b.M * b.n) * 2);
    W4A16_CHECK(run(ctx, &copy, &b));
    uint16_t *copied = download_C(&b);
    assert_memory_equal(original, copied, (size_t)(b.M * b.n) * 2);
    buffers_free(&b);
    CUDA_CHECK(cudaDeviceSynchronize());
    /* The device's free memory is no witness here (ctest runs GPU tests side by
     * side): ask the driver about the buffer itself, before and after the free. */
    const void *qweight = p.packed.qweight;
    struct cudaPointerAttributes before, after;
    CUDA_CHECK(cudaPointerGetAttributes(&before, qweight));
    assert_int_equal(before.type, cudaMemoryTypeDevice);
    gpu_packed_free(&p); /* the one free; the copy has nothing to free */
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaPointerGetAttributes(&after, qweight));
    printf("qweight %p: %s before the owner's free, %s after\n", qweight,
           before.type == cudaMemoryTypeDevice ? "device memory" : "not device memory",
           after.type == cudaMemoryTypeUnregistered ? "released" : "still allocated");
    assert_int_equal(after.type, cudaMemoryTypeUnregistered);
    free(original);
    free(copied);
    w4a16_ctx_destroy(ctx);
}

/* The packed buffers copied into one arena at 16-byte (not 256-byte)
 * offsets, as tensor slices would be: the same bits at M = 3 (decode) and
 * M = 100 (fallback). 8 bytes off, or a byte short: refused by name. */
static void test_views_at_offsets(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_packed p;
    gpu_packed_make(ctx, &FULL, W4A16_F16, 7, &p);
    const w4a16_weight *w = &p.packed;
    size_t total = 0, bytes = 0;
    for (int i = 0; i < 4; i++) {
        buffer_of(w, i, &bytes);
        total += 16 + (bytes + 15) / 16 * 16;
    }
    char *arena = gpu_alloc(total + 16);
    w4a16_weight view = *w;
    char *at = arena + 16;
    for (int i = 0; i < 4; i++) {
        const void *source = buffer_of(w, i, &bytes);
        CUDA_CHECK(cudaMemcpy(at, source, bytes, cudaMemcpyDeviceToDevice));
        set_buffer(&view, i, at, bytes);
        at += 16 + (bytes + 15) / 16 * 16;
    }
    const int64_t ms[2] = {3, 100};
    for (int i = 0; i < 2; i++) {
        call_buffers b;
        buffers_make(ms[i], FULL.n, FULL.k, 10 + (uint64_t)i, &b);
        W4A16_CHECK(run(ctx, w, &b));
        uint16_t *expected = download_C(&b);
        gpu_poison(b.C, (size_t)(b.M * b.n) * 2);
        W4A16_CHECK(run(ctx, &view, &b));
        uint16_t *got = download_C(&b);
        assert_memory_equal(expected, got, (size_t)(b.M * b.n) * 2);
        free(expected);
        free(got);

        gpu_poison(b.C, (size_t)(b.M * b.n) * 2);
        for (int f = 0; f < 4; f++) {
            w4a16_weight bad = view;
            char *address = buffer_of(&view, f, &bytes);
            set_buffer(&bad, f, address + (f == 3 ? 2 : 8), bytes);
            assert_int_equal(run(ctx, &bad, &b), W4A16_ERR_ARG);
            assert_non_null(strstr(w4a16_last_error(), "-byte aligned"));
            assert_string_equal(w4a16_gemm_kernel_name(ctx, &bad, b.M), "none");
        }
        w4a16_weight short_view = view;
        short_view.scales_bytes -= 1;
        assert_int_equal(run(ctx, &short_view, &b), W4A16_ERR_ARG);
        assert_non_null(strstr(w4a16_last_error(), "w->scales_bytes="));
        assert_int_equal(w4a16_workspace_size(ctx, &short_view, b.M, &bytes), W4A16_ERR_ARG);
        expect_C_untouched(&b, "a refused view");
        buffers_free(&b);
    }
    CUDA_CHECK(cudaFree(arena));
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
}

/* Fails `site` (after `skip` passes) in a call at M on ctx: W4A16_ERR_CUDA,
 * then the same call succeeds, so nothing was left pending. Returns C as the
 * failed call left it. */
static uint16_t *fail_at(w4a16_ctx *ctx, const w4a16_weight *w, const call_buffers *b,
                         const char *site, int skip) {
    gpu_poison(b->C, (size_t)(b->M * b->n) * 2);
    w4a16_fault_arm(site, skip);
    const w4a16_status status = run(ctx, w, b);
    w4a16_fault_disarm();
    if (status != W4A16_ERR_CUDA)
        fail_msg("%s at M=%lld: %s (%s)", site, (long long)b->M, w4a16_status_str(status),
                 w4a16_last_error());
    const char *message = w4a16_last_error();
    assert_true(strstr(message, "CUBLAS_STATUS_EXECUTION_FAILED") != NULL ||
                strstr(message, "cudaErrorLaunchOutOfResources") != NULL);
    uint16_t *left = download_C(b);
    W4A16_CHECK(run(ctx, w, b));
    CUDA_CHECK(cudaDeviceSynchronize());
    return left;
}

static int is_hopper(void) {
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    return prop.major == 9;
}

/* A ctx forced to `kernel` ("auto": the dispatcher's choice). */
static w4a16_ctx *ctx_running(const char *kernel, size_t workspace_bytes) {
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, workspace_bytes, &ctx));
    W4A16_CHECK(w4a16_ctx_set_kernel(ctx, kernel));
    return ctx;
}

/* Each step of each kernel path, failed in turn: C untouched. sm90_prefill
 * and decode run on Hopper only; sm90_prefill at M = 33 on a narrow N and
 * long K splits K, so its last launch is the reduction of the fp32 partials. */
static void test_injected_failures_leave_C(void **state) {
    (void)state;
    GPU_REQUIRED();
    const gpu_weight_spec split = {W4A16_FORMAT_GPTQ, 256, 4096, 128, 1, 1, W4A16_F16};
    const struct {
        const char *kernel;
        const gpu_weight_spec *spec;
        int64_t M;
        const char *site;
    } steps[] = {
        {"decode", &FULL, 4, W4A16_FAULT_DECODE_LAUNCH},
        {"decode_v2", &FULL, 4, W4A16_FAULT_DECODE_V2_LAUNCH},
        {"fallback", &FULL, 100, W4A16_FAULT_FALLBACK_PERMUTE},
        {"fallback", &FULL, 100, W4A16_FAULT_FALLBACK_DEQUANTIZE},
        {"fallback", &FULL, 100, W4A16_FAULT_FALLBACK_GEMM},
        {"sm90_prefill", &split, 33, W4A16_FAULT_SM90_PERMUTE},
        {"sm90_prefill", &split, 33, W4A16_FAULT_SM90_LAUNCH},
    };
    const int hopper = is_hopper();
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const int hopper_only = strcmp(steps[i].kernel, "sm90_prefill") == 0 ||
                                strcmp(steps[i].kernel, "decode") == 0;
        if (hopper_only && !hopper) continue;
        w4a16_ctx *ctx = ctx_running(steps[i].kernel, 0);
        gpu_packed p;
        gpu_packed_make(ctx, steps[i].spec, W4A16_F16, 21 + i, &p);
        call_buffers b;
        buffers_make(steps[i].M, steps[i].spec->n, steps[i].spec->k, 30 + i, &b);
        uint16_t *left = fail_at(ctx, &p.packed, &b, steps[i].site, 0);
        for (int64_t e = 0; e < b.M * b.n; e++)
            if (left[e] != 0xffff) fail_msg("%s: C[%lld] written", steps[i].site, (long long)e);
        printf("ok: %s failed, C untouched\n", steps[i].site);
        free(left);
        buffers_free(&b);
        gpu_packed_free(&p);
        w4a16_ctx_destroy(ctx);
    }
}

/* 1 MiB of workspace splits a 520 x 1024 W into the fallback's chunks of
 * rows; the second chunk's GEMM fails: C holds the first chunk's columns, exactly as a
 * successful call writes them, for every row, and nothing else. */
static void test_chunked_failure_leaves_first_chunk(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = ctx_running("fallback", 1u << 20);
    const gpu_weight_spec spec = {W4A16_FORMAT_AWQ, 520, 1024, 128, 1, 0, W4A16_F16};
    gpu_packed p;
    gpu_packed_make(ctx, &spec, W4A16_F16, 41, &p);
    call_buffers b;
    buffers_make(200, spec.n, spec.k, 42, &b);
    W4A16_CHECK(run(ctx, &p.packed, &b));
    uint16_t *good = download_C(&b);
    uint16_t *left = fail_at(ctx, &p.packed, &b, W4A16_FAULT_FALLBACK_GEMM, 1);
    int64_t written = 0;
    while (written < b.n && left[written] != 0xffff) written++;
    printf("first chunk: %lld of %lld columns written\n", (long long)written, (long long)b.n);
    assert_true(written > 0 && written < b.n && written % 64 == 0);
    for (int64_t m = 0; m < b.M; m++)
        for (int64_t c = 0; c < b.n; c++) {
            const uint16_t v = left[m * b.n + c];
            if (c < written ? v != good[m * b.n + c] : v != 0xffff)
                fail_msg("C[%lld][%lld] = 0x%04x after the failure", (long long)m, (long long)c, v);
        }
    free(good);
    free(left);
    buffers_free(&b);
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
}

/* Packing into the caller's buffers with the launch failing: the buffers,
 * out and owner are as they were. */
static void test_injected_pack_failure(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight w;
    gpu_weight_make(&FULL, 51, &w);
    w4a16_pack_sizes sizes;
    W4A16_CHECK(w4a16_pack_size(&w.src, 1, NULL, &sizes));
    w4a16_weight out;
    w4a16_weight_init(&out);
    const size_t bytes[4] = {sizes.qweight_bytes, sizes.scales_bytes, sizes.zeros_bytes,
                             sizes.perm_bytes};
    void *given[4];
    for (int i = 0; i < 4; i++) {
        given[i] = gpu_alloc(bytes[i]);
        gpu_poison(given[i], bytes[i]);
        set_buffer(&out, i, given[i], bytes[i]);
    }
    const w4a16_weight before = out;
    w4a16_fault_arm(W4A16_FAULT_PACK_LAUNCH, 0);
    assert_int_equal(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &out, NULL, NULL), W4A16_ERR_CUDA);
    assert_memory_equal(&out, &before, sizeof out);
    CUDA_CHECK(cudaDeviceSynchronize());
    for (int i = 0; i < 4; i++) assert_int_equal(gpu_count_written(given[i], (int64_t)bytes[i] / 2), 0);
    /* With an owner: the owner is not set, and what was allocated is freed. */
    w4a16_buffers *const sentinel = (w4a16_buffers *)&w;
    w4a16_buffers *owner = sentinel;
    w4a16_weight fresh;
    w4a16_weight_init(&fresh);
    w4a16_fault_arm(W4A16_FAULT_PACK_LAUNCH, 0);
    assert_int_equal(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &fresh, &owner, NULL),
                     W4A16_ERR_CUDA);
    assert_ptr_equal(owner, sentinel);
    assert_null(fresh.qweight);
    W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &out, NULL, NULL));
    for (int i = 0; i < 4; i++) CUDA_CHECK(cudaFree(given[i]));
    gpu_weight_free(&w);
    w4a16_ctx_destroy(ctx);
}

/* A cudaMemcpy with a bad direction leaves an error pending on this thread:
 * the next gemm (and pack) fails with it, saying it is not its own, having
 * queued nothing; the call after that succeeds. */
static void test_pending_error_reported(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_packed p;
    gpu_packed_make(ctx, &FULL, W4A16_F16, 61, &p);
    call_buffers b;
    buffers_make(8, FULL.n, FULL.k, 62, &b);
    void *scratch = gpu_alloc(64);
    assert_int_not_equal(cudaMemcpy(scratch, scratch, 64, (enum cudaMemcpyKind)77), cudaSuccess);
    assert_int_equal(run(ctx, &p.packed, &b), W4A16_ERR_CUDA);
    assert_non_null(strstr(w4a16_last_error(), "w4a16_gemm: a CUDA error was pending from "
                                                "earlier work on this thread, not from this call"));
    expect_C_untouched(&b, "a pending error");
    W4A16_CHECK(run(ctx, &p.packed, &b));

    assert_int_not_equal(cudaMemcpy(scratch, scratch, 64, (enum cudaMemcpyKind)77), cudaSuccess);
    w4a16_weight out;
    w4a16_weight_init(&out);
    w4a16_buffers *owner = NULL;
    assert_int_equal(w4a16_pack(ctx, &p.w.src, 1, NULL, W4A16_F16, &out, &owner, NULL),
                     W4A16_ERR_CUDA);
    assert_non_null(strstr(w4a16_last_error(), "w4a16_pack: a CUDA error was pending"));
    assert_null(owner);
    W4A16_CHECK(w4a16_pack(ctx, &p.w.src, 1, NULL, W4A16_F16, &out, &owner, NULL));
    w4a16_buffers_free(owner);
    CUDA_CHECK(cudaFree(scratch));
    buffers_free(&b);
    gpu_packed_free(&p);
    w4a16_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copied_view_freed_once),
        cmocka_unit_test(test_views_at_offsets),
        cmocka_unit_test(test_injected_failures_leave_C),
        cmocka_unit_test(test_chunked_failure_leaves_first_chunk),
        cmocka_unit_test(test_injected_pack_failure),
        cmocka_unit_test(test_pending_error_reported),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
