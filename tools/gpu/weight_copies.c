/* Weight copies past the L2 and the GEMM calls that cycle through them. */
#ifdef W4A16_WITH_CUDA
#include "weight_copies.h"

#include <string.h>

#include "bench_timing.h"
#include "gpu_tool.h"

static int copies_for(size_t bytes, size_t l2_bytes) {
    int copies = copies_past_l2(bytes, l2_bytes);
    return copies > WEIGHT_COPIES_MAX ? WEIGHT_COPIES_MAX : copies;
}

int weight_copies_pack(weight_copies *w, w4a16_ctx *ctx, const w4a16_source *source,
                       w4a16_dtype dtype, size_t l2_bytes, cudaStream_t stream) {
    w->n = source->n, w->k = source->k, w->dtype = dtype;
    w4a16_pack_sizes sizes;
    if (!W4A16_OK_CALL(w4a16_pack_size(source, 1, NULL, &sizes))) return 0;
    w->packed_bytes = (double)(sizes.qweight_bytes + sizes.scales_bytes + sizes.zeros_bytes);
    int copies = copies_for((size_t)w->packed_bytes, l2_bytes);
    for (; w->n_packed < copies; w->n_packed++) {
        w4a16_weight_init(&w->packed[w->n_packed]);
        if (!W4A16_OK_CALL(w4a16_pack(ctx, source, 1, NULL, dtype, &w->packed[w->n_packed],
                                      &w->packed_owner[w->n_packed], stream)))
            return 0;
    }
    return CUDA_OK(cudaStreamSynchronize(stream));
}

int weight_copies_dense(weight_copies *w, const uint16_t *host, size_t l2_bytes) {
    size_t bytes = (size_t)(w->n * w->k) * 2;
    int copies = copies_for(bytes, l2_bytes);
    for (; w->n_dense < copies; w->n_dense++) {
        void *copy = gpu_tool_alloc(bytes, "dense weight copies");
        if (copy == NULL) return 0;
        w->dense[w->n_dense] = copy;
        int ok = w->n_dense == 0
                     ? gpu_tool_upload(copy, host, bytes)
                     : CUDA_OK(cudaMemcpy(copy, w->dense[0], bytes, cudaMemcpyDeviceToDevice));
        if (!ok) {
            w->n_dense++;
            return 0;
        }
    }
    return 1;
}

void weight_copies_free(weight_copies *w) {
    for (int i = 0; i < w->n_packed; i++) w4a16_buffers_free(w->packed_owner[i]);
    for (int i = 0; i < w->n_dense; i++) cudaFree(w->dense[i]);
    w->n_packed = w->n_dense = 0;
}

static w4a16_status packed_call(const gemm_call *g, int call, cudaStream_t stream) {
    const weight_copies *w = g->w;
    return w4a16_gemm(g->ctx, &w->packed[call % w->n_packed], g->A, w->k, g->C, w->n, g->m,
                      NULL, stream);
}

int gemm_call_packed(void *call_args, int call, cudaStream_t stream) {
    return gpu_tool_w4a16_ok(packed_call(call_args, call, stream), "w4a16_gemm");
}

w4a16_status gemm_call_try(const gemm_call *g, cudaStream_t stream) {
    return packed_call(g, 0, stream);
}

int gemm_call_dense(void *call_args, int call, cudaStream_t stream) {
    (void)stream; /* the handle is bound to it */
    const gemm_call *g = call_args;
    const weight_copies *w = g->w;
    return dense_gemm_run(g->cublas, w->dtype, g->A, w->k, w->dense[call % w->n_dense], w->n, w->k,
                          g->C, w->n, g->m);
}
#endif
