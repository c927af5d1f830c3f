/* w4a16_pack_checkpoint: checkpoint layers by name (each sharded for a
 * tensor-parallel rank when asked) -> w4a16_pack. Host code over the public
 * API, so it is in every build (without CUDA, w4a16_pack says so). */
#include "common/error.h"

w4a16_status w4a16_pack_checkpoint(w4a16_ctx *ctx, const w4a16_checkpoint *ckpt,
                                   const char *const *layer_names, int n_layers,
                                   const w4a16_shard *shard, const w4a16_slice *slice,
                                   w4a16_dtype act_dtype, w4a16_weight *out,
                                   w4a16_buffers **owner, w4a16_stream stream) {
    W4A16_FAIL_IF(ckpt == NULL, W4A16_ERR_ARG, "ckpt is NULL");
    W4A16_FAIL_IF(layer_names == NULL, W4A16_ERR_ARG, "layer_names is NULL");
    W4A16_FAIL_IF(n_layers < 1 || n_layers > W4A16_PACK_MAX_SOURCES, W4A16_ERR_ARG,
                  "n_layers=%d is outside 1..%d", n_layers, W4A16_PACK_MAX_SOURCES);
    w4a16_source sources[W4A16_PACK_MAX_SOURCES];
    for (int i = 0; i < n_layers; i++) {
        W4A16_FAIL_IF(layer_names[i] == NULL, W4A16_ERR_ARG, "layer_names[%d] is NULL", i);
        int64_t index = -1;
        w4a16_status status = w4a16_checkpoint_find_layer(ckpt, layer_names[i], &index);
        if (status == W4A16_OK) status = w4a16_checkpoint_source(ckpt, index, &sources[i]);
        if (status == W4A16_OK && shard != NULL)
            status = w4a16_source_shard(&sources[i], shard, &sources[i]);
        if (status != W4A16_OK)
            return w4a16_fail_context(status, "layer_names[%d]='%s'", i, layer_names[i]);
    }
    return w4a16_pack(ctx, sources, n_layers, slice, act_dtype, out, owner, stream);
}
