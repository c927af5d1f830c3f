/* Checkpoints written by the formats' own packages (AutoAWQ, GPTQModel,
 * AutoGPTQ, compressed-tensors; tests/fixtures/make_producer_fixtures.py) open
 * through the importer with exactly the values those producers stored: every
 * q, z, s and g_idx, and W = (q - z) * s in double, against each case's
 * expected.safetensors (unpacked with the producers' own code). Any mismatch
 * means our reading of a format disagrees with its writer. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/safetensors.h"
#include "checkpoint/source.h"
#include "checkpoint_builder.h"
#include "common/dtype.h"

#define PRODUCERS W4A16_TEST_FIXTURES "/producers"

typedef struct {
    const char *folder;
    w4a16_format format;
    int64_t group_size; /* -1 per-channel */
    int symmetric;
    int act_order;
    int has_z16; /* GPTQ v1 written with a true zero of 0: readers see z = 16 */
} producer_case;

static const producer_case CASES[] = {
    {"awq_g128", W4A16_FORMAT_AWQ, 128, 0, 0, 0},
    {"awq_g64", W4A16_FORMAT_AWQ, 64, 0, 0, 0},
    {"gptqmodel_sym_g128", W4A16_FORMAT_GPTQ, 128, 1, 0, 0},
    {"gptqmodel_asym_g128", W4A16_FORMAT_GPTQ, 128, 0, 0, 0},
    {"gptqmodel_asym_g128_zero16", W4A16_FORMAT_GPTQ, 128, 0, 0, 1},
    {"gptqmodel_desc_act_g128", W4A16_FORMAT_GPTQ, 128, 0, 1, 0},
    {"autogptq_sym_g128", W4A16_FORMAT_GPTQ, 128, 1, 0, 0},
    {"autogptq_asym_g128", W4A16_FORMAT_GPTQ, 128, 0, 0, 0},
    {"autogptq_asym_g128_zero16", W4A16_FORMAT_GPTQ, 128, 0, 0, 1},
    {"autogptq_desc_act_g128", W4A16_FORMAT_GPTQ, 128, 0, 1, 0},
    {"ct_sym_g128", W4A16_FORMAT_CT, 128, 1, 0, 0},
    {"ct_asym_g64", W4A16_FORMAT_CT, 64, 0, 0, 0},
    {"ct_channel", W4A16_FORMAT_CT, -1, 0, 0, 0},
    {"ct_actorder_group_g128", W4A16_FORMAT_CT, 128, 0, 1, 0},
};
enum { CASE_COUNT = sizeof CASES / sizeof CASES[0] };

/* <prefix>.<suffix> of expected.safetensors; fails the test if absent. */
static const w4a16_st_tensor *expected_find(const w4a16_st_file *file, const char *prefix,
                                            const char *suffix) {
    char name[512];
    int len = snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    assert_true(len > 0 && (size_t)len < sizeof name);
    const w4a16_st_tensor *t = w4a16_st_find(file, name);
    if (t == NULL) fail_msg("%s: no %s", file->path, name);
    return t;
}

/* A tensor of expected.safetensors copied out of the mapping (which promises
 * no alignment), after checking its dtype and shape. */
static void *expected_copy(const w4a16_st_file *file, const char *prefix, const char *suffix,
                           w4a16_dtype dtype, int64_t rows, int64_t cols) {
    const w4a16_st_tensor *t = expected_find(file, prefix, suffix);
    if (dtype != W4A16_DTYPE_INVALID) assert_int_equal(t->dtype, dtype);
    int64_t shape[2] = {rows, cols};
    assert_int_equal(t->ndim, cols < 0 ? 1 : 2);
    for (int32_t d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], shape[d]);
    void *copy = malloc(t->end - t->begin);
    assert_non_null(copy);
    memcpy(copy, t->data, t->end - t->begin);
    return copy;
}

/* Reports the first few mismatches of one quantity, then counts the rest. */
static int64_t mismatch(int64_t count, const char *what, const char *layer, int64_t n, int64_t i,
                        double ours, double theirs) {
    if (count < 5)
        print_error("%s %s[%lld, %lld]: imported %.17g, producer %.17g\n", layer, what,
                    (long long)n, (long long)i, ours, theirs);
    return count + 1;
}

/* One layer: the importer's source against the producer's q, z, s, g_idx, W. */
static void check_layer(const producer_case *c, const w4a16_checkpoint *ckpt,
                        const w4a16_st_file *expected, const char *prefix) {
    const w4a16_st_tensor *dequant_t = expected_find(expected, prefix, "weight_dequant");
    int64_t n = dequant_t->shape[0], k = dequant_t->shape[1];
    int64_t groups = c->group_size < 0 ? 1 : k / c->group_size;

    w4a16_layer_info info;
    test_layer_of(ckpt, prefix, &info);
    assert_int_equal(info.status, W4A16_LAYER_QUANTIZED);
    assert_int_equal(info.n, n);
    assert_int_equal(info.k, k);
    assert_int_equal(info.group_size, c->group_size);
    assert_int_equal(info.symmetric, c->symmetric);
    assert_int_equal(info.act_order, c->act_order);
    w4a16_source src;
    test_source_of(ckpt, prefix, &src);
    assert_int_equal(w4a16_source_validate(&src), W4A16_OK);
    assert_int_equal(w4a16_source_groups(&src), groups);

    const w4a16_st_tensor *s_t = expected_find(expected, prefix, "s");
    assert_int_equal(src.scales_dtype, s_t->dtype); /* scales keep the checkpoint's dtype */

    double *dequant = expected_copy(expected, prefix, "weight_dequant", W4A16_F64, n, k);
    uint8_t *q = expected_copy(expected, prefix, "q", W4A16_U8, n, k);
    uint8_t *z = expected_copy(expected, prefix, "z", W4A16_U8, n, groups);
    void *s = expected_copy(expected, prefix, "s", W4A16_DTYPE_INVALID, n, groups);
    int32_t *g_idx = expected_copy(expected, prefix, "g_idx", W4A16_I32, k, -1);

    int64_t bad_q = 0, bad_z = 0, bad_s = 0, bad_g = 0, bad_w = 0, z16 = 0;
    for (int64_t kk = 0; kk < k; kk++) {
        int64_t g = w4a16_source_group_of(&src, kk);
        if (g != g_idx[kk]) bad_g = mismatch(bad_g, "g_idx", prefix, 0, kk, (double)g, g_idx[kk]);
    }
    for (int64_t nn = 0; nn < n; nn++) {
        for (int64_t g = 0; g < groups; g++) {
            int32_t ours = src.qzeros == NULL
                               ? 8
                               : w4a16_qlayout_get(&src.qzeros_layout, src.qzeros, nn, g);
            int32_t theirs = z[nn * groups + g];
            if (ours != theirs) bad_z = mismatch(bad_z, "z", prefix, nn, g, ours, theirs);
            z16 += theirs == 16;
            double scale = w4a16_load_as_double(
                src.scales, src.scales_dtype, nn * src.scales_stride_n + g * src.scales_stride_g);
            double their_scale = w4a16_load_as_double(s, s_t->dtype, nn * groups + g);
            if (scale != their_scale)
                bad_s = mismatch(bad_s, "s", prefix, nn, g, scale, their_scale);
        }
        for (int64_t kk = 0; kk < k; kk++) {
            int32_t ours = w4a16_qlayout_get(&src.qweight_layout, src.qweight, nn, kk);
            if (ours != q[nn * k + kk])
                bad_q = mismatch(bad_q, "q", prefix, nn, kk, ours, q[nn * k + kk]);
            double w = w4a16_source_weight(&src, nn, kk);
            if (w != dequant[nn * k + kk])
                bad_w = mismatch(bad_w, "W", prefix, nn, kk, w, dequant[nn * k + kk]);
        }
    }
    if (bad_q + bad_z + bad_s + bad_g + bad_w > 0)
        fail_msg("%s %s: %lld q, %lld z, %lld s, %lld g_idx, %lld W differ from the producer",
                 c->folder, prefix, (long long)bad_q, (long long)bad_z, (long long)bad_s,
                 (long long)bad_g, (long long)bad_w);
    /* The z = 16 cases must really hold z = 16 (a stored 15 read back plus one). */
    if (c->has_z16) assert_true(z16 > 0);
    free(dequant);
    free(q);
    free(z);
    free(s);
    free(g_idx);
}

/* Every layer expected.safetensors lists (each <prefix>.weight_dequant). */
static void check_case(const producer_case *c) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", PRODUCERS, c->folder);
    w4a16_checkpoint *ckpt = test_open_ok(path, W4A16_FORMAT_AUTO);
    assert_int_equal(w4a16_checkpoint_format(ckpt), c->format);
    snprintf(path, sizeof path, "%s/%s/expected.safetensors", PRODUCERS, c->folder);
    w4a16_st_file expected;
    if (w4a16_st_open(path, &expected) != W4A16_OK) fail_msg("%s", w4a16_last_error());

    static const char SUFFIX[] = ".weight_dequant";
    int64_t layers = 0;
    for (int64_t i = 0; i < expected.tensor_count; i++) {
        const char *name = expected.tensors[i].name;
        size_t len = strlen(name), suffix_len = sizeof SUFFIX - 1;
        if (len <= suffix_len || strcmp(name + len - suffix_len, SUFFIX) != 0) continue;
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(len - suffix_len), name);
        check_layer(c, ckpt, &expected, prefix);
        layers++;
    }
    assert_int_equal(layers, 2);
    assert_int_equal(w4a16_checkpoint_layer_count(ckpt), 2);
    w4a16_st_close(&expected);
    w4a16_checkpoint_close(ckpt);
}

/* Every case whose folder starts with this producer's name. */
static void check_producer(const char *producer) {
    int checked = 0;
    for (int i = 0; i < CASE_COUNT; i++) {
        if (strncmp(CASES[i].folder, producer, strlen(producer)) != 0) continue;
        check_case(&CASES[i]);
        checked++;
    }
    assert_true(checked > 0);
}

static void test_autoawq(void **state) {
    (void)state;
    check_producer("awq_");
}

static void test_gptqmodel(void **state) {
    (void)state;
    check_producer("gptqmodel_");
}

static void test_autogptq(void **state) {
    (void)state;
    check_producer("autogptq_");
}

static void test_compressed_tensors(void **state) {
    (void)state;
    check_producer("ct_");
}

/* Every folder the script writes is a case above (a new case cannot go untested). */
static void test_every_folder_is_checked(void **state) {
    (void)state;
    DIR *dir = opendir(PRODUCERS);
    assert_non_null(dir);
    int folders = 0;
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.') != NULL) continue; /* VERSIONS.txt */
        int known = 0;
        for (int i = 0; i < CASE_COUNT; i++) known |= strcmp(CASES[i].folder, e->d_name) == 0;
        if (!known) fail_msg("producers/%s has no entry in CASES", e->d_name);
        folders++;
    }
    closedir(dir);
    assert_int_equal(folders, CASE_COUNT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autoawq),
        cmocka_unit_test(test_gptqmodel),
        cmocka_unit_test(test_autogptq),
        cmocka_unit_test(test_compressed_tensors),
        cmocka_unit_test(test_every_folder_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
