#include "checkpoint_builder.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "checkpoint/layouts.h"
#include "common/dtype.h"
#include "test_support.h"

void test_ckpt_add(test_ckpt *c, const char *name, w4a16_dtype dtype, int32_t ndim,
                   const int64_t *shape, const void *data) {
    assert_true(c->count < TEST_CKPT_MAX_TENSORS);
    uint64_t bytes;
    assert_int_equal(w4a16_st_tensor_bytes(dtype, ndim, shape, &bytes), W4A16_OK);
    void *copy = malloc(bytes ? bytes : 1);
    assert_non_null(copy);
    if (bytes) memcpy(copy, data, bytes);
    w4a16_st_write_tensor *t = &c->tensors[c->count++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int32_t d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = copy;
}

void test_ckpt_add_2d(test_ckpt *c, const char *name, w4a16_dtype dtype, int64_t rows, int64_t cols,
                      const void *data) {
    int64_t shape[2] = {rows, cols};
    test_ckpt_add(c, name, dtype, 2, shape, data);
}

void test_ckpt_add_dense(test_ckpt *c, const char *name, int64_t rows, int64_t cols,
                         uint64_t *rng) {
    uint16_t *values = malloc((size_t)(rows * cols) * sizeof *values);
    assert_non_null(values);
    test_fill_random(values, W4A16_F16, rows * cols, -1.0, 1.0, rng);
    test_ckpt_add_2d(c, name, W4A16_F16, rows, cols, values);
    free(values);
}

w4a16_st_write_tensor *test_ckpt_get(test_ckpt *c, const char *name) {
    for (int64_t i = 0; i < c->count; i++)
        if (strcmp(c->tensors[i].name, name) == 0) return &c->tensors[i];
    fail_msg("no tensor '%s' in the test checkpoint", name);
    return NULL;
}

void test_ckpt_remove(test_ckpt *c, const char *name) {
    w4a16_st_write_tensor *t = test_ckpt_get(c, name);
    free((char *)t->name);
    free((void *)t->data);
    *t = c->tensors[--c->count];
}

void test_ckpt_write(const test_ckpt *c, const char *path) {
    w4a16_status status = w4a16_st_write(path, c->tensors, c->count, NULL, 0);
    if (status != W4A16_OK) fail_msg("writing %s: %s", path, w4a16_last_error());
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp((*(const w4a16_st_write_tensor *const *)a)->name,
                  (*(const w4a16_st_write_tensor *const *)b)->name);
}

void test_ckpt_write_name_order(const test_ckpt *c, const char *path) {
    const w4a16_st_write_tensor *sorted[TEST_CKPT_MAX_TENSORS];
    uint64_t bytes[TEST_CKPT_MAX_TENSORS];
    for (int64_t i = 0; i < c->count; i++) sorted[i] = &c->tensors[i];
    qsort(sorted, (size_t)c->count, sizeof *sorted, compare_by_name);
    json_t *header = json_object();
    uint64_t begin = 0;
    for (int64_t i = 0; i < c->count; i++) {
        const w4a16_st_write_tensor *t = sorted[i];
        assert_int_equal(w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &bytes[i]), W4A16_OK);
        json_t *shape = json_array();
        for (int32_t d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(header, t->name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", w4a16_dtype_name(t->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)begin,
                                      (json_int_t)(begin + bytes[i])));
        begin += bytes[i];
    }
    char *text = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    size_t length = strlen(text), padded = (length + 7) / 8 * 8;
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    assert_int_equal(fwrite(prefix, 1, 8, file), 8);
    assert_int_equal(fwrite(text, 1, length, file), length);
    for (size_t i = length; i < padded; i++) fputc(' ', file);
    for (int64_t i = 0; i < c->count; i++)
        assert_int_equal(fwrite(sorted[i]->data, 1, (size_t)bytes[i], file), bytes[i]);
    assert_int_equal(fclose(file), 0);
    free(text);
}

void test_ckpt_write_folder(const test_ckpt *c, const char *dir, const char *config) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    test_ckpt_write(c, path);
    if (config != NULL) test_write_config(dir, "config.json", config);
}

void test_ckpt_free(test_ckpt *c) {
    for (int64_t i = 0; i < c->count; i++) {
        free((char *)c->tensors[i].name);
        free((void *)c->tensors[i].data);
    }
    c->count = 0;
}

static int64_t rng_below(uint64_t *rng, int64_t bound) {
    return (int64_t)(test_rng_next(rng) % (uint64_t)bound);
}

void test_layer_random(test_layer *l, w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                       int asym, int act_order, uint64_t *rng) {
    memset(l, 0, sizeof *l);
    l->n = n;
    l->k = k;
    l->group_size = group_size;
    l->groups = group_size < 0 ? 1 : k / group_size;
    l->q = malloc((size_t)(n * k));
    l->scales = malloc((size_t)(n * l->groups) * sizeof *l->scales);
    assert_true(l->q != NULL && l->scales != NULL);
    for (int64_t i = 0; i < n * k; i++) l->q[i] = (uint8_t)rng_below(rng, 16);
    test_fill_random(l->scales, W4A16_F16, n * l->groups, 1e-3, 0.1, rng);
    if (asym) {
        int zero_offset = format == W4A16_FORMAT_GPTQ ? 1 : 0;
        l->z = malloc((size_t)(n * l->groups));
        assert_non_null(l->z);
        for (int64_t i = 0; i < n * l->groups; i++)
            l->z[i] = (uint8_t)(rng_below(rng, 16) + zero_offset);
    }
    if (act_order) {
        /* Groups of equal size, then shuffled over the columns, as GPTQ's
         * desc_act leaves them. */
        l->g_idx = malloc((size_t)k * sizeof *l->g_idx);
        assert_non_null(l->g_idx);
        for (int64_t i = 0; i < k; i++)
            l->g_idx[i] = (int32_t)(group_size < 0 ? 0 : i / group_size);
        for (int64_t i = k - 1; i > 0; i--) {
            int64_t j = rng_below(rng, i + 1);
            int32_t swap = l->g_idx[i];
            l->g_idx[i] = l->g_idx[j];
            l->g_idx[j] = swap;
        }
    }
}

void test_layer_free(test_layer *l) {
    free(l->q);
    free(l->z);
    free(l->scales);
    free(l->g_idx);
    memset(l, 0, sizeof *l);
}

static void add_named(test_ckpt *c, const char *prefix, const char *suffix, w4a16_dtype dtype,
                      int32_t ndim, const int64_t *shape, const void *data) {
    char name[512];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    test_ckpt_add(c, name, dtype, ndim, shape, data);
}

static int32_t *packed_words(const int64_t shape[2]) {
    int32_t *words = calloc((size_t)(shape[0] * shape[1]), sizeof *words);
    assert_non_null(words);
    return words;
}

void test_ckpt_add_layer(test_ckpt *c, w4a16_format format, const char *prefix,
                         const test_layer *l) {
    w4a16_format_layout layout;
    assert_int_equal(w4a16_format_layout_get(format, l->n, l->k, l->groups, &layout), W4A16_OK);
    int ct = format == W4A16_FORMAT_CT;

    int32_t *qweight = packed_words(layout.qweight_shape);
    for (int64_t n = 0; n < l->n; n++)
        for (int64_t k = 0; k < l->k; k++)
            w4a16_qlayout_put(&layout.qweight, qweight, n, k, l->q[n * l->k + k]);
    add_named(c, prefix, ct ? "weight_packed" : "qweight", W4A16_I32, 2, layout.qweight_shape,
              qweight);
    free(qweight);

    uint16_t *scales = malloc((size_t)(l->n * l->groups) * sizeof *scales);
    assert_non_null(scales);
    for (int64_t n = 0; n < l->n; n++)
        for (int64_t g = 0; g < l->groups; g++)
            scales[n * layout.scales_stride_n + g * layout.scales_stride_g] =
                l->scales[n * l->groups + g];
    add_named(c, prefix, ct ? "weight_scale" : "scales", W4A16_F16, 2, layout.scales_shape, scales);
    free(scales);

    if (l->z != NULL || !ct) {
        int32_t *qzeros = packed_words(layout.qzeros_shape);
        for (int64_t n = 0; n < l->n; n++)
            for (int64_t g = 0; g < l->groups; g++)
                w4a16_qlayout_put(&layout.qzeros, qzeros, n, g, l->z ? l->z[n * l->groups + g] : 8);
        add_named(c, prefix, ct ? "weight_zero_point" : "qzeros", W4A16_I32, 2, layout.qzeros_shape,
                  qzeros);
        free(qzeros);
    }
    /* GPTQ writers store g_idx even without act-order: the trivial k / G. */
    int gptq = format == W4A16_FORMAT_GPTQ || format == W4A16_FORMAT_GPTQ_V2;
    if (l->g_idx != NULL || gptq) {
        int64_t shape[1] = {l->k};
        int32_t *g_idx = malloc((size_t)l->k * sizeof *g_idx);
        assert_non_null(g_idx);
        for (int64_t k = 0; k < l->k; k++)
            g_idx[k] =
                l->g_idx ? l->g_idx[k] : (int32_t)(l->group_size < 0 ? 0 : k / l->group_size);
        add_named(c, prefix, ct ? "weight_g_idx" : "g_idx", W4A16_I32, 1, shape, g_idx);
        free(g_idx);
    }
    if (ct) {
        int64_t shape[1] = {2}, values[2] = {l->n, l->k};
        add_named(c, prefix, "weight_shape", W4A16_I64, 1, shape, values);
    }
}

void test_expect_source(const w4a16_source *src, const test_layer *l) {
    assert_int_equal(src->n, l->n);
    assert_int_equal(src->k, l->k);
    assert_int_equal(src->group_size, l->group_size);
    assert_int_equal(src->on_device, 0);
    assert_int_equal(src->scales_dtype, W4A16_F16);
    for (int64_t n = 0; n < l->n; n++)
        for (int64_t k = 0; k < l->k; k++)
            if (w4a16_qlayout_get(&src->qweight_layout, src->qweight, n, k) != l->q[n * l->k + k])
                fail_msg("q[%lld, %lld] differs", (long long)n, (long long)k);
    assert_true((src->qzeros == NULL) == (l->z == NULL));
    const uint16_t *scales = src->scales;
    for (int64_t n = 0; n < l->n; n++)
        for (int64_t g = 0; g < l->groups; g++) {
            if (l->z && w4a16_qlayout_get(&src->qzeros_layout, src->qzeros, n, g) !=
                            l->z[n * l->groups + g])
                fail_msg("z[%lld, %lld] differs", (long long)n, (long long)g);
            if (scales[n * src->scales_stride_n + g * src->scales_stride_g] !=
                l->scales[n * l->groups + g])
                fail_msg("s[%lld, %lld] differs", (long long)n, (long long)g);
        }
    assert_true((src->g_idx == NULL) == (l->g_idx == NULL));
    if (l->g_idx) assert_memory_equal(src->g_idx, l->g_idx, (size_t)l->k * sizeof *l->g_idx);
}

void test_write_config(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(test_write_text(path, text), 0);
}

void test_expect_error_has(const char *needle) {
    const char *message = w4a16_last_error();
    if (strstr(message, needle) == NULL)
        fail_msg("message \"%s\" does not contain \"%s\"", message, needle);
}

w4a16_checkpoint *test_open_ok(const char *path, w4a16_format format) {
    w4a16_checkpoint *ckpt = NULL;
    w4a16_status status = w4a16_checkpoint_open(path, format, &ckpt);
    if (status != W4A16_OK) fail_msg("open %s: %s", path, w4a16_last_error());
    return ckpt;
}

void test_layer_of(const w4a16_checkpoint *ckpt, const char *layer, w4a16_layer_info *info) {
    int64_t index;
    if (w4a16_checkpoint_find_layer(ckpt, layer, &index) != W4A16_OK)
        fail_msg("find %s: %s", layer, w4a16_last_error());
    assert_int_equal(w4a16_checkpoint_layer(ckpt, index, info), W4A16_OK);
}

void test_expect_layer_status(const w4a16_checkpoint *ckpt, const char *layer,
                              w4a16_layer_status status, const char *reason_needle) {
    w4a16_layer_info info;
    test_layer_of(ckpt, layer, &info);
    if (info.status != status)
        fail_msg("%s: status %d, expected %d (%s)", layer, info.status, status, info.reason);
    if (strstr(info.reason, reason_needle) == NULL)
        fail_msg("%s: reason \"%s\" lacks \"%s\"", layer, info.reason, reason_needle);
}

void test_source_of(const w4a16_checkpoint *ckpt, const char *layer, w4a16_source *src) {
    int64_t index;
    if (w4a16_checkpoint_find_layer(ckpt, layer, &index) != W4A16_OK)
        fail_msg("find %s: %s", layer, w4a16_last_error());
    if (w4a16_checkpoint_source(ckpt, index, src) != W4A16_OK)
        fail_msg("source of %s: %s", layer, w4a16_last_error());
}
