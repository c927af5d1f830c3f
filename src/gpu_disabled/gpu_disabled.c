/* The GPU half of the API in a host-only build (sanitizer and fuzz builds):
 * every call reports that the library was built without CUDA. */
#include "common/error.h"

static w4a16_status built_without_cuda(const char *function) {
    return w4a16_fail(W4A16_ERR_UNSUPPORTED, "%s: this build of w4a16 has no CUDA support",
                      function);
}

w4a16_status w4a16_device_count(int *count) {
    if (count == NULL) return w4a16_fail(W4A16_ERR_ARG, "count is NULL");
    *count = 0;
    return W4A16_OK;
}

w4a16_status w4a16_ctx_create(int device, size_t workspace_bytes, w4a16_ctx **out) {
    (void)device, (void)workspace_bytes, (void)out;
    return built_without_cuda("w4a16_ctx_create");
}

void w4a16_ctx_destroy(w4a16_ctx *ctx) { (void)ctx; }

w4a16_status w4a16_pack(w4a16_ctx *ctx, const w4a16_source *sources, int n_sources,
                        const w4a16_slice *slice, w4a16_dtype act_dtype, w4a16_weight *out,
                        w4a16_stream stream) {
    (void)ctx, (void)sources, (void)n_sources, (void)slice, (void)act_dtype, (void)out,
        (void)stream;
    return built_without_cuda("w4a16_pack");
}

void w4a16_weight_free(w4a16_weight *w) { (void)w; }

w4a16_status w4a16_gemm(w4a16_ctx *ctx, const w4a16_weight *w, const void *A, int64_t lda,
                        void *C, int64_t ldc, int64_t M, const void *bias, w4a16_stream stream) {
    (void)ctx, (void)w, (void)A, (void)lda, (void)C, (void)ldc, (void)M, (void)bias,
        (void)stream;
    return built_without_cuda("w4a16_gemm");
}

const char *w4a16_gemm_kernel_name(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M) {
    (void)ctx, (void)w, (void)M;
    return "none";
}
