/* A packed weight's buffers (see pack_output.h) and their owner handle. The
 * weight itself is a view: copying it copies pointers, and only the handle
 * frees, once. */
#include "gpu/pack_output.h"

#include <stdlib.h>

#include "gpu/cuda_check.h"

struct w4a16_buffers {
    void *qweight, *scales, *zeros, *perm;
};

void w4a16_buffers_free(w4a16_buffers *owner) {
    if (owner == NULL) return;
    /* cudaFree(NULL) is a no-op; cudaFree waits for work still using a buffer. */
    w4a16_cuda_cleanup(cudaFree(owner->qweight));
    w4a16_cuda_cleanup(cudaFree(owner->scales));
    w4a16_cuda_cleanup(cudaFree(owner->zeros));
    w4a16_cuda_cleanup(cudaFree(owner->perm));
    free(owner);
}

static w4a16_status allocate_buffers(const w4a16_pack_plan *plan, int permuted, w4a16_buffers *b) {
    const w4a16_pack_sizes *s = &plan->sizes;
    W4A16_TRY(w4a16_device_alloc(&b->qweight, s->qweight_bytes, "the packed qweight"));
    W4A16_TRY(w4a16_device_alloc(&b->scales, s->scales_bytes, "the packed scales"));
    if (plan->asymmetric)
        W4A16_TRY(w4a16_device_alloc(&b->zeros, s->zeros_bytes, "the packed zeros"));
    if (permuted)
        W4A16_TRY(w4a16_device_alloc(&b->perm, s->perm_bytes, "the act-order permutation"));
    return W4A16_OK;
}

w4a16_status w4a16_pack_output(const w4a16_pack_plan *plan, int permuted, const w4a16_weight *given,
                               int allocate, w4a16_weight *w, w4a16_buffers **made) {
    if (!allocate) {
        W4A16_FAIL_IF(permuted && given->perm == NULL, W4A16_ERR_ARG,
                      "out->perm is NULL but the weight is act-order (%zu bytes needed)",
                      plan->sizes.perm_bytes);
        w->qweight = given->qweight;
        w->qweight_bytes = given->qweight_bytes;
        w->scales = given->scales;
        w->scales_bytes = given->scales_bytes;
        w->zeros = plan->asymmetric ? given->zeros : NULL;
        w->zeros_bytes = plan->asymmetric ? given->zeros_bytes : 0;
        w->perm = permuted ? given->perm : NULL;
        w->perm_bytes = permuted ? given->perm_bytes : 0;
        return W4A16_OK;
    }
    w4a16_buffers *b = calloc(1, sizeof *b);
    W4A16_FAIL_IF(b == NULL, W4A16_ERR_NOMEM, "no memory for a w4a16_buffers handle");
    w4a16_status status = allocate_buffers(plan, permuted, b);
    if (status != W4A16_OK) {
        w4a16_buffers_free(b);
        return status;
    }
    w->qweight = b->qweight;
    w->qweight_bytes = plan->sizes.qweight_bytes;
    w->scales = b->scales;
    w->scales_bytes = plan->sizes.scales_bytes;
    w->zeros = b->zeros;
    w->zeros_bytes = plan->asymmetric ? plan->sizes.zeros_bytes : 0;
    w->perm = b->perm;
    w->perm_bytes = permuted ? plan->sizes.perm_bytes : 0;
    *made = b;
    return W4A16_OK;
}
