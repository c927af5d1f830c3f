/* Every public function of w4a16.h called with NULL and out-of-range
 * arguments: each returns its status (or its documented value), the message
 * names the argument and its value, and nothing the caller passed in to be
 * filled has changed. (test_last_error_and_log.c: the message per thread,
 * and the log.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

/* The byte every output is filled with before a failing call. */
enum { UNTOUCHED = 0x5a };

static void expect_status(w4a16_status got, w4a16_status want, const char *needle) {
    if (got != want)
        fail_msg("status %s, expected %s (message: %s)", w4a16_status_str(got),
                 w4a16_status_str(want), w4a16_last_error());
    test_expect_error_has(needle);
}

static int all_bytes(const void *data, size_t size, uint8_t value) {
    const uint8_t *bytes = data;
    for (size_t i = 0; i < size; i++)
        if (bytes[i] != value) return 0;
    return 1;
}

static void test_status_version_and_names(void **state) {
    (void)state;
    const char *names[8];
    for (int s = W4A16_OK; s <= W4A16_ERR_CUDA; s++) {
        names[s] = w4a16_status_str((w4a16_status)s);
        assert_true(names[s] != NULL && names[s][0] != '\0');
        for (int t = 0; t < s; t++) assert_string_not_equal(names[s], names[t]);
    }
    assert_string_equal(w4a16_status_str((w4a16_status)99), "unknown status");
    assert_string_equal(w4a16_status_str((w4a16_status)-1), "unknown status");

    const char *version = w4a16_version();
    int major, minor, patch;
    assert_int_equal(sscanf(version, "%d.%d.%d", &major, &minor, &patch), 3);

    assert_string_equal(w4a16_dtype_name(W4A16_DTYPE_INVALID), "INVALID");
    assert_string_equal(w4a16_dtype_name((w4a16_dtype)-3), "INVALID");
    assert_string_equal(w4a16_dtype_name(W4A16_DTYPE_COUNT), "INVALID");
    assert_int_equal(w4a16_dtype_bits((w4a16_dtype)-3), 0);
    assert_int_equal(w4a16_dtype_bits(W4A16_DTYPE_COUNT), 0);
    assert_string_equal(w4a16_format_name((w4a16_format)-1), "unknown");
    assert_string_equal(w4a16_format_name((w4a16_format)6), "unknown");

    w4a16_format format = (w4a16_format)77;
    expect_status(w4a16_format_parse(NULL, &format), W4A16_ERR_ARG, "format name is NULL");
    expect_status(w4a16_format_parse("awq", NULL), W4A16_ERR_ARG, "out is NULL");
    expect_status(w4a16_format_parse("int3", &format), W4A16_ERR_ARG, "unknown format 'int3'");
    expect_status(w4a16_format_parse("AWQ", &format), W4A16_ERR_ARG, "'AWQ'");
    assert_int_equal(format, 77);
}

/* A two-group symmetric GPTQ-like source over caller-owned arrays. */
typedef struct {
    int32_t qweight[2 * 8];
    uint16_t scales[2 * 8];
    w4a16_source src;
} small_source;

static void small_source_init(small_source *s) {
    uint64_t rng = 11;
    for (int i = 0; i < 16; i++) s->qweight[i] = (int32_t)test_rng_next(&rng);
    test_fill_random(s->scales, W4A16_F16, 16, 0.01, 0.1, &rng);
    memset(&s->src, 0, sizeof s->src);
    s->src.n = 8, s->src.k = 16, s->src.group_size = 8;
    s->src.qweight = s->qweight;
    s->src.qweight_layout = (w4a16_qlayout){W4A16_PACKED_ALONG_K, 1, 8, {0, 1, 2, 3, 4, 5, 6, 7}, 0};
    s->src.scales = s->scales;
    s->src.scales_dtype = W4A16_F16;
    s->src.scales_stride_n = 1, s->src.scales_stride_g = 8;
}

static void test_source_functions(void **state) {
    (void)state;
    small_source s;
    small_source_init(&s);
    assert_int_equal(w4a16_source_validate(&s.src), W4A16_OK);
    assert_false(isnan(w4a16_source_weight(&s.src, 7, 15)));

    expect_status(w4a16_source_validate(NULL), W4A16_ERR_ARG, "source is NULL");
    w4a16_source bad = s.src;
    bad.k = 20;
    expect_status(w4a16_source_validate(&bad), W4A16_ERR_SHAPE,
                  "K=20 is not a multiple of group_size=8");
    bad = s.src;
    bad.qweight = NULL;
    expect_status(w4a16_source_validate(&bad), W4A16_ERR_ARG, "qweight is NULL");
    bad = s.src;
    bad.scales_stride_g = -1;
    expect_status(w4a16_source_validate(&bad), W4A16_ERR_ARG, "g -1");

    assert_true(isnan(w4a16_source_weight(NULL, 0, 0)));
    test_expect_error_has("host source");
    assert_true(isnan(w4a16_source_weight(&s.src, 8, 0)));
    test_expect_error_has("(n=8, k=0) is outside the 8 x 16 weight");
    assert_true(isnan(w4a16_source_weight(&s.src, 0, -1)));
    test_expect_error_has("k=-1");
}

/* An AWQ folder with one quantized layer and an lm_head it leaves dense. */
static const char *awq_folder(void) {
    static const char config[] =
        "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, "
        "\"zero_point\": true, \"version\": \"gemm\", \"modules_to_not_convert\": [\"lm_head\"]}}";
    const char *dir = test_scratch_dir("api_errors_awq");
    uint64_t rng = 23;
    test_ckpt c;
    memset(&c, 0, sizeof c);
    test_layer layer;
    test_layer_random(&layer, W4A16_FORMAT_AWQ, 16, 64, 32, 1, 0, &rng);
    test_ckpt_add_layer(&c, W4A16_FORMAT_AWQ, "model.layers.0.mlp.up_proj", &layer);
    test_ckpt_add_dense(&c, "lm_head.weight", 24, 16, &rng);
    test_ckpt_write_folder(&c, dir, config);
    test_ckpt_free(&c);
    test_layer_free(&layer);
    return dir;
}

static void test_checkpoint_open_arguments(void **state) {
    (void)state;
    const char *dir = awq_folder();
    w4a16_checkpoint *const sentinel = (w4a16_checkpoint *)&dir;
    w4a16_checkpoint *ckpt = sentinel;
    expect_status(w4a16_checkpoint_open(NULL, W4A16_FORMAT_AUTO, &ckpt), W4A16_ERR_ARG, "path");
    expect_status(w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, NULL), W4A16_ERR_ARG, "output");
    expect_status(w4a16_checkpoint_open(dir, (w4a16_format)9, &ckpt), W4A16_ERR_ARG, "format=9");
    expect_status(w4a16_checkpoint_open(dir, (w4a16_format)-1, &ckpt), W4A16_ERR_ARG,
                  "format=-1");
    char absent[4200];
    snprintf(absent, sizeof absent, "%s/absent.safetensors", dir);
    expect_status(w4a16_checkpoint_open(absent, W4A16_FORMAT_AWQ, &ckpt), W4A16_ERR_IO, absent);
    assert_ptr_equal(ckpt, sentinel);

    /* The accessors that cannot fail give their empty answer for NULL. */
    w4a16_checkpoint_close(NULL);
    assert_int_equal(w4a16_checkpoint_format(NULL), W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_layer_count(NULL), 0);
    assert_int_equal(w4a16_checkpoint_tensor_count(NULL), 0);
}

static void test_checkpoint_accessor_arguments(void **state) {
    (void)state;
    w4a16_checkpoint *ckpt = test_open_ok(awq_folder(), W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 2);
    assert_int_equal(w4a16_checkpoint_tensor_count(ckpt), 4);

    w4a16_layer_info info;
    w4a16_source source;
    w4a16_tensor_info tensor;
    int64_t index = -7;
    memset(&info, UNTOUCHED, sizeof info);
    memset(&source, UNTOUCHED, sizeof source);
    memset(&tensor, UNTOUCHED, sizeof tensor);

    expect_status(w4a16_checkpoint_layer(NULL, 0, &info), W4A16_ERR_ARG, "checkpoint");
    expect_status(w4a16_checkpoint_layer(ckpt, 0, NULL), W4A16_ERR_ARG, "output");
    expect_status(w4a16_checkpoint_layer(ckpt, -1, &info), W4A16_ERR_ARG,
                  "layer index=-1 is outside [0, 2)");
    expect_status(w4a16_checkpoint_layer(ckpt, 2, &info), W4A16_ERR_ARG, "index=2");
    expect_status(w4a16_checkpoint_source(NULL, 0, &source), W4A16_ERR_ARG, "checkpoint");
    expect_status(w4a16_checkpoint_source(ckpt, 0, NULL), W4A16_ERR_ARG, "output");
    expect_status(w4a16_checkpoint_source(ckpt, 5, &source), W4A16_ERR_ARG, "index=5");
    expect_status(w4a16_checkpoint_tensor(NULL, 0, &tensor), W4A16_ERR_ARG, "checkpoint");
    expect_status(w4a16_checkpoint_tensor(ckpt, 0, NULL), W4A16_ERR_ARG, "output");
    expect_status(w4a16_checkpoint_tensor(ckpt, 4, &tensor), W4A16_ERR_ARG,
                  "tensor index=4 is outside [0, 4)");
    expect_status(w4a16_checkpoint_tensor(ckpt, INT64_MIN, &tensor), W4A16_ERR_ARG, "index=");
    expect_status(w4a16_checkpoint_find_layer(NULL, "lm_head", &index), W4A16_ERR_ARG,
                  "checkpoint");
    expect_status(w4a16_checkpoint_find_layer(ckpt, NULL, &index), W4A16_ERR_ARG, "name");
    expect_status(w4a16_checkpoint_find_layer(ckpt, "lm_head", NULL), W4A16_ERR_ARG, "index");
    expect_status(w4a16_checkpoint_find_layer(ckpt, "model.layers.0", &index), W4A16_ERR_ARG,
                  "no layer named 'model.layers.0'");
    assert_int_equal(index, -7);

    /* The dense lm_head is a layer, but has no quantized source. */
    assert_int_equal(w4a16_checkpoint_find_layer(ckpt, "lm_head", &index), W4A16_OK);
    expect_status(w4a16_checkpoint_source(ckpt, index, &source), W4A16_ERR_ARG,
                  "layer 'lm_head' is not quantized");
    assert_true(all_bytes(&info, sizeof info, UNTOUCHED));
    assert_true(all_bytes(&source, sizeof source, UNTOUCHED));
    assert_true(all_bytes(&tensor, sizeof tensor, UNTOUCHED));
    w4a16_checkpoint_close(ckpt);
}

static void test_quantize_arguments(void **state) {
    (void)state;
    uint16_t weight[8 * 64];
    uint64_t rng = 29;
    test_fill_random(weight, W4A16_BF16, 8 * 64, -1, 1, &rng);
    w4a16_unpacked out;
    memset(&out, UNTOUCHED, sizeof out);
    expect_status(w4a16_quantize(NULL, W4A16_BF16, 8, 64, 32, 1, W4A16_F16, &out), W4A16_ERR_ARG,
                  "weight is NULL");
    expect_status(w4a16_quantize(weight, W4A16_BF16, 8, 64, 32, 1, W4A16_F16, NULL),
                  W4A16_ERR_ARG, "out is NULL");
    expect_status(w4a16_quantize(weight, W4A16_I8, 8, 64, 32, 1, W4A16_F16, &out),
                  W4A16_ERR_UNSUPPORTED, "weight dtype I8");
    expect_status(w4a16_quantize(weight, W4A16_BF16, 8, 64, 0, 1, W4A16_F16, &out),
                  W4A16_ERR_ARG, "group_size=0");
    expect_status(w4a16_quantize(weight, W4A16_BF16, 8, 64, 256, 1, W4A16_F16, &out),
                  W4A16_ERR_ARG, "group_size=256");
    expect_status(w4a16_quantize(weight, W4A16_BF16, -8, 64, 32, 1, W4A16_F16, &out),
                  W4A16_ERR_SHAPE, "N=-8");
    expect_status(w4a16_quantize(weight, W4A16_BF16, 8, 80, 32, 1, W4A16_F16, &out),
                  W4A16_ERR_SHAPE, "K=80 is not a multiple of group_size=32");
    expect_status(w4a16_quantize(weight, W4A16_BF16, INT64_MAX / 32, 64, 32, 1, W4A16_F16, &out),
                  W4A16_ERR_SHAPE, "too large");
    expect_status(w4a16_quantize(weight, W4A16_BF16, 8, 64, 32, 1, W4A16_U8, &out),
                  W4A16_ERR_UNSUPPORTED, "scales dtype U8");
    assert_true(all_bytes(&out, sizeof out, UNTOUCHED));

    w4a16_unpacked_free(NULL);
    w4a16_unpacked empty;
    memset(&empty, 0, sizeof empty);
    w4a16_unpacked_free(&empty);
    assert_int_equal(w4a16_quantize(weight, W4A16_BF16, 8, 64, 32, 0, W4A16_F16, &out), W4A16_OK);
    w4a16_unpacked_free(&out);
    assert_null(out.q);
    assert_null(out.scales);
}

static void test_ref_gemm_arguments(void **state) {
    (void)state;
    small_source s;
    small_source_init(&s);
    uint16_t A[4 * 16];
    uint64_t rng = 31;
    test_fill_random(A, W4A16_F16, 4 * 16, -1, 1, &rng);
    double C[3 * 8];
    memset(C, UNTOUCHED, sizeof C);
    const int64_t rows[] = {0, 2, 3};
    expect_status(w4a16_ref_gemm(&s.src, NULL, W4A16_F16, 16, NULL, 3, NULL, C), W4A16_ERR_ARG,
                  "A is NULL (n_rows=3)");
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F16, 16, NULL, 3, NULL, NULL), W4A16_ERR_ARG,
                  "C is NULL (n_rows=3)");
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F16, 15, NULL, 3, NULL, C), W4A16_ERR_ARG,
                  "lda=15 is less than K=16");
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F16, 16, rows, 3, NULL, C), W4A16_OK, "");
    memset(C, UNTOUCHED, sizeof C);
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F16, 16, rows, -3, NULL, C), W4A16_ERR_ARG,
                  "n_rows=-3");
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F32, 16, NULL, 3, NULL, C), W4A16_ERR_ARG,
                  "activation dtype F32");
    expect_status(w4a16_ref_gemm(&s.src, A, W4A16_F16, INT64_MAX, NULL, 3, NULL, C),
                  W4A16_ERR_ARG, "overflow");
    assert_true(all_bytes(C, sizeof C, UNTOUCHED));
    /* n_rows = 0 is a no-op that needs neither A nor C. */
    assert_int_equal(w4a16_ref_gemm(&s.src, NULL, W4A16_F16, 16, NULL, 0, NULL, NULL), W4A16_OK);
}

static void test_pack_size_arguments(void **state) {
    (void)state;
    small_source s;
    small_source_init(&s);
    w4a16_pack_sizes sizes;
    memset(&sizes, UNTOUCHED, sizeof sizes);
    const w4a16_source two[2] = {s.src, s.src};
    expect_status(w4a16_pack_size(NULL, 1, NULL, &sizes), W4A16_ERR_ARG, "sources is NULL");
    expect_status(w4a16_pack_size(&s.src, 1, NULL, NULL), W4A16_ERR_ARG, "out is NULL");
    expect_status(w4a16_pack_size(&s.src, 0, NULL, &sizes), W4A16_ERR_ARG, "n_sources=0");
    expect_status(w4a16_pack_size(two, W4A16_PACK_MAX_SOURCES + 1, NULL, &sizes), W4A16_ERR_ARG,
                  "n_sources=9");
    w4a16_slice slice = {0, 17, 0, 16};
    expect_status(w4a16_pack_size(two, 2, &slice, &sizes), W4A16_ERR_ARG,
                  "slice rows [0, 17) are not a non-empty range inside [0, 16)");
    slice = (w4a16_slice){0, 8, 4, 16};
    expect_status(w4a16_pack_size(two, 2, &slice, &sizes), W4A16_ERR_ARG,
                  "must be multiples of group_size=8");
    w4a16_source bad[2] = {s.src, s.src};
    bad[1].k = 24;
    expect_status(w4a16_pack_size(bad, 2, NULL, &sizes), W4A16_ERR_SHAPE,
                  "source 1 has k=24 but source 0 has k=16");
    assert_true(all_bytes(&sizes, sizeof sizes, UNTOUCHED));
    assert_int_equal(w4a16_pack_size(two, 2, NULL, &sizes), W4A16_OK);
    assert_true(sizes.qweight_bytes > 0 && sizes.zeros_bytes == 0 && sizes.perm_bytes == 0);
}

/* Without a GPU (or without CUDA in the build) the GPU half still answers
 * every call with a status, and the NULL-accepting frees accept NULL. */
static void test_gpu_functions_return_a_status(void **state) {
    (void)state;
    int count = -1;
    expect_status(w4a16_device_count(NULL), W4A16_ERR_ARG, "count is NULL");
    assert_int_equal(w4a16_device_count(&count), W4A16_OK);
    assert_true(count >= 0);

    w4a16_ctx *const sentinel = (w4a16_ctx *)&count;
    w4a16_ctx *ctx = sentinel;
    assert_int_not_equal(w4a16_ctx_create(0, 0, NULL), W4A16_OK);
    assert_int_not_equal(w4a16_ctx_create(-1, 0, &ctx), W4A16_OK);
    assert_int_not_equal(w4a16_ctx_create(count, 0, &ctx), W4A16_OK); /* one past the last */
    assert_ptr_equal(ctx, sentinel);
    w4a16_ctx_destroy(NULL);

    small_source s;
    small_source_init(&s);
    w4a16_weight weight;
    memset(&weight, UNTOUCHED, sizeof weight);
    assert_int_not_equal(w4a16_pack(NULL, &s.src, 1, NULL, W4A16_F16, &weight, NULL, NULL),
                         W4A16_OK);
    assert_true(w4a16_last_error()[0] != '\0');
    assert_true(all_bytes(&weight, sizeof weight, UNTOUCHED));
    uint16_t buffer[16];
    assert_int_not_equal(w4a16_gemm(NULL, NULL, buffer, 16, buffer, 16, 1, NULL, NULL), W4A16_OK);
    assert_true(w4a16_last_error()[0] != '\0');
    assert_string_equal(w4a16_gemm_kernel_name(NULL, NULL, 1), "none");
    assert_int_not_equal(w4a16_ctx_set_batch_invariant(NULL, 1), W4A16_OK);
    assert_true(w4a16_last_error()[0] != '\0');
    w4a16_buffers_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_version_and_names),
        cmocka_unit_test(test_source_functions),
        cmocka_unit_test(test_checkpoint_open_arguments),
        cmocka_unit_test(test_checkpoint_accessor_arguments),
        cmocka_unit_test(test_quantize_arguments),
        cmocka_unit_test(test_ref_gemm_arguments),
        cmocka_unit_test(test_pack_size_arguments),
        cmocka_unit_test(test_gpu_functions_return_a_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
