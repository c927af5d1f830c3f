/* w4a16_source_shard: every format's rank parts hold exactly the rank's
 * rows (column-parallel) or columns (row-parallel) of the layer's weight;
 * run through the fp64 reference, the ranks' outputs concatenate (column)
 * or add up (row, bias on rank 0) to the whole layer's, merged q|k|v
 * included; and every split a format cannot take is refused by name, with
 * the output untouched. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "quantize/encode.h"
#include "quantize/quantize.h"
#include "quantize/unpacked.h"
#include "test_support.h"

static const w4a16_format FORMATS[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ, W4A16_FORMAT_GPTQ_V2,
                                       W4A16_FORMAT_CT};

/* A random layer quantized by the library, encoded in a format and read
 * back as that format's reader would (w4a16_encoded_source). */
typedef struct {
    w4a16_unpacked w;
    w4a16_tensor_list list;
    w4a16_source src;
} layer;

/* act_order: each group keeps G columns, shuffled over K as GPTQ's
 * desc_act leaves them. */
static void layer_make(layer *l, w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                       int symmetric, int act_order, uint64_t *rng) {
    memset(l, 0, sizeof *l);
    uint16_t *dense = malloc((size_t)(n * k) * sizeof *dense);
    assert_non_null(dense);
    test_fill_random(dense, W4A16_F16, n * k, -0.3, 0.2, rng);
    assert_int_equal(w4a16_quantize_min_zero(dense, W4A16_F16, n, k, group_size, symmetric,
                                             W4A16_F16, w4a16_format_min_zero(format), &l->w),
                     W4A16_OK);
    free(dense);
    if (act_order) {
        l->w.g_idx = malloc((size_t)k * sizeof *l->w.g_idx);
        assert_non_null(l->w.g_idx);
        for (int64_t c = 0; c < k; c++) l->w.g_idx[c] = (int32_t)(c / group_size);
        for (int64_t c = k - 1; c > 0; c--) {
            int64_t j = (int64_t)(test_rng_next(rng) % (uint64_t)(c + 1));
            int32_t swap = l->w.g_idx[c];
            l->w.g_idx[c] = l->w.g_idx[j];
            l->w.g_idx[j] = swap;
        }
    }
    assert_int_equal(w4a16_encode(&l->w, format, "l", &l->list, NULL), W4A16_OK);
    assert_int_equal(w4a16_encoded_source(&l->list, format, "l", n, k, group_size, symmetric,
                                          &l->src),
                     W4A16_OK);
}

static void layer_free(layer *l) {
    w4a16_unpacked_free(&l->w);
    w4a16_tensor_list_free(&l->list);
}

/* Ŵ[n, k] from the quantizer's own values, not through any layout. */
static double expected_weight(const w4a16_unpacked *w, int64_t n, int64_t k) {
    int64_t groups = w4a16_unpacked_groups(w);
    int64_t g = w->g_idx != NULL ? w->g_idx[k] : k / (w->k / groups);
    return (w->q[n * w->k + k] - w4a16_unpacked_zero(w, n, g)) * (double)w->scales[n * groups + g];
}

static w4a16_source shard_ok(const w4a16_source *src, int rank, int world, int parallel) {
    w4a16_shard shard = {rank, world, parallel};
    w4a16_source out;
    w4a16_status status = w4a16_source_shard(src, &shard, &out);
    if (status != W4A16_OK) fail_msg("shard %d/%d: %s", rank, world, w4a16_last_error());
    return out;
}

/* Every rank's part holds the rank's rows or columns of Ŵ exactly. */
static void check_every_rank(const layer *l, int world, int parallel) {
    for (int rank = 0; rank < world; rank++) {
        w4a16_source part = shard_ok(&l->src, rank, world, parallel);
        int column = parallel == W4A16_COLUMN_PARALLEL;
        int64_t n0 = column ? rank * (l->w.n / world) : 0;
        int64_t k0 = column ? 0 : rank * (l->w.k / world);
        assert_int_equal(part.n, column ? l->w.n / world : l->w.n);
        assert_int_equal(part.k, column ? l->w.k : l->w.k / world);
        assert_int_equal(part.group_size, l->w.group_size);
        assert_int_equal(w4a16_source_validate(&part), W4A16_OK);
        for (int64_t n = 0; n < part.n; n++)
            for (int64_t k = 0; k < part.k; k++)
                assert_true(w4a16_source_weight(&part, n, k) ==
                            expected_weight(&l->w, n0 + n, k0 + k));
    }
}

static void test_rank_parts_hold_the_ranks_weights(void **state) {
    (void)state;
    const int64_t group_sizes[] = {32, -1};
    uint64_t rng = 0x5a4d;
    for (int f = 0; f < 4; f++)
        for (int gs = 0; gs < 2; gs++)
            for (int symmetric = 0; symmetric <= 1; symmetric++) {
                layer l;
                layer_make(&l, FORMATS[f], 64, 256, group_sizes[gs], symmetric, 0, &rng);
                for (int world = 2; world <= 4; world *= 2) {
                    check_every_rank(&l, world, W4A16_COLUMN_PARALLEL);
                    check_every_rank(&l, world, W4A16_ROW_PARALLEL);
                }
                layer_free(&l);
            }
    /* Act-order splits along N alone: K, and so g_idx, stays whole. */
    for (int f = 1; f < 4; f++) {
        layer l;
        layer_make(&l, FORMATS[f], 32, 256, 32, 0, 1, &rng);
        check_every_rank(&l, 4, W4A16_COLUMN_PARALLEL);
        assert_ptr_equal(shard_ok(&l.src, 1, 4, W4A16_COLUMN_PARALLEL).g_idx, l.src.g_idx);
        layer_free(&l);
    }
}

enum { M = 5 };

/* C[M, n] of a source through the reference; A is [M, lda] F16 at `a`. */
static double *reference(const w4a16_source *src, const uint16_t *a, int64_t lda,
                         const uint16_t *bias) {
    double *c = malloc((size_t)(M * src->n) * sizeof *c);
    assert_non_null(c);
    assert_int_equal(w4a16_ref_gemm(src, a, W4A16_F16, lda, NULL, M, bias, c), W4A16_OK);
    return c;
}

static void assert_close(double got, double want, double scale) {
    if (fabs(got - want) > 1e-12 * scale) fail_msg("%.17g != %.17g", got, want);
}

static double max_abs(const double *c, int64_t count) {
    double m = 0;
    for (int64_t i = 0; i < count; i++) m = fmax(m, fabs(c[i]));
    return m;
}

/* A merged q|k|v, column-parallel: rank r's output is q_r|k_r|v_r of the
 * whole layer's, bias included (each source's bias rows of the rank). */
static void check_merged_columns(w4a16_format format, int world, uint64_t *rng) {
    const int64_t k = 256, rows[3] = {64, 32, 32};
    layer l[3];
    uint16_t a[M * 256], bias[64];
    test_fill_random(a, W4A16_F16, M * k, -1, 1, rng);
    test_fill_random(bias, W4A16_F16, 64, -1, 1, rng);
    for (int s = 0; s < 3; s++) {
        layer_make(&l[s], format, rows[s], k, 64, 0, 0, rng);
        double *whole = reference(&l[s].src, a, k, bias);
        double scale = max_abs(whole, M * rows[s]);
        int64_t part = rows[s] / world;
        for (int rank = 0; rank < world; rank++) {
            w4a16_source shard = shard_ok(&l[s].src, rank, world, W4A16_COLUMN_PARALLEL);
            double *c = reference(&shard, a, k, bias + rank * part);
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < part; n++)
                    assert_close(c[m * part + n], whole[m * rows[s] + rank * part + n], scale);
            free(c);
        }
        free(whole);
        layer_free(&l[s]);
    }
}

/* o_proj, row-parallel: rank r multiplies its columns of A; the ranks'
 * outputs add up to the whole layer's, the bias added by rank 0 alone. */
static void check_row_sum(w4a16_format format, int world, uint64_t *rng) {
    const int64_t n = 48, k = 256;
    uint16_t a[M * 256], bias[48];
    test_fill_random(a, W4A16_F16, M * k, -1, 1, rng);
    test_fill_random(bias, W4A16_F16, n, -1, 1, rng);
    layer l;
    layer_make(&l, format, n, k, 64, 0, 0, rng);
    double *whole = reference(&l.src, a, k, bias);
    double sum[M * 48] = {0};
    for (int rank = 0; rank < world; rank++) {
        w4a16_source shard = shard_ok(&l.src, rank, world, W4A16_ROW_PARALLEL);
        double *c = reference(&shard, a + rank * (k / world), k, rank == 0 ? bias : NULL);
        for (int64_t i = 0; i < M * n; i++) sum[i] += c[i];
        free(c);
    }
    double scale = max_abs(whole, M * n);
    for (int64_t i = 0; i < M * n; i++) assert_close(sum[i], whole[i], scale);
    free(whole);
    layer_free(&l);
}

static void test_ranks_add_up_to_the_layer(void **state) {
    (void)state;
    uint64_t rng = 0x7e4;
    for (int f = 0; f < 4; f++)
        for (int world = 2; world <= 4; world *= 2) {
            check_merged_columns(FORMATS[f], world, &rng);
            check_row_sum(FORMATS[f], world, &rng);
        }
}

/* A refused shard: the status, the message, and out as it was. */
static void expect_refused(const w4a16_source *src, const w4a16_shard *shard, w4a16_status want,
                           const char *needle) {
    w4a16_source out, before;
    memset(&before, 0x5c, sizeof before);
    out = before;
    assert_int_equal(w4a16_source_shard(src, shard, &out), want);
    test_expect_error_has(needle);
    assert_memory_equal(&out, &before, sizeof out);
}

static void test_splits_a_format_cannot_take(void **state) {
    (void)state;
    uint64_t rng = 0xe7;
    layer awq, ct_channel, ct_sym, gptq_act;
    layer_make(&awq, W4A16_FORMAT_AWQ, 64, 256, 32, 0, 0, &rng);
    layer_make(&ct_channel, W4A16_FORMAT_CT, 64, 48, -1, 1, 0, &rng);
    layer_make(&ct_sym, W4A16_FORMAT_CT, 64, 256, 32, 1, 0, &rng);
    layer_make(&gptq_act, W4A16_FORMAT_GPTQ, 32, 256, 32, 0, 1, &rng);
    const int COL = W4A16_COLUMN_PARALLEL, ROW = W4A16_ROW_PARALLEL;

    w4a16_shard ok = {0, 2, COL};
    w4a16_source out;
    assert_int_equal(w4a16_source_shard(&awq.src, &ok, NULL), W4A16_ERR_ARG);
    test_expect_error_has("out is NULL");
    expect_refused(&awq.src, NULL, W4A16_ERR_ARG, "shard is NULL");
    expect_refused(NULL, &ok, W4A16_ERR_ARG, "source is NULL");
    /* Arguments, then shapes: unequal parts, part groups, half words. Rank
     * 0 (which starts at 0) is refused as the others are. */
    const struct {
        const layer *l;
        w4a16_shard shard;
        w4a16_status status;
        const char *needle;
    } refusals[] = {
        {&awq, {0, 0, COL}, W4A16_ERR_ARG, "shard world=0 must be at least 1"},
        {&awq, {-1, 2, COL}, W4A16_ERR_ARG, "shard rank=-1 is outside 0..1 (world=2)"},
        {&awq, {2, 2, ROW}, W4A16_ERR_ARG, "shard rank=2 is outside 0..1"},
        {&awq, {0, 2, 0}, W4A16_ERR_ARG, "shard parallel=0 is neither"},
        {&awq, {1, 3, COL}, W4A16_ERR_SHAPE,
         "column-parallel shard, rank 1 of 3: n=64 is not a multiple of world=3"},
        {&awq, {0, 3, ROW}, W4A16_ERR_SHAPE,
         "row-parallel shard, rank 0 of 3: k=256 is not a multiple of world=3"},
        {&awq, {0, 16, ROW}, W4A16_ERR_SHAPE, "k/world=16 is not a multiple of group_size=32"},
        {&awq, {0, 16, COL}, W4A16_ERR_SHAPE,
         "a rank's part is 4 rows, not a multiple of 8, and qweight holds 8 rows"},
        {&ct_channel, {0, 4, ROW}, W4A16_ERR_SHAPE,
         "a rank's part is 12 columns, not a multiple of 8, and qweight holds 8 columns in a "
         "word"},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        expect_refused(&refusals[i].l->src, &refusals[i].shard, refusals[i].status,
                       refusals[i].needle);
    /* Symmetric compressed-tensors packs nothing along N: 4 rows a rank is fine. */
    w4a16_shard shard = {3, 16, COL};
    assert_int_equal(w4a16_source_shard(&ct_sym.src, &shard, &out), W4A16_OK);
    assert_int_equal(out.n, 4);
    /* A per-channel AWQ layer packs along N only: any K split is fine. */
    layer awq_channel;
    layer_make(&awq_channel, W4A16_FORMAT_AWQ, 16, 48, -1, 0, 0, &rng);
    check_every_rank(&awq_channel, 4, ROW);
    layer_free(&awq_channel);

    /* Act-order along K: refused on every rank, naming a group it splits. */
    shard = (w4a16_shard){1, 2, ROW};
    expect_refused(&gptq_act.src, &shard, W4A16_ERR_UNSUPPORTED,
                   "row-parallel shard, rank 1 of 2: act-order (g_idx): group ");
    test_expect_error_has("packed layout v1 keys each group to group_size=32 consecutive");
    w4a16_source on_device = gptq_act.src;
    on_device.on_device = 1;
    expect_refused(&on_device, &shard, W4A16_ERR_UNSUPPORTED,
                   "g_idx is device memory: a row shard reads it on the host");

    layer_free(&awq);
    layer_free(&ct_channel);
    layer_free(&ct_sym);
    layer_free(&gptq_act);
}

/* Row shards and g_idx: GPTQ stores k / G even without act-order, which a
 * row shard leaves out (its scales moved to the rank's first group); a
 * g_idx that is not k / G but keeps each group inside one rank's range
 * (groups swapped within a rank) still cannot be renumbered by a view.
 * World 1 is the source itself. */
static void test_row_shards_and_g_idx(void **state) {
    (void)state;
    uint64_t rng = 0x71;
    layer l;
    layer_make(&l, W4A16_FORMAT_GPTQ, 16, 128, 32, 0, 0, &rng);
    assert_non_null(l.src.g_idx);
    assert_null(shard_ok(&l.src, 1, 2, W4A16_ROW_PARALLEL).g_idx);
    w4a16_source whole = shard_ok(&l.src, 0, 1, W4A16_ROW_PARALLEL);
    assert_memory_equal(&whole, &l.src, sizeof whole);
    int32_t *g_idx = (int32_t *)l.src.g_idx; /* the list's copy: ours to change */
    for (int64_t c = 0; c < 128; c++) g_idx[c] = (int32_t)((c / 32) ^ 1); /* 1 0 3 2 */
    w4a16_shard shard = {0, 2, W4A16_ROW_PARALLEL};
    expect_refused(&l.src, &shard, W4A16_ERR_UNSUPPORTED,
                   "each group lies in one rank's K range, but g_idx is not k / group_size");
    layer_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_parts_hold_the_ranks_weights),
        cmocka_unit_test(test_ranks_add_up_to_the_layer),
        cmocka_unit_test(test_splits_a_format_cannot_take),
        cmocka_unit_test(test_row_shards_and_g_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
