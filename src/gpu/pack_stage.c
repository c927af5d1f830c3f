/* Staging host sources for the pack kernels (see pack_stage.h). */
#include "gpu/pack_stage.h"

#include <string.h>

#include "gpu/cuda_check.h"

/* A 2-D box of a strided tensor: indices [a0, a0 + na) along n and
 * [b0, b0 + nb) along k (or g), in units of stored elements. */
typedef struct {
    int64_t a0, na, b0, nb;
} box;

static w4a16_status stage_alloc(w4a16_staging *staging, size_t bytes, cudaStream_t stream,
                                void **device) {
    W4A16_FAIL_IF(staging->count == (int)(sizeof staging->buffers / sizeof staging->buffers[0]),
                  W4A16_ERR_ARG, "too many staging buffers");
    CUDA_TRY(cudaMallocAsync(device, bytes, stream));
    staging->buffers[staging->count++] = *device;
    return W4A16_OK;
}

w4a16_status w4a16_stage_copy(w4a16_staging *staging, const void *host, size_t bytes,
                              cudaStream_t stream, void **device) {
    W4A16_TRY(stage_alloc(staging, bytes, stream, device));
    CUDA_TRY(cudaMemcpyAsync(*device, host, bytes, cudaMemcpyHostToDevice, stream));
    return W4A16_OK;
}

/* Copies a box of a host tensor (strides in elements) to the device. When one
 * axis is contiguous the copy is a compact 2-D copy and the strides change;
 * otherwise the whole span of the box is copied and the strides stay. */
static w4a16_status stage_box(w4a16_staging *staging, const void *host, size_t elem, box b,
                              int64_t *stride_a, int64_t *stride_b, cudaStream_t stream,
                              const void **device) {
    const char *base = (const char *)host + (b.a0 * *stride_a + b.b0 * *stride_b) * (int64_t)elem;
    void *dev = NULL;
    if (*stride_a == 1 && (b.nb == 1 || *stride_b >= b.na)) {
        const size_t width = (size_t)b.na * elem;
        const size_t pitch = b.nb == 1 ? width : (size_t)*stride_b * elem;
        W4A16_TRY(stage_alloc(staging, width * (size_t)b.nb, stream, &dev));
        CUDA_TRY(cudaMemcpy2DAsync(dev, width, base, pitch, width, (size_t)b.nb,
                                   cudaMemcpyHostToDevice, stream));
        *stride_b = b.na;
    } else if (*stride_b == 1 && (b.na == 1 || *stride_a >= b.nb)) {
        const size_t width = (size_t)b.nb * elem;
        const size_t pitch = b.na == 1 ? width : (size_t)*stride_a * elem;
        W4A16_TRY(stage_alloc(staging, width * (size_t)b.na, stream, &dev));
        CUDA_TRY(cudaMemcpy2DAsync(dev, width, base, pitch, width, (size_t)b.na,
                                   cudaMemcpyHostToDevice, stream));
        *stride_a = b.nb;
    } else {
        const size_t span = (size_t)((b.na - 1) * *stride_a + (b.nb - 1) * *stride_b + 1) * elem;
        W4A16_TRY(w4a16_stage_copy(staging, base, span, stream, &dev));
    }
    *device = dev;
    return W4A16_OK;
}

/* The word box of a 4-bit tensor holding elements [n0, n1) x [k0, k1), and the
 * element coordinates of its first word. */
static box word_box(const w4a16_qlayout *layout, int64_t n0, int64_t n1, int64_t k0, int64_t k1,
                    int64_t *origin_n, int64_t *origin_k) {
    box b;
    if (layout->packed_axis == W4A16_PACKED_ALONG_N) {
        b.a0 = n0 >> 3, b.na = ((n1 - 1) >> 3) + 1 - b.a0;
        b.b0 = k0, b.nb = k1 - k0;
        *origin_n = b.a0 * 8, *origin_k = k0;
    } else {
        b.a0 = n0, b.na = n1 - n0;
        b.b0 = k0 >> 3, b.nb = ((k1 - 1) >> 3) + 1 - b.b0;
        *origin_n = n0, *origin_k = b.b0 * 8;
    }
    return b;
}

static w4a16_status stage_source(const w4a16_pack_plan *plan, const w4a16_source *src,
                                 int64_t r0, int64_t r1, int64_t g_begin, int64_t g_end,
                                 cudaStream_t stream, w4a16_staging *staging,
                                 w4a16_pack_view *v) {
    const int64_t k0 = plan->k_begin, k1 = plan->k_begin + plan->k;
    box q = word_box(&src->qweight_layout, r0, r1, k0, k1, &v->qweight_n0, &v->qweight_k0);
    W4A16_TRY(stage_box(staging, src->qweight, 4, q, &v->qweight_layout.stride_n,
                        &v->qweight_layout.stride_k, stream, (const void **)&v->qweight));
    if (src->qzeros != NULL) {
        box z = word_box(&src->qzeros_layout, r0, r1, g_begin, g_end, &v->qzeros_n0, &v->qzeros_g0);
        W4A16_TRY(stage_box(staging, src->qzeros, 4, z, &v->qzeros_layout.stride_n,
                            &v->qzeros_layout.stride_k, stream, (const void **)&v->qzeros));
    }
    box s = {r0, r1 - r0, g_begin, g_end - g_begin};
    v->scales_n0 = r0, v->scales_g0 = g_begin;
    return stage_box(staging, src->scales, (size_t)(w4a16_dtype_bits(src->scales_dtype) / 8), s,
                     &v->scales_stride_n, &v->scales_stride_g, stream, &v->scales);
}

w4a16_status w4a16_stage_sources(const w4a16_pack_plan *plan, const w4a16_source *sources,
                                 int64_t g_begin, int64_t g_end, cudaStream_t stream,
                                 w4a16_staging *staging, w4a16_pack_args *args) {
    args->n_sources = 0;
    const int64_t slice_end = plan->n_begin + plan->n;
    for (int i = 0; i < plan->n_sources; i++) {
        const w4a16_source *src = &sources[i];
        const int64_t begin = plan->row_begin[i], end = begin + src->n;
        const int64_t lo = begin > plan->n_begin ? begin : plan->n_begin;
        const int64_t hi = end < slice_end ? end : slice_end;
        if (lo >= hi) continue; /* outside the slice */
        w4a16_pack_view *v = &args->src[args->n_sources++];
        memset(v, 0, sizeof *v);
        v->qweight = src->qweight;
        v->qweight_layout = src->qweight_layout;
        v->qzeros = src->qzeros;
        v->qzeros_layout = src->qzeros_layout;
        v->scales = src->scales;
        v->scales_stride_n = src->scales_stride_n;
        v->scales_stride_g = src->scales_stride_g;
        v->row_end = hi - plan->n_begin;
        v->row_shift = plan->n_begin - begin;
        if (!src->on_device)
            W4A16_TRY(stage_source(plan, src, lo - begin, hi - begin, g_begin, g_end, stream,
                                   staging, v));
    }
    return W4A16_OK;
}

void w4a16_stage_free(w4a16_staging *staging, cudaStream_t stream) {
    for (int i = 0; i < staging->count; i++)
        w4a16_cuda_cleanup(cudaFreeAsync(staging->buffers[i], stream));
    staging->count = 0;
}
