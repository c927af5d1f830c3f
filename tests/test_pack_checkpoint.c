/* w4a16_pack_checkpoint's checks, which come before any GPU work: the
 * checkpoint, the name list, each name (unknown, or a layer the checkpoint
 * left dense), each layer's shard, then w4a16_pack's own (the caller's buffers, a NULL ctx; in
 * a build without CUDA, that it has none). On every error the outputs are
 * left as they were. Packing
 * itself is checked on the GPU (tests/gpu/test_gpu_pack.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

static const char *CT_CONFIG =
    "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
    "\"pack-quantized\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], "
    "\"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": false, \"strategy\": "
    "\"group\", \"group_size\": 32, \"actorder\": null}}}, \"ignore\": [\"lm_head\"]}}";

/* What the outputs held before each call: a weight from w4a16_weight_init
 * with buffer pointers of the caller's, and an owner sentinel. */
static w4a16_weight before;
static w4a16_buffers *const OWNER_SENTINEL = (w4a16_buffers *)&before;

static void expect_refused(w4a16_status got, w4a16_status want, const char *needle,
                           const w4a16_weight *out, w4a16_buffers *const *owner) {
    assert_int_equal(got, want);
    test_expect_error_has(needle);
    assert_memory_equal(out, &before, sizeof before);
    assert_ptr_equal(*owner, OWNER_SENTINEL);
}

/* w4a16_pack_checkpoint with no ctx, F16 activations, the default stream. */
static w4a16_status pack_names(const w4a16_checkpoint *ckpt, const char *const *names, int n,
                               const w4a16_shard *shard, w4a16_weight *out,
                               w4a16_buffers **owner) {
    return w4a16_pack_checkpoint(NULL, ckpt, names, n, shard, NULL, W4A16_F16, out, owner, NULL);
}

static void test_pack_checkpoint_arguments(void **state) {
    (void)state;
    uint64_t rng = 41;
    test_layer q, k;
    test_layer_random(&q, W4A16_FORMAT_CT, 32, 64, 32, 1, 0, &rng);
    test_layer_random(&k, W4A16_FORMAT_CT, 16, 64, 32, 1, 0, &rng);
    test_ckpt c = {0};
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.0.self_attn.q_proj", &q);
    test_ckpt_add_layer(&c, W4A16_FORMAT_CT, "model.layers.0.self_attn.k_proj", &k);
    test_ckpt_add_dense(&c, "lm_head.weight", 16, 64, &rng);
    const char *dir = test_scratch_dir("pack_checkpoint_arguments");
    test_ckpt_write_folder(&c, dir, CT_CONFIG);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);

    w4a16_weight_init(&before);
    before.qweight = &rng; /* never dereferenced: packing is refused before */
    w4a16_weight out = before;
    w4a16_buffers *owner = OWNER_SENTINEL;
    const char *qk[] = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"};
    const char *unknown[] = {qk[0], "model.layers.0.self_attn.o_proj"};
    const char *dense[] = {"lm_head"};
    const char *missing[] = {qk[0], NULL};
    expect_refused(pack_names(NULL, qk, 2, NULL, &out, &owner), W4A16_ERR_ARG, "ckpt is NULL",
                   &out, &owner);
    expect_refused(pack_names(ckpt, NULL, 2, NULL, &out, &owner), W4A16_ERR_ARG,
                   "layer_names is NULL", &out, &owner);
    expect_refused(pack_names(ckpt, qk, 0, NULL, &out, &owner), W4A16_ERR_ARG, "n_layers=0",
                   &out, &owner);
    expect_refused(pack_names(ckpt, qk, W4A16_PACK_MAX_SOURCES + 1, NULL, &out, &owner),
                   W4A16_ERR_ARG, "n_layers=9", &out, &owner);
    expect_refused(pack_names(ckpt, missing, 2, NULL, &out, &owner), W4A16_ERR_ARG,
                   "layer_names[1] is NULL", &out, &owner);
    expect_refused(pack_names(ckpt, unknown, 2, NULL, &out, &owner), W4A16_ERR_ARG,
                   "layer_names[1]='model.layers.0.self_attn.o_proj'", &out, &owner);
    expect_refused(pack_names(ckpt, dense, 1, NULL, &out, &owner), W4A16_ERR_ARG,
                   "not quantized", &out, &owner);
    /* A shard a layer cannot take names the layer and the rule: k_proj's 16
     * rows in 4 ranks are 4 a rank, half a word of its zeros. */
    w4a16_shard bad_world = {0, 0, W4A16_COLUMN_PARALLEL}, quarter = {1, 4, W4A16_COLUMN_PARALLEL};
    expect_refused(pack_names(ckpt, qk, 2, &bad_world, &out, &owner), W4A16_ERR_ARG,
                   "layer_names[0]='model.layers.0.self_attn.q_proj': shard world=0", &out,
                   &owner);
    expect_refused(pack_names(ckpt, qk, 2, &quarter, &out, &owner), W4A16_ERR_SHAPE,
                   "layer_names[1]='model.layers.0.self_attn.k_proj': column-parallel shard, "
                   "rank 1 of 4: a rank's part is 4 rows, not a multiple of 8, and qzeros "
                   "holds 8 rows in a word", &out, &owner);
    /* Valid names: w4a16_pack's turn, which checks out first (no owner: the
     * caller's buffers, and this qweight is not 16-byte aligned). */
    before.qweight = (char *)&rng + 1;
    out = before;
    expect_refused(pack_names(ckpt, qk, 2, NULL, &out, NULL), W4A16_ERR_ARG, "out->qweight=",
                   &out, &owner);
    w4a16_shard half = {1, 2, W4A16_ROW_PARALLEL};
    for (int sharded = 0; sharded <= 1; sharded++) {
        w4a16_status status = pack_names(ckpt, qk, 2, sharded ? &half : NULL, &out, &owner);
        if (status == W4A16_ERR_ARG)
            expect_refused(status, W4A16_ERR_ARG, "ctx is NULL", &out, &owner);
        else
            expect_refused(status, W4A16_ERR_UNSUPPORTED, "no CUDA support", &out, &owner);
    }

    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
    test_layer_free(&q);
    test_layer_free(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pack_checkpoint_arguments)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
