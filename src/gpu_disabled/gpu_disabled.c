/* The GPU half of the API in a host-only build (sanitizer and fuzz builds):
 * every call runs the argument checks that need no device (so they are
 * exercised under the sanitizers too), then reports that the library was
 * built without CUDA. */
#include "common/error.h"
#include "packed/weight_view.h"

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

w4a16_status w4a16_ctx_create_with_workspace(int device, void *workspace, size_t bytes,
                                             w4a16_ctx **out) {
    (void)device, (void)workspace, (void)bytes, (void)out;
    return built_without_cuda("w4a16_ctx_create_with_workspace");
}

w4a16_status w4a16_ctx_set_workspace(w4a16_ctx *ctx, void *workspace, size_t bytes) {
    (void)ctx, (void)workspace, (void)bytes;
    return built_without_cuda("w4a16_ctx_set_workspace");
}

w4a16_status w4a16_ctx_set_kernel(w4a16_ctx *ctx, const char *name) {
    (void)ctx, (void)name;
    return built_without_cuda("w4a16_ctx_set_kernel");
}

w4a16_status w4a16_ctx_set_batch_invariant(w4a16_ctx *ctx, int on) {
    (void)ctx, (void)on;
    return built_without_cuda("w4a16_ctx_set_batch_invariant");
}

void w4a16_ctx_destroy(w4a16_ctx *ctx) { (void)ctx; }

w4a16_status w4a16_pack(w4a16_ctx *ctx, const w4a16_source *sources, int n_sources,
                        const w4a16_slice *slice, w4a16_dtype act_dtype, w4a16_weight *out,
                        w4a16_buffers **owner, w4a16_stream stream) {
    (void)ctx, (void)stream;
    w4a16_pack_plan plan;
    W4A16_TRY(w4a16_pack_check_args(sources, n_sources, slice, act_dtype, out, owner, &plan));
    return built_without_cuda("w4a16_pack");
}

/* No w4a16_buffers can exist without CUDA. */
void w4a16_buffers_free(w4a16_buffers *owner) { (void)owner; }

w4a16_status w4a16_gemm(w4a16_ctx *ctx, const w4a16_weight *w, const void *A, int64_t lda,
                        void *C, int64_t ldc, int64_t M, const void *bias, w4a16_stream stream) {
    (void)ctx, (void)A, (void)lda, (void)C, (void)ldc, (void)M, (void)bias, (void)stream;
    W4A16_TRY(w4a16_weight_check(w));
    return built_without_cuda("w4a16_gemm");
}

w4a16_status w4a16_workspace_size(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M,
                                  size_t *bytes) {
    (void)ctx, (void)M, (void)bytes;
    W4A16_TRY(w4a16_weight_check(w));
    return built_without_cuda("w4a16_workspace_size");
}

const char *w4a16_gemm_kernel_name(w4a16_ctx *ctx, const w4a16_weight *w, int64_t M) {
    (void)ctx, (void)w, (void)M;
    return "none";
}
