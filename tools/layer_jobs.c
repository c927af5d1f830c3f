/* Row-parallel layer work (see layer_jobs.h). */
#include "layer_jobs.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "dequantize_dense.h"
#include "parallel.h"
#include "quantize/encode.h"
#include "quantize/quantize.h"

/* What the blocks of one layer share. */
typedef struct {
    const void *weight;           /* quantize: the dense weight */
    w4a16_dtype weight_dtype;
    int32_t min_zero;
    const w4a16_source *src;      /* convert, dequantize: the quantized layer */
    w4a16_unpacked *unpacked;
    w4a16_encoder encoder;
    w4a16_dtype dense_dtype;      /* dequantize */
    void *dense;
    double *block_change;         /* per block: largest scale change */
} layer_job;

void layer_jobs_reuse_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

static int64_t block_index(int64_t begin) { return begin / LAYER_JOB_BLOCK_ROWS; }

static w4a16_status quantize_block(void *context, int64_t begin, int64_t end) {
    layer_job *job = context;
    W4A16_TRY(w4a16_quantize_rows(job->weight, job->weight_dtype, job->min_zero, begin, end,
                                  job->unpacked));
    return w4a16_encoder_rows(&job->encoder, begin, end, NULL);
}

w4a16_status quantize_layer(int threads, const void *weight, w4a16_dtype weight_dtype, int64_t n,
                            int64_t k, int64_t group_size, int symmetric, w4a16_dtype scales_dtype,
                            w4a16_format format, const char *prefix, w4a16_tensor_list *out) {
    w4a16_unpacked w;
    W4A16_TRY(w4a16_quantize_begin(n, k, group_size, symmetric, scales_dtype, &w));
    layer_job job = {.weight = weight, .weight_dtype = weight_dtype,
                     .min_zero = w4a16_format_min_zero(format), .unpacked = &w};
    int64_t before = out->count;
    w4a16_status status = w4a16_encoder_begin(&w, format, prefix, out, &job.encoder);
    if (status == W4A16_OK)
        status = parallel_for(threads, n, LAYER_JOB_BLOCK_ROWS, quantize_block, &job);
    if (status != W4A16_OK) w4a16_tensor_list_truncate(out, before);
    w4a16_unpacked_free(&w);
    return status;
}

static w4a16_status convert_block(void *context, int64_t begin, int64_t end) {
    layer_job *job = context;
    w4a16_unpack_source_rows(job->src, begin, end, job->unpacked);
    return w4a16_encoder_rows(&job->encoder, begin, end, &job->block_change[block_index(begin)]);
}

w4a16_status convert_layer(int threads, const w4a16_source *src, w4a16_format format,
                           const char *prefix, w4a16_tensor_list *out, double *max_scale_change) {
    w4a16_unpacked w;
    W4A16_TRY(w4a16_unpack_source_begin(src, &w));
    int64_t blocks = (src->n + LAYER_JOB_BLOCK_ROWS - 1) / LAYER_JOB_BLOCK_ROWS;
    layer_job job = {.src = src, .unpacked = &w, .block_change = calloc((size_t)blocks, sizeof(double))};
    int64_t before = out->count;
    w4a16_status status = job.block_change != NULL
                              ? w4a16_encoder_begin(&w, format, prefix, out, &job.encoder)
                              : w4a16_fail(W4A16_ERR_NOMEM, "out of memory");
    if (status == W4A16_OK)
        status = parallel_for(threads, src->n, LAYER_JOB_BLOCK_ROWS, convert_block, &job);
    if (status != W4A16_OK) w4a16_tensor_list_truncate(out, before);
    double change = 0;
    for (int64_t b = 0; status == W4A16_OK && b < blocks; b++) change = fmax(change, job.block_change[b]);
    if (max_scale_change != NULL) *max_scale_change = change;
    free(job.block_change);
    w4a16_unpacked_free(&w);
    return status;
}

static w4a16_status dequantize_block(void *context, int64_t begin, int64_t end) {
    layer_job *job = context;
    w4a16_unpack_source_rows(job->src, begin, end, job->unpacked);
    int64_t row = dequantize_rows(job->unpacked, job->dense_dtype, begin, end, job->dense);
    W4A16_FAIL_IF(row >= 0, W4A16_ERR_UNSUPPORTED, "row %lld holds a weight beyond the range of %s",
                  (long long)row, w4a16_dtype_name(job->dense_dtype));
    return W4A16_OK;
}

w4a16_status dequantize_layer(int threads, const w4a16_source *src, w4a16_dtype dtype,
                              const char *prefix, w4a16_tensor_list *out) {
    w4a16_unpacked w;
    W4A16_TRY(w4a16_unpack_source_begin(src, &w));
    size_t element = (size_t)w4a16_dtype_bits(dtype) / 8;
    layer_job job = {.src = src, .unpacked = &w, .dense_dtype = dtype,
                     .dense = malloc((size_t)(src->n * src->k) * element)};
    w4a16_status status = job.dense != NULL
                              ? parallel_for(threads, src->n, LAYER_JOB_BLOCK_ROWS, dequantize_block, &job)
                              : w4a16_fail(W4A16_ERR_NOMEM, "out of memory for a %lldx%lld weight",
                                           (long long)src->n, (long long)src->k);
    w4a16_unpacked_free(&w);
    char name[4096];
    if (status == W4A16_OK && snprintf(name, sizeof name, "%s.weight", prefix) >= (int)sizeof name)
        status = w4a16_fail(W4A16_ERR_ARG, "layer name '%.200s' is too long", prefix);
    if (status != W4A16_OK) {
        free(job.dense);
        return status;
    }
    int64_t shape[2] = {src->n, src->k};
    return w4a16_tensor_list_add_owned(out, name, dtype, 2, shape, job.dense);
}
