/* Reading one quantized layer: every tensor checked against the format's
 * layout (layouts.h) and the layer's scheme, then a w4a16_source over the
 * mapped data. A layer that breaks a rule is refused with a reason naming
 * the tensor and the rule; the checkpoint lists it as unsupported. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/layouts.h"
#include "checkpoint/source.h"
#include "common/error.h"

/* Above this, a dimension is not a linear layer's (and products stay far from overflow). */
#define MAX_DIMENSION (INT64_C(1) << 40)

static const w4a16_layer_tensor_names AWQ_NAMES = {"qweight", "qzeros", "scales", NULL, NULL};
static const w4a16_layer_tensor_names GPTQ_NAMES = {"qweight", "qzeros", "scales", "g_idx", NULL};
static const w4a16_layer_tensor_names CT_NAMES = {"weight_packed", "weight_zero_point",
                                                  "weight_scale", "weight_g_idx", "weight_shape"};

const w4a16_layer_tensor_names *w4a16_ckpt_layer_tensor_names(w4a16_format format) {
    if (format == W4A16_FORMAT_AWQ) return &AWQ_NAMES;
    if (format == W4A16_FORMAT_CT) return &CT_NAMES;
    return &GPTQ_NAMES;
}

static const w4a16_dtype INT32_ONLY[] = {W4A16_I32};
static const w4a16_dtype SCALE_DTYPES[] = {W4A16_F16, W4A16_BF16, W4A16_F32};
static const w4a16_dtype SHAPE_DTYPES[] = {W4A16_I64, W4A16_I32};
#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct {
    w4a16_checkpoint *ckpt;
    w4a16_format format;
    const char *prefix;
    char *reason;
    size_t reason_size;
    w4a16_layer_status *status; /* MALFORMED once refused */
    w4a16_format_layout layout;
    int64_t n, k, groups, group_size;
} layer_reader;

/* Records why the layer is malformed; returns 0 so callers can `return refuse(...)`. */
static int refuse(layer_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(layer_reader *r, const char *fmt, ...) {
    *r->status = W4A16_LAYER_MALFORMED;
    va_list args;
    va_start(args, fmt);
    vsnprintf(r->reason, r->reason_size, fmt, args);
    va_end(args);
    return 0;
}

static const w4a16_st_tensor *find(const layer_reader *r, const char *suffix) {
    return w4a16_ckpt_find_tensor(r->ckpt, r->prefix, suffix);
}

/* The tensor prefix.suffix with one of the dtypes and ndim dimensions, or NULL
 * (and the reason). */
static const w4a16_st_tensor *require(layer_reader *r, const char *suffix,
                                      const w4a16_dtype *dtypes, int dtype_count, int32_t ndim) {
    const w4a16_st_tensor *tensor = find(r, suffix);
    if (tensor == NULL) {
        refuse(r, "%s.%s: missing (%s needs it)", r->prefix, suffix, w4a16_format_name(r->format));
        return NULL;
    }
    int dtype_ok = 0;
    char allowed[64] = "";
    for (int i = 0; i < dtype_count; i++) {
        dtype_ok = dtype_ok || tensor->dtype == dtypes[i];
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 i ? " or " : "", w4a16_dtype_name(dtypes[i]));
    }
    if (!dtype_ok) {
        refuse(r, "%s: dtype %s, expected %s", tensor->name, w4a16_dtype_name(tensor->dtype),
               allowed);
        return NULL;
    }
    if (tensor->ndim != ndim) {
        refuse(r, "%s: %d dimensions, expected %d", tensor->name, tensor->ndim, ndim);
        return NULL;
    }
    /* An empty tensor may state any size in its other dimension. */
    for (int32_t d = 0; d < ndim; d++)
        if (tensor->shape[d] > MAX_DIMENSION) {
            refuse(r, "%s: dimension %d is %lld, too large for a linear layer", tensor->name, d,
                   (long long)tensor->shape[d]);
            return NULL;
        }
    return tensor;
}

/* The tensor's shape is the one the format's layout gives for this N, K and groups. */
static int check_shape(layer_reader *r, const w4a16_st_tensor *tensor, const int64_t expected[2]) {
    if (tensor->shape[0] == expected[0] && tensor->shape[1] == expected[1]) return 1;
    char actual_text[W4A16_ST_SHAPE_TEXT_BYTES], expected_text[W4A16_ST_SHAPE_TEXT_BYTES];
    w4a16_st_shape_text(tensor->ndim, tensor->shape, actual_text, sizeof actual_text);
    w4a16_st_shape_text(2, expected, expected_text, sizeof expected_text);
    return refuse(r, "%s: shape %s, but %s with N=%lld, K=%lld and %lld group(s) stores %s",
                  tensor->name, actual_text, w4a16_format_name(r->format), (long long)r->n,
                  (long long)r->k, (long long)r->groups, expected_text);
}

/* The data as a pointer aligned for its dtype: the mapping itself, or a copy
 * the checkpoint keeps, since safetensors promises no alignment. */
static w4a16_status aligned_data(w4a16_checkpoint *ckpt, const w4a16_st_tensor *tensor,
                                 const void **out) {
    size_t bytes = (size_t)(tensor->end - tensor->begin);
    size_t align = (size_t)(w4a16_dtype_bits(tensor->dtype) / 8);
    if (align <= 1 || bytes == 0 || (uintptr_t)tensor->data % align == 0) {
        *out = tensor->data;
        return W4A16_OK;
    }
    void **grown = realloc(ckpt->copies, (size_t)(ckpt->copy_count + 1) * sizeof *grown);
    W4A16_FAIL_IF(grown == NULL, W4A16_ERR_NOMEM, "out of memory copying '%s'", tensor->name);
    ckpt->copies = grown;
    void *copy = malloc(bytes);
    W4A16_FAIL_IF(copy == NULL, W4A16_ERR_NOMEM, "out of memory copying '%s' (%zu bytes)",
                  tensor->name, bytes);
    memcpy(copy, tensor->data, bytes);
    ckpt->copies[ckpt->copy_count++] = copy;
    *out = copy;
    return W4A16_OK;
}

/* compressed-tensors keeps [N, K] in weight_shape (I64 or I32). */
static int read_weight_shape(layer_reader *r) {
    const w4a16_st_tensor *shape =
        require(r, CT_NAMES.shape, SHAPE_DTYPES, COUNT_OF(SHAPE_DTYPES), 1);
    if (shape == NULL) return 0;
    if (shape->shape[0] != 2)
        return refuse(r, "%s: %lld values, expected 2 (N, K)", shape->name,
                      (long long)shape->shape[0]);
    int64_t values[2];
    for (int i = 0; i < 2; i++) {
        if (shape->dtype == W4A16_I64) {
            memcpy(&values[i], (const char *)shape->data + 8 * i, 8);
        } else {
            int32_t value;
            memcpy(&value, (const char *)shape->data + 4 * i, 4);
            values[i] = value;
        }
    }
    for (int i = 0; i < 2; i++)
        if (values[i] <= 0 || values[i] > MAX_DIMENSION)
            return refuse(r, "%s: [%lld, %lld] is not a valid [N, K]", shape->name,
                          (long long)values[0], (long long)values[1]);
    r->n = values[0];
    r->k = values[1];
    return 1;
}

/* N, K and the stored group count, as each format implies them (docs/DESIGN.md §2). */
static int read_dimensions(layer_reader *r, const w4a16_st_tensor *q, const w4a16_st_tensor *s) {
    switch (r->format) {
    case W4A16_FORMAT_AWQ: /* qweight [K, N/8], scales [groups, N] */
        r->k = q->shape[0];
        r->n = s->shape[1];
        r->groups = s->shape[0];
        return 1;
    case W4A16_FORMAT_GPTQ:
    case W4A16_FORMAT_GPTQ_V2: /* qweight [K/8, N], scales [groups, N] */
        r->k = q->shape[0] * 8;
        r->n = q->shape[1];
        r->groups = s->shape[0];
        return 1;
    default: /* compressed-tensors: weight_shape [N, K], weight_scale [N, groups] */
        r->groups = s->shape[1];
        return read_weight_shape(r);
    }
}

/* The group size the scheme states, or the one the scales imply. */
static int resolve_groups(layer_reader *r, const w4a16_quant_scheme *scheme,
                          const w4a16_st_tensor *q, const w4a16_st_tensor *s) {
    if (r->n <= 0 || r->k <= 0)
        return refuse(r, "%s: N=%lld, K=%lld must be positive", q->name, (long long)r->n,
                      (long long)r->k);
    if (scheme->group_size > 0) {
        if (r->k % scheme->group_size != 0)
            return refuse(r, "%s: K=%lld is not a multiple of group_size=%lld", q->name,
                          (long long)r->k, (long long)scheme->group_size);
        r->group_size = scheme->group_size;
        r->groups = r->k / scheme->group_size;
    } else if (scheme->group_size == -1) {
        r->group_size = -1;
        r->groups = 1;
    } else {
        if (r->groups <= 0 || r->k % r->groups != 0)
            return refuse(r, "%s: %lld group(s) do not divide K=%lld", s->name,
                          (long long)r->groups, (long long)r->k);
        r->group_size = r->groups == 1 ? -1 : r->k / r->groups;
    }
    if (w4a16_format_layout_get(r->format, r->n, r->k, r->groups, &r->layout) != W4A16_OK)
        return refuse(r, "%s: %s", s->name, w4a16_last_error());
    return check_shape(r, q, r->layout.qweight_shape) && check_shape(r, s, r->layout.scales_shape);
}

/* Every z[n, g] is 8: the zeros say nothing a symmetric source does not. */
static int zeros_all_eight(const layer_reader *r, const int32_t *zeros) {
    for (int64_t n = 0; n < r->n; n++)
        for (int64_t g = 0; g < r->groups; g++)
            if (w4a16_qlayout_get(&r->layout.qzeros, zeros, n, g) != 8) return 0;
    return 1;
}

/* Zeros as the scheme says: none when symmetric; stored; or, when the config
 * does not say, stored if present (compressed-tensors omits them when
 * symmetric) and dropped when every one is 8. */
static w4a16_status read_zeros(layer_reader *r, const w4a16_quant_scheme *scheme,
                               const char *suffix, const int32_t **out, int *ok) {
    *out = NULL;
    *ok = 1;
    if (scheme->symmetric == 1) return W4A16_OK;
    if (scheme->symmetric == -1 && r->format == W4A16_FORMAT_CT && find(r, suffix) == NULL)
        return W4A16_OK;
    const w4a16_st_tensor *z = require(r, suffix, INT32_ONLY, 1, 2);
    *ok = z != NULL && check_shape(r, z, r->layout.qzeros_shape);
    if (!*ok) return W4A16_OK;
    const void *data;
    W4A16_TRY(aligned_data(r->ckpt, z, &data));
    if (scheme->symmetric == -1 && zeros_all_eight(r, data)) return W4A16_OK;
    *out = data;
    return W4A16_OK;
}

/* g_idx: values in [0, groups); NULL when it is the trivial k / G. */
static w4a16_status read_g_idx(layer_reader *r, const w4a16_quant_scheme *scheme,
                               const char *suffix, const int32_t **out, int *ok) {
    *out = NULL;
    *ok = 1;
    if (suffix == NULL || find(r, suffix) == NULL) {
        if (scheme->act_order)
            *ok = refuse(r, "%s.%s: missing, but the config declares act-order", r->prefix,
                         suffix == NULL ? "g_idx" : suffix);
        return W4A16_OK;
    }
    const w4a16_st_tensor *t = require(r, suffix, INT32_ONLY, 1, 1);
    if (t == NULL || t->shape[0] != r->k) {
        *ok = t == NULL ? 0
                        : refuse(r, "%s: %lld entries, expected K=%lld", t->name,
                                 (long long)t->shape[0], (long long)r->k);
        return W4A16_OK;
    }
    const void *data;
    W4A16_TRY(aligned_data(r->ckpt, t, &data));
    const int32_t *g_idx = data;
    for (int64_t k = 0; k < r->k; k++) {
        if (g_idx[k] < 0 || g_idx[k] >= r->groups) {
            *ok = refuse(r, "%s: g_idx[%lld]=%d is outside [0, %lld)", t->name, (long long)k,
                         g_idx[k], (long long)r->groups);
            return W4A16_OK;
        }
    }
    *out = w4a16_g_idx_is_trivial(g_idx, r->k, r->group_size) ? NULL : g_idx;
    return W4A16_OK;
}

w4a16_status w4a16_ckpt_read_layer(w4a16_checkpoint *ckpt, w4a16_format format,
                                   const w4a16_quant_scheme *scheme, const char *prefix,
                                   w4a16_layer_info *info, w4a16_source *source, char *reason,
                                   size_t reason_size) {
    layer_reader r = {.ckpt = ckpt,
                      .format = format,
                      .prefix = prefix,
                      .reason = reason,
                      .reason_size = reason_size,
                      .status = &info->status};
    memset(source, 0, sizeof *source);
    reason[0] = '\0';
    info->status = W4A16_LAYER_QUANTIZED;
    info->group_size = scheme->group_size;
    info->symmetric = scheme->symmetric == 1;
    info->act_order = scheme->act_order;
    if (scheme->unsupported[0] != '\0') {
        info->status = W4A16_LAYER_UNSUPPORTED;
        snprintf(reason, reason_size, "%s", scheme->unsupported);
        return W4A16_OK;
    }
    const w4a16_layer_tensor_names *names = w4a16_ckpt_layer_tensor_names(format);
    const w4a16_st_tensor *q = require(&r, names->qweight, INT32_ONLY, 1, 2);
    const w4a16_st_tensor *s =
        q ? require(&r, names->scales, SCALE_DTYPES, COUNT_OF(SCALE_DTYPES), 2) : NULL;
    if (s == NULL || !read_dimensions(&r, q, s)) return W4A16_OK;
    info->n = r.n;
    info->k = r.k;
    if (!resolve_groups(&r, scheme, q, s)) return W4A16_OK;
    info->group_size = r.group_size;

    const int32_t *zeros, *g_idx;
    int ok;
    W4A16_TRY(read_zeros(&r, scheme, names->qzeros, &zeros, &ok));
    if (!ok) return W4A16_OK;
    W4A16_TRY(read_g_idx(&r, scheme, names->g_idx, &g_idx, &ok));
    if (!ok) return W4A16_OK;
    const void *qweight, *scales;
    W4A16_TRY(aligned_data(ckpt, q, &qweight));
    W4A16_TRY(aligned_data(ckpt, s, &scales));

    source->n = r.n;
    source->k = r.k;
    source->group_size = r.group_size;
    source->qweight = qweight;
    source->qweight_layout = r.layout.qweight;
    source->qzeros = zeros;
    source->qzeros_layout = r.layout.qzeros;
    source->scales = scales;
    source->scales_dtype = s->dtype;
    source->scales_stride_n = r.layout.scales_stride_n;
    source->scales_stride_g = r.layout.scales_stride_g;
    source->g_idx = g_idx;
    source->on_device = 0;
    info->symmetric = zeros == NULL;
    info->act_order = g_idx != NULL;
    return W4A16_OK;
}
