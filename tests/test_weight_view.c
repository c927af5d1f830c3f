/* The weight view's checks, which every entry point that takes a weight runs
 * on the host before any CUDA call, so they hold without a GPU and in the
 * host-only build: w4a16_weight_init; struct_size and reserved; each buffer
 * of a weight given to w4a16_gemm / w4a16_workspace_size /
 * w4a16_gemm_kernel_name, and each caller buffer given to w4a16_pack,
 * refused by name when NULL, misaligned or short, with the caller's outputs
 * untouched. Also the test-only failure injection's counting. (On a GPU:
 * tests/gpu/test_gpu_api.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "common/fault.h"
#include "test_support.h"

/* Device-like addresses: the checks compare them, never dereference them. */
#define FAKE_DEVICE(offset) ((void *)(uintptr_t)(0x7f0000000000ull + (offset)))

/* A packed 520 x 1024 weight, G = 128, F16 scales, asymmetric, act-order:
 * n_padded 576, k_padded 1024, groups_padded 8. */
enum {
    QWEIGHT_BYTES = 576 * 1024 / 2,
    SCALES_BYTES = 8 * 576 * 2,
    ZEROS_BYTES = 8 * 576,
    PERM_BYTES = 1024 * 4,
};

static w4a16_weight valid_weight(void) {
    w4a16_weight w;
    w4a16_weight_init(&w);
    w.n = 520, w.k = 1024, w.n_padded = 576, w.k_padded = 1024;
    w.group_size = 128, w.groups = 8, w.groups_padded = 8;
    w.act_dtype = W4A16_F16, w.scales_dtype = W4A16_F16;
    w.qweight = FAKE_DEVICE(0), w.qweight_bytes = QWEIGHT_BYTES;
    w.scales = FAKE_DEVICE(1 << 20), w.scales_bytes = SCALES_BYTES;
    w.zeros = FAKE_DEVICE(2 << 20), w.zeros_bytes = ZEROS_BYTES;
    w.perm = FAKE_DEVICE(3 << 20), w.perm_bytes = PERM_BYTES;
    return w;
}

/* The status of a call whose arguments all pass: a NULL ctx, or in the
 * host-only build no CUDA. */
static void expect_no_ctx(w4a16_status status) {
    if (status == W4A16_ERR_ARG) {
        test_expect_error_has("ctx is NULL");
    } else {
        assert_int_equal(status, W4A16_ERR_UNSUPPORTED);
        test_expect_error_has("no CUDA");
    }
}

/* Every weight entry point refuses w with `status`, naming `needle`. */
static void expect_weight_refused(const w4a16_weight *w, w4a16_status status, const char *needle) {
    uint16_t A[4] = {0}, C[4] = {1, 2, 3, 4};
    const uint16_t C_before[4] = {1, 2, 3, 4};
    assert_int_equal(w4a16_gemm(NULL, w, A, 1024, C, 520, 1, NULL, NULL), status);
    test_expect_error_has(needle);
    assert_memory_equal(C, C_before, sizeof C);
    size_t bytes = 12345;
    assert_int_equal(w4a16_workspace_size(NULL, w, 1, &bytes), status);
    test_expect_error_has(needle);
    assert_int_equal(bytes, 12345);
    assert_string_equal(w4a16_gemm_kernel_name(NULL, w, 1), "none");
}

static void test_weight_init(void **state) {
    (void)state;
    w4a16_weight w;
    memset(&w, 0x5a, sizeof w);
    w4a16_weight_init(&w);
    assert_int_equal(w.struct_size, sizeof w);
    assert_int_equal(w.version, W4A16_PACKED_VERSION);
    assert_null(w.qweight);
    assert_int_equal(w.perm_bytes, 0);
    for (int i = 0; i < 8; i++) assert_int_equal(w.reserved[i], 0);
    w4a16_weight_init(NULL);
    /* The first field is the struct's size: bindings that mirror the struct
     * can read which version of it a library speaks. */
    assert_int_equal(offsetof(w4a16_weight, struct_size), 0);
}

/* A valid weight gets past every check: the call fails only on the NULL ctx
 * (or, in the host-only build, on the missing CUDA). */
static void test_valid_weight_passes(void **state) {
    (void)state;
    const w4a16_weight w = valid_weight();
    uint16_t A[4] = {0}, C[4] = {0};
    const w4a16_status status = w4a16_gemm(NULL, &w, A, 1024, C, 520, 1, NULL, NULL);
    expect_no_ctx(status);
    /* Symmetric, no act-order: zeros and perm may be NULL. */
    w4a16_weight sym = w;
    sym.zeros = NULL, sym.zeros_bytes = 0, sym.perm = NULL, sym.perm_bytes = 0;
    assert_int_equal(w4a16_gemm(NULL, &sym, A, 1024, C, 520, 1, NULL, NULL), status);
}

static void test_struct_and_header_refused(void **state) {
    (void)state;
    expect_weight_refused(NULL, W4A16_ERR_ARG, "w is NULL");
    w4a16_weight w = valid_weight();
    w.struct_size = (uint32_t)sizeof w - 8; /* an older, shorter header */
    expect_weight_refused(&w, W4A16_ERR_UNSUPPORTED, "w->struct_size=");
    w = valid_weight();
    w.struct_size = (uint32_t)sizeof w + 16; /* a newer one */
    expect_weight_refused(&w, W4A16_ERR_UNSUPPORTED, "call w4a16_weight_init first");
    w = valid_weight();
    w.reserved[3] = 1;
    expect_weight_refused(&w, W4A16_ERR_ARG, "w->reserved[3]=1 is not zero");
    w = valid_weight();
    w.version = 2;
    expect_weight_refused(&w, W4A16_ERR_UNSUPPORTED, "packed layout version 2");
    w = valid_weight();
    w.n = (INT64_C(1) << 30) + 1, w.n_padded = w.n + 63;
    expect_weight_refused(&w, W4A16_ERR_ARG, "outside 1..2^30");
    w = valid_weight();
    w.groups_padded = 9;
    expect_weight_refused(&w, W4A16_ERR_ARG, "w's groups");
}

/* Buffer i of a weight (0 qweight, 1 scales, 2 zeros, 3 perm), and setting it. */
static char *buffer_of(const w4a16_weight *w, int i, size_t *bytes) {
    switch (i) {
    case 0: *bytes = w->qweight_bytes; return w->qweight;
    case 1: *bytes = w->scales_bytes; return w->scales;
    case 2: *bytes = w->zeros_bytes; return (char *)w->zeros;
    default: *bytes = w->perm_bytes; return (char *)w->perm;
    }
}

static void set_buffer(w4a16_weight *w, int i, char *address, size_t bytes) {
    switch (i) {
    case 0: w->qweight = address, w->qweight_bytes = bytes; break;
    case 1: w->scales = address, w->scales_bytes = bytes; break;
    case 2: w->zeros = (uint8_t *)address, w->zeros_bytes = bytes; break;
    default: w->perm = (int32_t *)address, w->perm_bytes = bytes; break;
    }
}

static void test_buffers_refused_by_name(void **state) {
    (void)state;
    const struct {
        const char *name;
        size_t need;
        int align;
        int required; /* zeros and perm may be NULL: symmetric, no act-order */
    } buffers[] = {
        {"qweight", QWEIGHT_BYTES, 16, 1},
        {"scales", SCALES_BYTES, 16, 1},
        {"zeros", ZEROS_BYTES, 16, 0},
        {"perm", PERM_BYTES, 4, 0},
    };
    char needle[160];
    for (int i = 0; i < 4; i++) {
        w4a16_weight w = valid_weight();
        size_t bytes = 0;
        char *address = buffer_of(&w, i, &bytes);
        if (buffers[i].required) {
            set_buffer(&w, i, NULL, bytes);
            snprintf(needle, sizeof needle, "w->%s is NULL (%zu bytes needed)", buffers[i].name,
                     buffers[i].need);
            expect_weight_refused(&w, W4A16_ERR_ARG, needle);
        }
        /* Half the alignment the kernels need: refused, naming the address. */
        set_buffer(&w, i, address + buffers[i].align / 2, bytes);
        snprintf(needle, sizeof needle, "w->%s=%p is not %d-byte aligned", buffers[i].name,
                 (void *)(address + buffers[i].align / 2), buffers[i].align);
        expect_weight_refused(&w, W4A16_ERR_ARG, needle);
        /* One byte short: refused, naming the size and what needs it. */
        set_buffer(&w, i, address, buffers[i].need - 1);
        snprintf(needle, sizeof needle,
                 "w->%s_bytes=%zu is less than the %zu bytes n=520, k=1024, group_size=128 with "
                 "F16 scales need",
                 buffers[i].name, buffers[i].need - 1, buffers[i].need);
        expect_weight_refused(&w, W4A16_ERR_ARG, needle);
        /* Sixteen bytes more are fine: a caller's buffer may be larger. */
        set_buffer(&w, i, address, buffers[i].need + 16);
        uint16_t A[4] = {0}, C[4] = {0};
        expect_no_ctx(w4a16_gemm(NULL, &w, A, 1024, C, 520, 1, NULL, NULL));
    }
}

/* An asymmetric act-order source, 8 x 64, G = 32, over host arrays: packed,
 * it needs qweight 2048, scales 256, zeros 128 and perm 256 bytes. */
typedef struct {
    int32_t qweight[8 * 8];
    int32_t qzeros[2];
    uint16_t scales[8 * 2];
    int32_t g_idx[64];
    w4a16_source src;
} act_order_source;

static void act_order_source_init(act_order_source *s) {
    uint64_t rng = 17;
    for (int i = 0; i < 64; i++) s->qweight[i] = (int32_t)test_rng_next(&rng);
    for (int i = 0; i < 2; i++) s->qzeros[i] = (int32_t)test_rng_next(&rng);
    test_fill_random(s->scales, W4A16_F16, 16, 0.01, 0.1, &rng);
    for (int j = 0; j < 64; j++) s->g_idx[j] = j % 2; /* interleaved groups */
    memset(&s->src, 0, sizeof s->src);
    s->src.n = 8, s->src.k = 64, s->src.group_size = 32;
    s->src.qweight = s->qweight;
    s->src.qweight_layout = (w4a16_qlayout){W4A16_PACKED_ALONG_K, 8, 1, {0, 1, 2, 3, 4, 5, 6, 7}, 0};
    s->src.qzeros = s->qzeros;
    s->src.qzeros_layout = (w4a16_qlayout){W4A16_PACKED_ALONG_N, 1, 1, {0, 1, 2, 3, 4, 5, 6, 7}, 0};
    s->src.scales = s->scales;
    s->src.scales_dtype = W4A16_F16;
    s->src.scales_stride_n = 2, s->src.scales_stride_g = 1;
    s->src.g_idx = s->g_idx;
}

static w4a16_weight caller_buffers(void) {
    w4a16_weight out;
    w4a16_weight_init(&out);
    out.qweight = FAKE_DEVICE(0), out.qweight_bytes = 2048;
    out.scales = FAKE_DEVICE(4096), out.scales_bytes = 256;
    out.zeros = FAKE_DEVICE(8192), out.zeros_bytes = 128;
    out.perm = FAKE_DEVICE(12288), out.perm_bytes = 256;
    return out;
}

static void expect_pack_refused(const act_order_source *s, w4a16_weight *out,
                                w4a16_buffers **owner, w4a16_status status, const char *needle) {
    const w4a16_weight before = *out;
    assert_int_equal(w4a16_pack(NULL, &s->src, 1, NULL, W4A16_F16, out, owner, NULL), status);
    test_expect_error_has(needle);
    assert_memory_equal(out, &before, sizeof before);
}

static void test_pack_buffers_refused_by_name(void **state) {
    (void)state;
    act_order_source s;
    act_order_source_init(&s);
    w4a16_pack_sizes sizes;
    assert_int_equal(w4a16_pack_size(&s.src, 1, NULL, &sizes), W4A16_OK);
    assert_int_equal(sizes.qweight_bytes, 2048);
    assert_int_equal(sizes.scales_bytes, 256);
    assert_int_equal(sizes.zeros_bytes, 128);
    assert_int_equal(sizes.perm_bytes, 256);

    w4a16_weight out = caller_buffers();
    out.qweight = NULL;
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG,
                        "out->qweight is NULL and owner is NULL: give the buffers (qweight needs "
                        "2048 bytes)");
    out = caller_buffers();
    out.scales = (char *)out.scales + 4;
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG, "out->scales=");
    test_expect_error_has("is not 16-byte aligned");
    out = caller_buffers();
    out.zeros = NULL;
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG, "out->zeros is NULL (128 bytes needed)");
    out = caller_buffers();
    out.zeros_bytes = 127;
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG,
                        "out->zeros_bytes=127 is less than the 128 bytes n=8, k=64");
    out = caller_buffers();
    out.perm = (int32_t *)((char *)out.perm + 2);
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG, "is not 4-byte aligned");
    out = caller_buffers();
    out.perm_bytes = 252;
    expect_pack_refused(&s, &out, NULL, W4A16_ERR_ARG, "out->perm_bytes=252");
    out = caller_buffers();
    out.struct_size = 0; /* not from w4a16_weight_init */
    w4a16_buffers *const sentinel = (w4a16_buffers *)&s;
    w4a16_buffers *owner = sentinel;
    expect_pack_refused(&s, &out, &owner, W4A16_ERR_UNSUPPORTED, "out->struct_size=0");
    assert_ptr_equal(owner, sentinel);
    /* With an owner the buffer fields are ignored: only the ctx is missing. */
    out = caller_buffers();
    out.qweight = (char *)out.qweight + 1;
    const w4a16_status status = w4a16_pack(NULL, &s.src, 1, NULL, W4A16_F16, &out, &owner, NULL);
    expect_no_ctx(status);
    assert_ptr_equal(owner, sentinel);
    w4a16_buffers_free(NULL);
}

static void test_fault_injection_counts_passes(void **state) {
    (void)state;
    assert_false(w4a16_fault_hit(W4A16_FAULT_FALLBACK_GEMM));
    w4a16_fault_arm(W4A16_FAULT_FALLBACK_GEMM, 2);
    assert_false(w4a16_fault_hit(W4A16_FAULT_DECODE_LAUNCH)); /* another site */
    assert_false(w4a16_fault_hit(W4A16_FAULT_FALLBACK_GEMM));
    assert_false(w4a16_fault_hit(W4A16_FAULT_FALLBACK_GEMM));
    assert_true(w4a16_fault_hit(W4A16_FAULT_FALLBACK_GEMM)); /* the third pass */
    assert_false(w4a16_fault_hit(W4A16_FAULT_FALLBACK_GEMM)); /* once */
    w4a16_fault_arm(W4A16_FAULT_PACK_LAUNCH, 0);
    w4a16_fault_disarm();
    assert_false(w4a16_fault_hit(W4A16_FAULT_PACK_LAUNCH));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_init),
        cmocka_unit_test(test_valid_weight_passes),
        cmocka_unit_test(test_struct_and_header_refused),
        cmocka_unit_test(test_buffers_refused_by_name),
        cmocka_unit_test(test_pack_buffers_refused_by_name),
        cmocka_unit_test(test_fault_injection_counts_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
