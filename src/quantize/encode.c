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

/* A GPTQ v1 zero of 16 is its stored 15 (z - 1): written back into v1 it is
 * the same nibble, so v1 -> v1 carries over exactly. No other format has a
 * place for it. */
static int32_t highest_zero(w4a16_format format) { return format == W4A16_FORMAT_GPTQ ? 16 : 15; }

static w4a16_status zero_error(w4a16_format format, int32_t zero, int64_t n, int64_t g) {
    if (format == W4A16_FORMAT_GPTQ)
        return w4a16_fail(W4A16_ERR_UNSUPPORTED,
                          "zero point %d at (n=%lld, g=%lld) cannot be stored in gptq, which "
                          "stores z - 1 (so holds 1..16); write gptq_v2 or ct instead",
                          (int)zero, (long long)n, (long long)g);
    return w4a16_fail(W4A16_ERR_UNSUPPORTED,
                      "zero point %d at (n=%lld, g=%lld) cannot be stored in %s, which holds "
                      "0..15 (16 comes from a GPTQ v1 stored 15)",
                      (int)zero, (long long)n, (long long)g, w4a16_format_name(format));
}

/* The tensors a layer is written as, in the order encode appends them:
 * scales, qweight, qzeros (unless ct and symmetric), g_idx (gptq always, ct
 * with act-order), weight_shape (ct). */
typedef enum { ROLE_SCALES, ROLE_QWEIGHT, ROLE_QZEROS, ROLE_G_IDX, ROLE_SHAPE } tensor_role;

typedef struct {
    tensor_role role;
    const char *suffix;
    w4a16_dtype dtype;
    int32_t ndim;
    int64_t shape[2];
} tensor_spec;

enum { MAX_SPECS = 5 };

static int describe(w4a16_format format, const w4a16_format_layout *layout, int64_t k,
                    int symmetric, int act_order, w4a16_dtype scales_dtype, tensor_spec *specs) {
    const w4a16_layer_tensor_names *names = names_of(format);
    int count = 0;
    specs[count++] = (tensor_spec){ROLE_SCALES, names->scales, scales_dtype, 2,
                                   {layout->scales_shape[0], layout->scales_shape[1]}};
    specs[count++] = (tensor_spec){ROLE_QWEIGHT, names->qweight, W4A16_I32, 2,
                                   {layout->qweight_shape[0], layout->qweight_shape[1]}};
    if (format != W4A16_FORMAT_CT || !symmetric)
        specs[count++] = (tensor_spec){ROLE_QZEROS, names->qzeros, W4A16_I32, 2,
                                       {layout->qzeros_shape[0], layout->qzeros_shape[1]}};
    if (names->g_idx != NULL && (format != W4A16_FORMAT_CT || act_order))
        specs[count++] = (tensor_spec){ROLE_G_IDX, names->g_idx, W4A16_I32, 1, {k, 0}};
    if (names->shape != NULL)
        specs[count++] = (tensor_spec){ROLE_SHAPE, names->shape, W4A16_I64, 1, {2, 0}};
    return count;
}

static w4a16_status tensor_name(char *buffer, size_t size, const char *prefix, const char *suffix) {
    W4A16_FAIL_IF(snprintf(buffer, size, "%s.%s", prefix, suffix) >= (int)size, W4A16_ERR_ARG,
                  "layer name '%.200s...' is too long", prefix);
    return W4A16_OK;
}

/* The format's layout for the shape, and the checks every layer of it passes. */
static w4a16_status layout_for(w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                               int act_order, w4a16_format_layout *layout) {
    W4A16_FAIL_IF(names_of(format) == NULL, W4A16_ERR_ARG, "format %s is not a 4-bit format to write",
                  w4a16_format_name(format));
    W4A16_TRY(w4a16_check_quantized_shape(n, k, group_size));
    W4A16_TRY(w4a16_format_layout_get(format, n, k, group_size < 0 ? 1 : k / group_size, layout));
    W4A16_FAIL_IF(act_order && format == W4A16_FORMAT_AWQ, W4A16_ERR_UNSUPPORTED,
                  "act-order weights (a g_idx other than k / G) cannot be stored in awq; "
                  "write gptq, gptq_v2 or ct instead");
    return W4A16_OK;
}

w4a16_status w4a16_encode_plan(w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                               int symmetric, int act_order, w4a16_dtype unpacked_scales_dtype,
                               const char *prefix, w4a16_tensor_list *list) {
    W4A16_FAIL_IF(prefix == NULL || list == NULL, W4A16_ERR_ARG, "prefix or list is NULL");
    w4a16_format_layout layout;
    W4A16_TRY(layout_for(format, n, k, group_size, act_order, &layout));
    W4A16_TRY(w4a16_check_scales_dtype(unpacked_scales_dtype));
    tensor_spec specs[MAX_SPECS];
    int count = describe(format, &layout, k, symmetric, act_order,
                         w4a16_format_scales_dtype(format, unpacked_scales_dtype), specs);
    int64_t before = list->count;
    w4a16_status status = W4A16_OK;
    for (int i = 0; i < count && status == W4A16_OK; i++) {
        char name[1024];
        status = tensor_name(name, sizeof name, prefix, specs[i].suffix);
        if (status == W4A16_OK)
            status = w4a16_tensor_list_add(list, name, specs[i].dtype, specs[i].ndim,
                                           specs[i].shape, NULL);
    }
    if (status != W4A16_OK) w4a16_tensor_list_truncate(list, before);
    return status;
}

static void fill_g_idx(const w4a16_unpacked *w, int32_t *g_idx) {
    for (int64_t k = 0; k < w->k; k++)
        g_idx[k] = w->g_idx != NULL ? w->g_idx[k]
                                    : (int32_t)(w->group_size < 0 ? 0 : k / w->group_size);
}

/* Allocates a spec's data; g_idx and weight_shape are filled now, the rest by rows. */
static void *allocate(const tensor_spec *spec, const w4a16_unpacked *w) {
    int64_t numel = spec->shape[0] * (spec->ndim == 2 ? spec->shape[1] : 1);
    void *data = calloc((size_t)numel ? (size_t)numel : 1, (size_t)w4a16_dtype_bits(spec->dtype) / 8);
    if (data != NULL && spec->role == ROLE_SHAPE) {
        ((int64_t *)data)[0] = w->n;
        ((int64_t *)data)[1] = w->k;
    } else if (data != NULL && spec->role == ROLE_G_IDX) {
        fill_g_idx(w, data);
    }
    return data;
}

w4a16_status w4a16_encoder_begin(const w4a16_unpacked *w, w4a16_format format, const char *prefix,
                                 w4a16_tensor_list *list, w4a16_encoder *out) {
    W4A16_FAIL_IF(prefix == NULL || list == NULL || out == NULL, W4A16_ERR_ARG,
                  "prefix, list or out is NULL");
    W4A16_TRY(w4a16_unpacked_check_header(w));
    int act_order = !w4a16_g_idx_is_trivial(w->g_idx, w->k, w->group_size);
    w4a16_encoder e = {.w = w, .format = format,
                       .scales_dtype = w4a16_format_scales_dtype(format, w->scales_dtype)};
    W4A16_TRY(layout_for(format, w->n, w->k, w->group_size, act_order, &e.layout));
    tensor_spec specs[MAX_SPECS];
    int count = describe(format, &e.layout, w->k, w->symmetric, act_order, e.scales_dtype, specs);
    int64_t before = list->count;
    w4a16_status status = W4A16_OK;
    for (int i = 0; i < count && status == W4A16_OK; i++) {
        char name[1024];
        status = tensor_name(name, sizeof name, prefix, specs[i].suffix);
        void *data = status == W4A16_OK ? allocate(&specs[i], w) : NULL;
        if (status == W4A16_OK && data == NULL)
            status = w4a16_fail(W4A16_ERR_NOMEM, "cannot allocate %s", name);
        if (status == W4A16_OK)
            status = w4a16_tensor_list_add_owned(list, name, specs[i].dtype, specs[i].ndim,
                                                 specs[i].shape, data);
        if (status != W4A16_OK) break;
        if (specs[i].role == ROLE_SCALES) e.scales = data;
        else if (specs[i].role == ROLE_QWEIGHT) e.qweight = data;
        else if (specs[i].role == ROLE_QZEROS) e.qzeros = data;
    }
    if (status != W4A16_OK) {
        w4a16_tensor_list_truncate(list, before);
        return status;
    }
    *out = e;
    return W4A16_OK;
}

/* Checks the zeros of row n against what the format holds. */
static w4a16_status check_zeros(const w4a16_encoder *e, int64_t n) {
    if (e->w->symmetric) return W4A16_OK; /* z = 8 fits every format */
    int32_t lowest = w4a16_format_min_zero(e->format), highest = highest_zero(e->format);
    int64_t groups = w4a16_unpacked_groups(e->w);
    for (int64_t g = 0; g < groups; g++) {
        int32_t zero = e->w->zeros[n * groups + g];
        if (zero < lowest || zero > highest) return zero_error(e->format, zero, n, g);
    }
    return W4A16_OK;
}

/* Row n's scales in the format's dtype at the layout's strides; the largest
 * relative change rounding made goes to *max_change. */
static w4a16_status store_scales(const w4a16_encoder *e, int64_t n, double *max_change) {
    int64_t groups = w4a16_unpacked_groups(e->w);
    for (int64_t g = 0; g < groups; g++) {
        float scale = e->w->scales[n * groups + g];
        float stored = w4a16_round_to_dtype(scale, e->scales_dtype);
        W4A16_FAIL_IF(!isfinite(stored), W4A16_ERR_UNSUPPORTED,
                      "scale %g at (n=%lld, g=%lld) overflows %s", (double)scale, (long long)n,
                      (long long)g, w4a16_dtype_name(e->scales_dtype));
        double change = scale != 0 ? fabs((double)stored - scale) / fabs(scale) : 0;
        *max_change = fmax(*max_change, change);
        int64_t at = n * e->layout.scales_stride_n + g * e->layout.scales_stride_g;
        if (e->scales_dtype == W4A16_F32) {
            ((float *)e->scales)[at] = stored;
        } else {
            ((uint16_t *)e->scales)[at] = e->scales_dtype == W4A16_F16 ? w4a16_float_to_f16(stored)
                                                                      : w4a16_float_to_bf16(stored);
        }
    }
    return W4A16_OK;
}

w4a16_status w4a16_encoder_rows(const w4a16_encoder *e, int64_t row_begin, int64_t row_end,
                                double *max_scale_change) {
    W4A16_FAIL_IF(e == NULL || e->w == NULL, W4A16_ERR_ARG, "encoder is NULL");
    const w4a16_unpacked *w = e->w;
    W4A16_FAIL_IF(row_begin < 0 || row_end > w->n || row_begin > row_end || row_begin % 8 != 0 ||
                      (row_end % 8 != 0 && row_end != w->n),
                  W4A16_ERR_ARG,
                  "rows [%lld, %lld) of N=%lld: each end must be a multiple of 8 (or N)",
                  (long long)row_begin, (long long)row_end, (long long)w->n);
    W4A16_TRY(w4a16_unpacked_check_rows(w, row_begin, row_end));
    double change = 0;
    for (int64_t n = row_begin; n < row_end; n++) {
        W4A16_TRY(check_zeros(e, n));
        W4A16_TRY(store_scales(e, n, &change));
    }
    int64_t groups = w4a16_unpacked_groups(w);
    w4a16_qlayout_pack_rows(&e->layout.qweight, e->qweight, w->q, w->k, 0, w->n, w->k, row_begin,
                            row_end);
    if (e->qzeros != NULL)
        w4a16_qlayout_pack_rows(&e->layout.qzeros, e->qzeros, w->zeros, groups, 8, w->n, groups,
                                row_begin, row_end);
    if (max_scale_change != NULL) *max_scale_change = change;
    return W4A16_OK;
}

w4a16_status w4a16_encode(const w4a16_unpacked *w, w4a16_format format, const char *prefix,
                          w4a16_tensor_list *list, double *max_scale_change) {
    int64_t before = list != NULL ? list->count : 0;
    w4a16_encoder e;
    W4A16_TRY(w4a16_encoder_begin(w, format, prefix, list, &e));
    double change = 0;
    w4a16_status status = w4a16_encoder_rows(&e, 0, w->n, &change);
    if (status != W4A16_OK) {
        w4a16_tensor_list_truncate(list, before);
        return status;
    }
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
