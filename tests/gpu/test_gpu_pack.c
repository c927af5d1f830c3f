/* w4a16_pack on the GPU: every element of the packed weight read back on the
 * host (src/packed/packed_unpack.h) and compared with the sources through
 * their layouts; padding; merged sources, slices, act-order; host and device
 * sources; caller-owned buffers; checkpoint layers by name, whole and as
 * tensor-parallel shards; errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "checkpoint/source.h"
#include "checkpoint_builder.h"
#include "gpu_support.h"
#include "packed/packed_unpack.h"
#include "test_support.h"

typedef struct {
    w4a16_weight header;
    uint32_t *qweight;
    void *scales;
    uint8_t *zeros;
    int32_t *perm;
} packed_copy;

static void download(const w4a16_weight *w, packed_copy *out) {
    w4a16_pack_sizes sizes = {
        (size_t)(w->n_padded * w->k_padded / 2),
        (size_t)(w->groups_padded * w->n_padded * (w4a16_dtype_bits(w->scales_dtype) / 8)),
        w->zeros ? (size_t)(w->groups_padded * w->n_padded) : 0,
        w->perm ? (size_t)w->k * 4 : 0};
    out->header = *w;
    out->qweight = malloc(sizes.qweight_bytes);
    out->scales = malloc(sizes.scales_bytes);
    out->zeros = w->zeros ? malloc(sizes.zeros_bytes) : NULL;
    out->perm = w->perm ? malloc(sizes.perm_bytes) : NULL;
    gpu_download(out->qweight, w->qweight, sizes.qweight_bytes);
    gpu_download(out->scales, w->scales, sizes.scales_bytes);
    if (w->zeros) gpu_download(out->zeros, w->zeros, sizes.zeros_bytes);
    if (w->perm) gpu_download(out->perm, w->perm, sizes.perm_bytes);
}

static void copy_free(packed_copy *c) {
    free(c->qweight);
    free(c->scales);
    free(c->zeros);
    free(c->perm);
}

/* Source and row of packed row r. */
static const w4a16_source *source_row(const w4a16_source *sources, int n_sources,
                                      int64_t concat_row, int64_t *row) {
    for (int i = 0; i < n_sources; i++) {
        if (concat_row < sources[i].n) {
            *row = concat_row;
            return &sources[i];
        }
        concat_row -= sources[i].n;
    }
    fail_msg("row outside the sources");
    return NULL;
}

/* Compares the packed weight with host sources (concatenated, then sliced). */
static void check_packed(const w4a16_weight *w, const w4a16_source *sources, int n_sources,
                         const w4a16_slice *slice, const char *what) {
    packed_copy c;
    download(w, &c);
    w4a16_packed_host p = {&c.header, c.qweight, c.scales, c.zeros};
    const int64_t n_begin = slice ? slice->n_begin : 0, k_begin = slice ? slice->k_begin : 0;
    const int64_t group_cols = w->group_size < 0 ? w->k : w->group_size;
    const int64_t source_group_cols = sources[0].group_size < 0 ? sources[0].k : sources[0].group_size;
    assert_int_equal(w->version, W4A16_PACKED_VERSION);
    if (c.perm) /* a stable sort by group: groups nondecreasing, G columns each */
        for (int64_t j = 1; j < w->k; j++)
            assert_true(sources[0].g_idx[k_begin + c.perm[j - 1]] <=
                        sources[0].g_idx[k_begin + c.perm[j]]);
    int64_t mismatches = 0;
    for (int64_t r = 0; r < w->n_padded; r++) {
        int64_t sr = 0;
        const w4a16_source *src = r < w->n ? source_row(sources, n_sources, n_begin + r, &sr) : NULL;
        for (int64_t j = 0; j < w->k_padded; j++) {
            int32_t want = 8;
            if (src && j < w->k)
                want = w4a16_source_q(src, sr, k_begin + (c.perm ? c.perm[j] : j));
            if (w4a16_packed_q(&p, r, j) != want && mismatches++ < 5)
                print_error("%s: q[%lld][%lld] = %d, want %d\n", what, (long long)r, (long long)j,
                            w4a16_packed_q(&p, r, j), want);
        }
        for (int64_t g = 0; g < w->groups_padded; g++) {
            double want_scale = 0;
            int32_t want_zero = 8;
            if (src && g < w->groups) {
                int64_t first = k_begin + (c.perm ? c.perm[g * group_cols] : g * group_cols);
                int64_t sg = w4a16_source_group_of(src, first);
                if (!c.perm) sg = first / source_group_cols;
                want_scale = w4a16_source_scale(src, sr, sg);
                want_zero = w4a16_source_zero(src, sr, sg);
            }
            if ((w4a16_packed_scale(&p, r, g) != want_scale ||
                 (c.zeros && w4a16_packed_zero(&p, r, g) != want_zero)) &&
                mismatches++ < 5)
                print_error("%s: row %lld group %lld: s %g z %d, want s %g z %d\n", what,
                            (long long)r, (long long)g, w4a16_packed_scale(&p, r, g),
                            w4a16_packed_zero(&p, r, g), want_scale, want_zero);
        }
    }
    copy_free(&c);
    if (mismatches) fail_msg("%s: %lld mismatches", what, (long long)mismatches);
}

static void pack_and_check(w4a16_ctx *ctx, const gpu_weight_spec *spec, int from_device) {
    gpu_weight w;
    gpu_weight_make(spec, 0x5eed + (uint64_t)spec->n * 31 + (uint64_t)spec->format, &w);
    w4a16_source device = from_device ? gpu_source_upload(&w) : w.src;
    w4a16_weight packed;
    w4a16_weight_init(&packed);
    w4a16_buffers *packed_owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, &device, 1, NULL, W4A16_F16, &packed, &packed_owner, NULL));
    CUDA_CHECK(cudaDeviceSynchronize());
    char what[200];
    snprintf(what, sizeof what, "%s from %s", gpu_weight_describe(spec), from_device ? "device" : "host");
    assert_non_null(packed_owner);
    assert_int_equal(packed.perm != NULL, spec->act_order && spec->group_size > 0);
    assert_int_equal(packed.zeros != NULL, spec->asymmetric);
    check_packed(&packed, &w.src, 1, NULL, what);
    w4a16_buffers_free(packed_owner);
    if (from_device) gpu_source_free(&device);
    gpu_weight_free(&w);
}

/* Every format, sym/asym, scales dtype, act-order, group size; host and device. */
static void test_pack_every_format(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                    W4A16_FORMAT_CT};
    const w4a16_dtype scale_types[] = {W4A16_F16, W4A16_BF16, W4A16_F32};
    const int64_t shapes[][3] = {{72, 96, 32}, {72, 96, -1}, {200, 256, 64}, {136, 384, 128}};
    int config = 0;
    for (int f = 0; f < 4; f++)
        for (int s = 0; s < 4; s++)
            for (int asym = 0; asym < 2; asym++)
                for (int act = 0; act < 2; act++, config++) {
                    if (act && (formats[f] == W4A16_FORMAT_AWQ || shapes[s][2] < 0)) continue;
                    gpu_weight_spec spec = {formats[f], shapes[s][0], shapes[s][1], shapes[s][2],
                                            asym, act, scale_types[config % 3]};
                    pack_and_check(ctx, &spec, config % 2);
                }
    w4a16_ctx_destroy(ctx);
}

/* Three sources whose row counts cut through 16-row tiles, then a slice. */
static void test_pack_merged_and_sliced(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const int64_t rows[3] = {40, 24, 72};
    const w4a16_slice slices[] = {{0, 136, 0, 128}, {13, 121, 32, 96}, {64, 88, 96, 128}};
    for (int from_device = 0; from_device < 2; from_device++)
        for (int asym = 0; asym < 2; asym++) {
            gpu_weight parts[3];
            w4a16_source host[3], used[3];
            for (int i = 0; i < 3; i++) {
                gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, rows[i], 128, 32, asym && i != 1, 0,
                                        W4A16_F16};
                gpu_weight_make(&spec, 77 + (uint64_t)i, &parts[i]);
                host[i] = parts[i].src;
                used[i] = from_device ? gpu_source_upload(&parts[i]) : host[i];
            }
            for (size_t s = 0; s < sizeof slices / sizeof slices[0]; s++) {
                w4a16_weight packed;
                w4a16_weight_init(&packed);
                w4a16_buffers *packed_owner = NULL;
                W4A16_CHECK(w4a16_pack(ctx, used, 3, &slices[s], W4A16_BF16, &packed,
                                       &packed_owner, NULL));
                assert_int_equal(packed.n, slices[s].n_end - slices[s].n_begin);
                assert_int_equal(packed.k, slices[s].k_end - slices[s].k_begin);
                assert_int_equal(packed.act_dtype, W4A16_BF16);
                char what[96];
                snprintf(what, sizeof what, "merged slice %zu %s asym=%d", s,
                         from_device ? "device" : "host", asym);
                check_packed(&packed, host, 3, &slices[s], what);
                w4a16_buffers_free(packed_owner);
            }
            for (int i = 0; i < 3; i++) {
                if (from_device) gpu_source_free(&used[i]);
                gpu_weight_free(&parts[i]);
            }
        }
    w4a16_ctx_destroy(ctx);
}

/* A K-slice of an act-order weight packs when each group it touches is whole. */
static void test_pack_act_order_slice(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 64, 256, 32, 1, 1, W4A16_F16};
    gpu_weight w;
    gpu_weight_make(&spec, 99, &w);
    /* Groups 5, 2, 7, 0 interleaved in columns 0..127, groups 1, 3, 4, 6 in 128..255. */
    const int32_t low[4] = {5, 2, 7, 0}, high[4] = {1, 3, 4, 6};
    for (int j = 0; j < 128; j++) {
        w.g_idx[j] = low[j % 4];
        w.g_idx[128 + j] = high[(j / 2) % 4];
    }
    for (int from_device = 0; from_device < 2; from_device++) {
        w4a16_source used = from_device ? gpu_source_upload(&w) : w.src;
        for (int half = 0; half < 2; half++) {
            w4a16_slice slice = {0, 64, 128 * half, 128 * half + 128};
            w4a16_weight packed;
            w4a16_weight_init(&packed);
            w4a16_buffers *packed_owner = NULL;
            W4A16_CHECK(w4a16_pack(ctx, &used, 1, &slice, W4A16_F16, &packed, &packed_owner, NULL));
            assert_non_null(packed.perm);
            assert_int_equal(packed.groups, 4);
            check_packed(&packed, &w.src, 1, &slice, "act-order K-slice");
            w4a16_buffers_free(packed_owner);
        }
        w4a16_slice bad = {0, 64, 64, 192};
        w4a16_weight packed;
        w4a16_weight_init(&packed);
        w4a16_buffers *packed_owner = NULL;
        assert_int_equal(w4a16_pack(ctx, &used, 1, &bad, W4A16_F16, &packed, &packed_owner, NULL),
                         W4A16_ERR_UNSUPPORTED);
        assert_non_null(strstr(w4a16_last_error(), "g_idx"));
        assert_null(packed.qweight);
        if (from_device) gpu_source_free(&used);
    }
    gpu_weight_free(&w);
    w4a16_ctx_destroy(ctx);
}

/* Packing into the caller's buffers gives the same bytes as the library's. */
static void test_pack_caller_buffers(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_CT, 100, 192, 64, 1, 1, W4A16_BF16};
    gpu_weight w;
    gpu_weight_make(&spec, 5, &w);
    w4a16_pack_sizes sizes;
    W4A16_CHECK(w4a16_pack_size(&w.src, 1, NULL, &sizes));
    w4a16_weight mine;
    w4a16_weight_init(&mine);
    mine.qweight = gpu_alloc(sizes.qweight_bytes);
    mine.qweight_bytes = sizes.qweight_bytes;
    mine.scales = gpu_alloc(sizes.scales_bytes);
    mine.scales_bytes = sizes.scales_bytes;
    gpu_poison(mine.qweight, sizes.qweight_bytes);
    gpu_poison(mine.scales, sizes.scales_bytes);
    /* Missing zeros: an error naming them; neither the buffers nor the header change. */
    w4a16_weight before = mine;
    assert_int_equal(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &mine, NULL, NULL), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "out->zeros is NULL"));
    assert_memory_equal(&before, &mine, sizeof mine);
    mine.zeros = gpu_alloc(sizes.zeros_bytes);
    mine.zeros_bytes = sizes.zeros_bytes;
    mine.perm = gpu_alloc(sizes.perm_bytes);
    mine.perm_bytes = sizes.perm_bytes;
    gpu_poison(mine.zeros, sizes.zeros_bytes);
    gpu_poison(mine.perm, sizes.perm_bytes);
    /* A g_idx whose group 0 holds G + 1 columns (and the last G - 1): refused
     * before anything is written. */
    int64_t moved = 0;
    while (w.g_idx[moved] != (int32_t)(spec.k / spec.group_size - 1)) moved++;
    const int32_t moved_group = w.g_idx[moved];
    w.g_idx[moved] = 0;
    before = mine;
    assert_int_equal(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &mine, NULL, NULL),
                     W4A16_ERR_UNSUPPORTED);
    assert_non_null(strstr(w4a16_last_error(), "g_idx"));
    assert_memory_equal(&before, &mine, sizeof mine);
    w.g_idx[moved] = moved_group;
    CUDA_CHECK(cudaDeviceSynchronize());
    assert_int_equal(gpu_count_written(mine.qweight, (int64_t)sizes.qweight_bytes / 2), 0);
    assert_int_equal(gpu_count_written(mine.scales, (int64_t)sizes.scales_bytes / 2), 0);
    assert_int_equal(gpu_count_written(mine.zeros, (int64_t)sizes.zeros_bytes / 2), 0);
    assert_int_equal(gpu_count_written(mine.perm, (int64_t)sizes.perm_bytes / 2), 0);
    void *given[4] = {mine.qweight, mine.scales, mine.zeros, mine.perm};
    W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &mine, NULL, NULL));
    assert_ptr_equal(mine.qweight, given[0]);
    assert_int_equal(mine.perm_bytes, sizes.perm_bytes);
    w4a16_weight owned;
    w4a16_weight_init(&owned);
    w4a16_buffers *owner = NULL;
    W4A16_CHECK(w4a16_pack(ctx, &w.src, 1, NULL, W4A16_F16, &owned, &owner, NULL));
    assert_non_null(owner);
    assert_int_equal(owned.qweight_bytes, sizes.qweight_bytes);
    assert_int_equal(owned.zeros_bytes, sizes.zeros_bytes);
    packed_copy a, b;
    download(&mine, &a);
    download(&owned, &b);
    assert_memory_equal(a.qweight, b.qweight, sizes.qweight_bytes);
    assert_memory_equal(a.scales, b.scales, sizes.scales_bytes);
    assert_memory_equal(a.zeros, b.zeros, sizes.zeros_bytes);
    assert_memory_equal(a.perm, b.perm, sizes.perm_bytes);
    copy_free(&a);
    copy_free(&b);
    for (int i = 0; i < 4; i++) CUDA_CHECK(cudaFree(given[i]));
    w4a16_buffers_free(owner);
    gpu_weight_free(&w);
    w4a16_ctx_destroy(ctx);
}

/* q|k|v of a compressed-tensors checkpoint on disk, by name, merged and
 * sliced: the same packed weight as w4a16_pack of the layers' sources. */
static void test_pack_checkpoint_layers(void **state) {
    (void)state;
    GPU_REQUIRED();
    uint64_t rng = 17;
    const char *names[3] = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                            "model.layers.0.self_attn.v_proj"};
    const int64_t rows[3] = {40, 24, 24};
    test_layer layers[3];
    test_ckpt c = {0};
    for (int i = 0; i < 3; i++) {
        test_layer_random(&layers[i], W4A16_FORMAT_CT, rows[i], 128, 32, 1, 0, &rng);
        test_ckpt_add_layer(&c, W4A16_FORMAT_CT, names[i], &layers[i]);
    }
    const char *dir = test_scratch_dir("gpu_pack_checkpoint");
    test_ckpt_write_folder(
        &c, dir,
        "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"format\": "
        "\"pack-quantized\", \"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], "
        "\"weights\": {\"num_bits\": 4, \"type\": \"int\", \"symmetric\": false, "
        "\"strategy\": \"group\", \"group_size\": 32, \"actorder\": null}}}}}");
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    w4a16_source sources[3];
    for (int i = 0; i < 3; i++) test_source_of(ckpt, names[i], &sources[i]);

    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    const w4a16_slice slice = {8, 80, 32, 128};
    w4a16_weight by_name, by_source;
    w4a16_weight_init(&by_name);
    w4a16_weight_init(&by_source);
    w4a16_buffers *by_name_owner = NULL, *by_source_owner = NULL;
    W4A16_CHECK(w4a16_pack_checkpoint(ctx, ckpt, names, 3, NULL, &slice, W4A16_BF16, &by_name,
                                      &by_name_owner, NULL));
    W4A16_CHECK(w4a16_pack(ctx, sources, 3, &slice, W4A16_BF16, &by_source, &by_source_owner,
                           NULL));
    check_packed(&by_name, sources, 3, &slice, "q|k|v by name");
    packed_copy a, b;
    download(&by_name, &a);
    download(&by_source, &b);
    assert_memory_equal(a.qweight, b.qweight, (size_t)(by_name.n_padded * by_name.k_padded / 2));
    assert_memory_equal(a.scales, b.scales, (size_t)(by_name.groups_padded * by_name.n_padded * 2));
    assert_memory_equal(a.zeros, b.zeros, (size_t)(by_name.groups_padded * by_name.n_padded));
    copy_free(&a);
    copy_free(&b);

    const char *wrong[2] = {names[0], "model.layers.0.self_attn.qkv_proj"};
    w4a16_weight out;
    w4a16_weight_init(&out);
    w4a16_buffers *out_owner = NULL;
    assert_int_equal(
        w4a16_pack_checkpoint(ctx, ckpt, wrong, 2, NULL, NULL, W4A16_F16, &out, &out_owner, NULL),
        W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "qkv_proj"));
    assert_null(out.qweight);
    assert_null(out_owner);

    w4a16_buffers_free(by_name_owner);
    w4a16_buffers_free(by_source_owner);
    w4a16_ctx_destroy(ctx);
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
    for (int i = 0; i < 3; i++) test_layer_free(&layers[i]);
}

/* Tensor-parallel ranks of an AWQ checkpoint by name: a column shard of
 * q|k|v packs q_r|k_r|v_r, a row shard of o_proj its K range, each exactly
 * the rank's part of the sources (staged from the moved pointers alone). */
static void test_pack_checkpoint_shards(void **state) {
    (void)state;
    GPU_REQUIRED();
    uint64_t rng = 23;
    const char *names[4] = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                            "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj"};
    const int64_t rows[4] = {64, 32, 32, 48};
    test_layer layers[4];
    test_ckpt c = {0};
    for (int i = 0; i < 4; i++) {
        test_layer_random(&layers[i], W4A16_FORMAT_AWQ, rows[i], 256, 64, 1, 0, &rng);
        test_ckpt_add_layer(&c, W4A16_FORMAT_AWQ, names[i], &layers[i]);
    }
    const char *dir = test_scratch_dir("gpu_pack_checkpoint_shards");
    test_ckpt_write_folder(&c, dir,
                           "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
                           "\"group_size\": 64, \"zero_point\": true, \"version\": \"gemm\"}}");
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    for (int world = 2; world <= 4; world += 2)
        for (int rank = 0; rank < world; rank++)
            for (int row = 0; row <= 1; row++) {
                w4a16_shard shard = {rank, world,
                                     row ? W4A16_ROW_PARALLEL : W4A16_COLUMN_PARALLEL};
                const char *const *picked = row ? &names[3] : names;
                int count = row ? 1 : 3;
                w4a16_source parts[3];
                for (int i = 0; i < count; i++) {
                    test_source_of(ckpt, picked[i], &parts[i]);
                    W4A16_CHECK(w4a16_source_shard(&parts[i], &shard, &parts[i]));
                }
                w4a16_weight w;
                w4a16_weight_init(&w);
                w4a16_buffers *owner = NULL;
                W4A16_CHECK(w4a16_pack_checkpoint(ctx, ckpt, picked, count, &shard, NULL,
                                                  W4A16_F16, &w, &owner, NULL));
                assert_int_equal(w.n, row ? 48 : 128 / world);
                assert_int_equal(w.k, row ? 256 / world : 256);
                check_packed(&w, parts, count, NULL,
                             row ? "o_proj row shard" : "q|k|v column shard");
                w4a16_buffers_free(owner);
            }
    w4a16_ctx_destroy(ctx);
    w4a16_checkpoint_close(ckpt);
    test_ckpt_free(&c);
    for (int i = 0; i < 4; i++) test_layer_free(&layers[i]);
}

static void test_pack_errors(void **state) {
    (void)state;
    GPU_REQUIRED();
    w4a16_ctx *ctx = NULL;
    W4A16_CHECK(w4a16_ctx_create(0, 0, &ctx));
    gpu_weight_spec spec = {W4A16_FORMAT_GPTQ, 64, 128, 32, 0, 1, W4A16_F16};
    gpu_weight a, b;
    gpu_weight_make(&spec, 1, &a);
    gpu_weight_make(&spec, 2, &b);
    w4a16_source both[2] = {a.src, b.src};
    w4a16_weight out;
    w4a16_weight_init(&out);
    w4a16_buffers *out_owner = NULL;
    assert_int_equal(w4a16_pack(ctx, both, 2, NULL, W4A16_F16, &out, &out_owner, NULL),
                     W4A16_ERR_UNSUPPORTED);
    assert_non_null(strstr(w4a16_last_error(), "g_idx"));
    assert_int_equal(w4a16_pack(ctx, both, 1, NULL, W4A16_F32, &out, &out_owner, NULL),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_pack(NULL, both, 1, NULL, W4A16_F16, &out, &out_owner, NULL),
                     W4A16_ERR_ARG);
    assert_int_equal(w4a16_pack(ctx, both, 1, NULL, W4A16_F16, NULL, &out_owner, NULL),
                     W4A16_ERR_ARG);
    assert_null(out.qweight);
    assert_null(out_owner);
    gpu_weight_free(&a);
    gpu_weight_free(&b);
    w4a16_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_every_format),
        cmocka_unit_test(test_pack_merged_and_sliced),
        cmocka_unit_test(test_pack_act_order_slice),
        cmocka_unit_test(test_pack_caller_buffers),
        cmocka_unit_test(test_pack_checkpoint_layers),
        cmocka_unit_test(test_pack_checkpoint_shards),
        cmocka_unit_test(test_pack_errors),
    };
    return gpu_tests_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
