/* The format writers (encode.h): canonical q, z, s into each format's named
 * int32 and scale tensors through the layout descriptors, and the reader's
 * view of what was written. */
#include "encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/layouts.h"
#include "checkpoint/source.h"
#include "common/dtype.h"
#include "common/error.h"
#include "unpacked.h"

/* Each format's tensor names after the layer prefix (the importer's table),
 * or NULL for a format without 4-bit tensors. */
static const w4a16_layer_tensor_names *names_of(w4a16_format format) {
    if (format != W4A16_FORMAT_AWQ && format != W4A16_FORMAT_GPTQ &&
        format != W4A16_FORMAT_GPTQ_V2 && format != W4A16_FORMAT_CT)
        return NULL;
    return w4a16_ckpt_layer_tensor_names(format);
}

int32_t w4a16_format_min_zero(w4a16_format format) { return format == W4A16_FORMAT_GPTQ ? 1 : 0; }

w4a16_dtype w4a16_format_scales_dtype(w4a16_format format, w4a16_dtype unpacked_scales_dtype) {
    return format == W4A16_FORMAT_CT ? unpacked_scales_dtype : W4A16_F16;
}

/* A tensor built but not yet in the list. */
typedef struct {
    const char *suffix;
    w4a16_dtype dtype;
    int32_t ndim;
    int64_t shape[2];
    void *data;
} built_tensor;

/* A GPTQ v1 zero of 16 is its stored 15 (z - 1): written back into v1 it is
 * the same nibble, so v1 -> v1 carries over exactly. No other format has a
 * place for it. */
static int32_t highest_zero(w4a16_format format) { return format == W4A16_FORMAT_GPTQ ? 16 : 15; }

static w4a16_status check_zeros(const w4a16_unpacked *w, w4a16_format format) {
    if (w->symmetric) return W4A16_OK; /* z = 8 fits every format */
    int32_t lowest = w4a16_format_min_zero(format), highest = highest_zero(format);
    int64_t groups = w4a16_unpacked_groups(w);
    for (int64_t n = 0; n < w->n; n++)
        for (int64_t g = 0; g < groups; g++) {
            int32_t zero = w4a16_unpacked_zero(w, n, g);
            if (zero >= lowest && zero <= highest) continue;
            if (format == W4A16_FORMAT_GPTQ)
                return w4a16_fail(W4A16_ERR_UNSUPPORTED,
                                  "zero point %d at (n=%lld, g=%lld) cannot be stored in gptq, "
                                  "which stores z - 1 (so holds 1..16); write gptq_v2 or ct "
                                  "instead",
                                  (int)zero, (long long)n, (long long)g);
            return w4a16_fail(W4A16_ERR_UNSUPPORTED,
                              "zero point %d at (n=%lld, g=%lld) cannot be stored in %s, which "
                              "holds 0..15 (16 comes from a GPTQ v1 stored 15)",
                              (int)zero, (long long)n, (long long)g, w4a16_format_name(format));
        }
    return W4A16_OK;
}

static int32_t *alloc_words(const int64_t shape[2]) {
    return calloc((size_t)(shape[0] * shape[1]), sizeof(int32_t));
}

static int32_t *pack_q(const w4a16_unpacked *w, const w4a16_format_layout *layout) {
    int32_t *words = alloc_words(layout->qweight_shape);
    if (words == NULL) return NULL;
    for (int64_t n = 0; n < w->n; n++)
        for (int64_t k = 0; k < w->k; k++)
            w4a16_qlayout_put(&layout->qweight, words, n, k, w->q[n * w->k + k]);
    return words;
}

static int32_t *pack_zeros(const w4a16_unpacked *w, const w4a16_format_layout *layout) {
    int32_t *words = alloc_words(layout->qzeros_shape);
    if (words == NULL) return NULL;
    for (int64_t n = 0; n < w->n; n++)
        for (int64_t g = 0; g < w4a16_unpacked_groups(w); g++)
            w4a16_qlayout_put(&layout->qzeros, words, n, g, w4a16_unpacked_zero(w, n, g));
    return words;
}

/* The scales in dtype at the layout's strides; *max_change is the largest
 * relative change rounding made. */
static w4a16_status store_scales(const w4a16_unpacked *w, w4a16_dtype dtype,
                                 const w4a16_format_layout *layout, void **out,
                                 double *max_change) {
    int64_t groups = w4a16_unpacked_groups(w);
    size_t element = (size_t)w4a16_dtype_bits(dtype) / 8;
    unsigned char *data = malloc((size_t)(w->n * groups) * element);
    W4A16_FAIL_IF(data == NULL, W4A16_ERR_NOMEM, "cannot allocate %lld scales",
                  (long long)(w->n * groups));
    *max_change = 0;
    for (int64_t n = 0; n < w->n; n++)
        for (int64_t g = 0; g < groups; g++) {
            float scale = w->scales[n * groups + g];
            float stored = w4a16_round_to_dtype(scale, dtype);
            if (!isfinite(stored)) {
                free(data);
                return w4a16_fail(W4A16_ERR_UNSUPPORTED, "scale %g at (n=%lld, g=%lld) overflows %s",
                                  (double)scale, (long long)n, (long long)g,
                                  w4a16_dtype_name(dtype));
            }
            double change = scale != 0 ? fabs((double)stored - scale) / fabs(scale) : 0;
            *max_change = fmax(*max_change, change);
            size_t at = (size_t)(n * layout->scales_stride_n + g * layout->scales_stride_g);
            if (dtype == W4A16_F32) {
                memcpy(data + at * element, &stored, sizeof stored);
            } else {
                uint16_t bits = dtype == W4A16_F16 ? w4a16_float_to_f16(stored)
                                                   : w4a16_float_to_bf16(stored);
                memcpy(data + at * element, &bits, sizeof bits);
            }
        }
    *out = data;
    return W4A16_OK;
}

static int32_t *g_idx_of(const w4a16_unpacked *w) {
    int32_t *g_idx = malloc((size_t)w->k * sizeof *g_idx);
    if (g_idx == NULL) return NULL;
    for (int64_t k = 0; k < w->k; k++)
        g_idx[k] = w->g_idx != NULL ? w->g_idx[k]
                                    : (int32_t)(w->group_size < 0 ? 0 : k / w->group_size);
    return g_idx;
}

static int64_t *shape_tensor(const w4a16_unpacked *w) {
    int64_t *shape = malloc(2 * sizeof *shape);
    if (shape == NULL) return NULL;
    shape[0] = w->n;
    shape[1] = w->k;
    return shape;
}

static w4a16_status tensor_name(char *buffer, size_t size, const char *prefix, const char *suffix) {
    W4A16_FAIL_IF(snprintf(buffer, size, "%s.%s", prefix, suffix) >= (int)size, W4A16_ERR_ARG,
                  "layer name '%.200s...' is too long", prefix);
    return W4A16_OK;
}

/* Moves the built tensors into the list: all of them, or none. */
static w4a16_status append_all(w4a16_tensor_list *list, const char *prefix, built_tensor *built,
                               int count) {
    int64_t before = list->count;
    w4a16_status status = W4A16_OK;
    for (int i = 0; i < count; i++) {
        char name[1024];
        if (status == W4A16_OK) status = tensor_name(name, sizeof name, prefix, built[i].suffix);
        if (status == W4A16_OK)
            status = w4a16_tensor_list_add_owned(list, name, built[i].dtype, built[i].ndim,
                                                 built[i].shape, built[i].data);
        else
            free(built[i].data);
    }
    if (status != W4A16_OK) w4a16_tensor_list_truncate(list, before);
    return status;
}

static built_tensor built_2d(const char *suffix, w4a16_dtype dtype, const int64_t shape[2],
                             void *data) {
    return (built_tensor){suffix, dtype, 2, {shape[0], shape[1]}, data};
}

w4a16_status w4a16_encode(const w4a16_unpacked *w, w4a16_format format, const char *prefix,
                          w4a16_tensor_list *list, double *max_scale_change) {
    W4A16_FAIL_IF(prefix == NULL || list == NULL, W4A16_ERR_ARG, "prefix or list is NULL");
    W4A16_TRY(w4a16_unpacked_validate(w));
    const w4a16_layer_tensor_names *names = names_of(format);
    W4A16_FAIL_IF(names == NULL, W4A16_ERR_ARG, "format %s is not a 4-bit format to write",
                  w4a16_format_name(format));
    w4a16_format_layout layout;
    W4A16_TRY(w4a16_format_layout_get(format, w->n, w->k, w4a16_unpacked_groups(w), &layout));
    int act_order = !w4a16_g_idx_is_trivial(w->g_idx, w->k, w->group_size);
    W4A16_FAIL_IF(act_order && format == W4A16_FORMAT_AWQ, W4A16_ERR_UNSUPPORTED,
                  "act-order weights (a g_idx other than k / G) cannot be stored in awq; "
                  "write gptq, gptq_v2 or ct instead");
    W4A16_TRY(check_zeros(w, format));

    w4a16_dtype scales_dtype = w4a16_format_scales_dtype(format, w->scales_dtype);
    void *scales = NULL;
    double change = 0;
    W4A16_TRY(store_scales(w, scales_dtype, &layout, &scales, &change));
    built_tensor built[5];
    int count = 0;
    built[count++] = built_2d(names->scales, scales_dtype, layout.scales_shape, scales);
    built[count++] = built_2d(names->qweight, W4A16_I32, layout.qweight_shape, pack_q(w, &layout));
    if (format != W4A16_FORMAT_CT || !w->symmetric)
        built[count++] =
            built_2d(names->qzeros, W4A16_I32, layout.qzeros_shape, pack_zeros(w, &layout));
    if (names->g_idx != NULL && (format != W4A16_FORMAT_CT || act_order))
        built[count++] = (built_tensor){names->g_idx, W4A16_I32, 1, {w->k, 0}, g_idx_of(w)};
    if (names->shape != NULL)
        built[count++] = (built_tensor){names->shape, W4A16_I64, 1, {2, 0}, shape_tensor(w)};
    for (int i = 0; i < count; i++)
        if (built[i].data == NULL) {
            for (int j = 0; j < count; j++) free(built[j].data);
            return w4a16_fail(W4A16_ERR_NOMEM, "cannot allocate the tensors of %.200s", prefix);
        }
    W4A16_TRY(append_all(list, prefix, built, count));
    if (max_scale_change != NULL) *max_scale_change = change;
    return W4A16_OK;
}

/* A tensor the encoder wrote, checked for dtype (INVALID: any) and element count. */
static w4a16_status find_tensor(const w4a16_tensor_list *list, const char *prefix,
                                const char *suffix, int required, w4a16_dtype dtype,
                                int64_t numel, const w4a16_st_write_tensor **out) {
    char name[1024];
    W4A16_TRY(tensor_name(name, sizeof name, prefix, suffix));
    *out = w4a16_tensor_list_find(list, name);
    if (*out == NULL) {
        W4A16_FAIL_IF(required, W4A16_ERR_FORMAT, "tensor %s is missing", name);
        return W4A16_OK;
    }
    W4A16_FAIL_IF(dtype != W4A16_DTYPE_INVALID && (*out)->dtype != dtype, W4A16_ERR_FORMAT,
                  "tensor %s is %s, expected %s", name, w4a16_dtype_name((*out)->dtype),
                  w4a16_dtype_name(dtype));
    int64_t count = 1;
    for (int32_t d = 0; d < (*out)->ndim; d++) count *= (*out)->shape[d];
    W4A16_FAIL_IF(count != numel, W4A16_ERR_FORMAT, "tensor %s holds %lld values, expected %lld",
                  name, (long long)count, (long long)numel);
    return W4A16_OK;
}

w4a16_status w4a16_encoded_source(const w4a16_tensor_list *list, w4a16_format format,
                                  const char *prefix, int64_t n, int64_t k, int64_t group_size,
                                  int symmetric, w4a16_source *out) {
    W4A16_FAIL_IF(list == NULL || prefix == NULL || out == NULL, W4A16_ERR_ARG,
                  "list, prefix or out is NULL");
    const w4a16_layer_tensor_names *names = names_of(format);
    W4A16_FAIL_IF(names == NULL, W4A16_ERR_ARG, "format %s is not a 4-bit format",
                  w4a16_format_name(format));
    W4A16_TRY(w4a16_check_quantized_shape(n, k, group_size));
    int64_t groups = group_size < 0 ? 1 : k / group_size;
    w4a16_format_layout layout;
    W4A16_TRY(w4a16_format_layout_get(format, n, k, groups, &layout));
    const w4a16_st_write_tensor *qweight, *qzeros = NULL, *scales, *g_idx = NULL;
    W4A16_TRY(find_tensor(list, prefix, names->qweight, 1, W4A16_I32,
                          layout.qweight_shape[0] * layout.qweight_shape[1], &qweight));
    W4A16_TRY(find_tensor(list, prefix, names->scales, 1, W4A16_DTYPE_INVALID, n * groups, &scales));
    if (!symmetric)
        W4A16_TRY(find_tensor(list, prefix, names->qzeros, 1, W4A16_I32,
                              layout.qzeros_shape[0] * layout.qzeros_shape[1], &qzeros));
    if (names->g_idx != NULL) W4A16_TRY(find_tensor(list, prefix, names->g_idx, 0, W4A16_I32, k, &g_idx));
    W4A16_TRY(w4a16_check_scales_dtype(scales->dtype));

    w4a16_source source = {.n = n, .k = k, .group_size = group_size,
                           .qweight = qweight->data, .qweight_layout = layout.qweight,
                           .qzeros = qzeros != NULL ? qzeros->data : NULL,
                           .qzeros_layout = layout.qzeros, .scales = scales->data,
                           .scales_dtype = scales->dtype,
                           .scales_stride_n = layout.scales_stride_n,
                           .scales_stride_g = layout.scales_stride_g,
                           .g_idx = g_idx != NULL ? g_idx->data : NULL};
    W4A16_TRY(w4a16_source_validate(&source));
    *out = source;
    return W4A16_OK;
}
