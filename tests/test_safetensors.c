/* The safetensors layer, good files: round trips through the writer and the
 * reader (many dtypes, ranks, empty tensors, metadata), byte counts, and the
 * writer's refusals of bad input. Malformed files: test_safetensors_reject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "checkpoint/safetensors.h"
#include "checkpoint_builder.h"
#include "test_support.h"

/* ------------------------------------------------------------------ helpers */

static int file_exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0;
}

static uint8_t *read_whole_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    fseek(file, 0, SEEK_END);
    *size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc(*size ? *size : 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, *size, file), *size);
    fclose(file);
    return bytes;
}

/* --------------------------------------------------------------- round trips */

enum { ROUND_TRIP_TENSORS = 11 };

typedef struct {
    w4a16_st_write_tensor tensors[ROUND_TRIP_TENSORS];
    uint8_t *data[ROUND_TRIP_TENSORS];
    uint64_t bytes[ROUND_TRIP_TENSORS];
} tensor_set;

/* Tensors of many dtypes and ranks (a scalar, sub-byte ones, an empty one),
 * listed out of name order, filled with seeded random bytes. */
static void make_tensor_set(tensor_set *set, uint64_t seed) {
    static const struct {
        const char *name;
        w4a16_dtype dtype;
        int32_t ndim;
        int64_t shape[4];
    } specs[ROUND_TRIP_TENSORS] = {
        {"model.layers.1.mlp.up_proj.weight", W4A16_F32, 2, {3, 5}},
        {"model.layers.0.self_attn.q_proj.scales", W4A16_F16, 2, {4, 4}},
        {"model.layers.0.self_attn.q_proj.qweight", W4A16_I32, 2, {4, 2}},
        {"bf16.cube", W4A16_BF16, 3, {2, 3, 4}},
        {"bytes", W4A16_U8, 1, {7}},
        {"empty", W4A16_I32, 2, {0, 8}},
        {"scalar", W4A16_F64, 0, {0}},
        {"fp4", W4A16_F4, 1, {6}},
        {"fp6", W4A16_F6_E2M3, 2, {2, 2}},
        {"flags", W4A16_BOOL, 1, {5}},
        {"wide", W4A16_I64, 2, {2, 2}},
    };
    uint64_t rng = seed;
    for (int i = 0; i < ROUND_TRIP_TENSORS; i++) {
        w4a16_st_write_tensor *t = &set->tensors[i];
        memset(t, 0, sizeof *t);
        t->name = specs[i].name;
        t->dtype = specs[i].dtype;
        t->ndim = specs[i].ndim;
        memcpy(t->shape, specs[i].shape, sizeof specs[i].shape);
        assert_int_equal(w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &set->bytes[i]),
                         W4A16_OK);
        set->data[i] = malloc(set->bytes[i] + 1);
        assert_non_null(set->data[i]);
        test_fill_bytes(set->data[i], set->bytes[i], &rng);
        t->data = set->bytes[i] ? set->data[i] : NULL; /* empty tensors need no data */
    }
}

static void free_tensor_set(tensor_set *set) {
    for (int i = 0; i < ROUND_TRIP_TENSORS; i++) free(set->data[i]);
}

static int compare_begin(const void *a, const void *b) {
    const w4a16_st_tensor *x = *(const w4a16_st_tensor *const *)a;
    const w4a16_st_tensor *y = *(const w4a16_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end; /* an empty tensor before its neighbour */
}

static void test_round_trip(void **state) {
    (void)state;
    tensor_set set;
    make_tensor_set(&set, 0x7e57);
    const w4a16_st_metadata metadata[] = {
        {"format", "pt"}, {"quantization", "w4a16 \"test\" \xc3\xa9"}, {"empty", ""}};
    char path[4200];
    snprintf(path, sizeof path, "%s/round_trip.safetensors", test_scratch_dir("safetensors_rt"));
    assert_int_equal(w4a16_st_write(path, set.tensors, ROUND_TRIP_TENSORS, metadata, 3), W4A16_OK);

    char tmp_path[4300];
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path);
    assert_false(file_exists(tmp_path));

    w4a16_st_file file;
    assert_int_equal(w4a16_st_open(path, &file), W4A16_OK);
    assert_string_equal(file.path, path);
    assert_int_equal(file.tensor_count, ROUND_TRIP_TENSORS);
    for (int64_t i = 1; i < file.tensor_count; i++)
        assert_true(strcmp(file.tensors[i - 1].name, file.tensors[i].name) < 0);

    /* Header padded to 8 bytes with spaces; data right after, larger elements
     * first and then by name, with no gaps, so each tensor is aligned. */
    const uint8_t *map = file.map;
    uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; i--) header_bytes = (header_bytes << 8) | map[i];
    assert_int_equal(header_bytes % 8, 0);
    assert_int_equal(map[8], '{');
    uint64_t total = 0;
    for (int i = 0; i < ROUND_TRIP_TENSORS; i++) total += set.bytes[i];
    assert_int_equal(file.map_bytes, 8 + header_bytes + total);
    const w4a16_st_tensor *in_data_order[ROUND_TRIP_TENSORS];
    for (int64_t i = 0; i < file.tensor_count; i++) in_data_order[i] = &file.tensors[i];
    qsort(in_data_order, (size_t)file.tensor_count, sizeof *in_data_order, compare_begin);
    uint64_t next_begin = 0;
    for (int64_t i = 0; i < file.tensor_count; i++) {
        const w4a16_st_tensor *t = in_data_order[i];
        assert_int_equal(t->begin, next_begin);
        next_begin = t->end;
        int bits = w4a16_dtype_bits(t->dtype);
        assert_int_equal((8 + header_bytes + t->begin) % (uint64_t)(bits >= 8 ? bits / 8 : 1), 0);
        if (i > 0) {
            int previous_bits = w4a16_dtype_bits(in_data_order[i - 1]->dtype);
            assert_true(previous_bits > bits ||
                        (previous_bits == bits && strcmp(in_data_order[i - 1]->name, t->name) < 0));
        }
    }

    for (int i = 0; i < ROUND_TRIP_TENSORS; i++) {
        const w4a16_st_write_tensor *want = &set.tensors[i];
        const w4a16_st_tensor *got = w4a16_st_find(&file, want->name);
        assert_non_null(got);
        assert_string_equal(got->name, want->name);
        assert_int_equal(got->dtype, want->dtype);
        assert_int_equal(got->ndim, want->ndim);
        for (int32_t d = 0; d < want->ndim; d++) assert_int_equal(got->shape[d], want->shape[d]);
        assert_int_equal(got->end - got->begin, set.bytes[i]);
        assert_ptr_equal(got->data, map + 8 + header_bytes + got->begin);
        if (set.bytes[i]) assert_memory_equal(got->data, set.data[i], set.bytes[i]);
    }
    assert_null(w4a16_st_find(&file, "missing"));
    assert_null(w4a16_st_find(&file, "__metadata__"));

    assert_int_equal(file.metadata_count, 3);
    assert_string_equal(w4a16_st_metadata_get(&file, "format"), "pt");
    assert_string_equal(w4a16_st_metadata_get(&file, "quantization"), metadata[1].value);
    assert_string_equal(w4a16_st_metadata_get(&file, "empty"), "");
    assert_null(w4a16_st_metadata_get(&file, "absent"));

    /* The same bytes parse from memory too. */
    size_t size;
    uint8_t *bytes = read_whole_file(path, &size);
    w4a16_st_file from_memory;
    assert_int_equal(w4a16_st_parse(bytes, size, &from_memory), W4A16_OK);
    assert_int_equal(from_memory.tensor_count, ROUND_TRIP_TENSORS);
    assert_null(from_memory.map);
    assert_string_equal(from_memory.path, "<memory>");
    w4a16_st_close(&from_memory);
    free(bytes);

    w4a16_st_close(&file);
    assert_int_equal(file.tensor_count, 0);
    w4a16_st_close(&file); /* a closed (zeroed) file closes again */
    w4a16_st_close(NULL);
    free_tensor_set(&set);
}

static void test_empty_and_overwrite(void **state) {
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.safetensors", test_scratch_dir("safetensors_empty"));
    assert_int_equal(w4a16_st_write(path, NULL, 0, NULL, 0), W4A16_OK);
    w4a16_st_file file;
    assert_int_equal(w4a16_st_open(path, &file), W4A16_OK);
    assert_int_equal(file.tensor_count, 0);
    assert_int_equal(file.metadata_count, 0);
    assert_int_equal(file.map_bytes, 16); /* "{}" padded to 8 */
    assert_null(w4a16_st_find(&file, "x"));
    w4a16_st_close(&file);

    /* Writing again replaces the file. */
    int32_t values[3] = {-7, 11, 1 << 30};
    w4a16_st_write_tensor one = {.name = "v", .dtype = W4A16_I32, .ndim = 1, .shape = {3},
                                 .data = values};
    assert_int_equal(w4a16_st_write(path, &one, 1, NULL, 0), W4A16_OK);
    assert_int_equal(w4a16_st_open(path, &file), W4A16_OK);
    assert_int_equal(file.tensor_count, 1);
    assert_memory_equal(file.tensors[0].data, values, sizeof values);
    w4a16_st_close(&file);
}

/* Many tensors in random order: sorting and tiling at scale. */
static void test_many_tensors(void **state) {
    (void)state;
    enum { COUNT = 1000 };
    w4a16_st_write_tensor *tensors = calloc(COUNT, sizeof *tensors);
    char(*names)[32] = calloc(COUNT, sizeof *names);
    float *values = malloc(COUNT * 3 * sizeof *values);
    assert_non_null(tensors);
    assert_non_null(names);
    assert_non_null(values);
    uint64_t rng = 99;
    test_fill_random(values, W4A16_F32, COUNT * 3, -2.0, 2.0, &rng);
    for (int i = 0; i < COUNT; i++) {
        snprintf(names[i], sizeof names[i], "t%08llx",
                 (unsigned long long)(test_rng_next(&rng) & 0xffffffffu) * COUNT + (unsigned)i);
        int64_t count = 1 + i % 3;
        tensors[i] = (w4a16_st_write_tensor){
            .name = names[i], .dtype = W4A16_F32, .ndim = 1, .shape = {count}, .data = values + 3 * i};
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/many.safetensors", test_scratch_dir("safetensors_many"));
    assert_int_equal(w4a16_st_write(path, tensors, COUNT, NULL, 0), W4A16_OK);
    w4a16_st_file file;
    assert_int_equal(w4a16_st_open(path, &file), W4A16_OK);
    assert_int_equal(file.tensor_count, COUNT);
    for (int i = 0; i < COUNT; i++) {
        const w4a16_st_tensor *t = w4a16_st_find(&file, names[i]);
        assert_non_null(t);
        assert_memory_equal(t->data, values + 3 * i, sizeof(float) * (size_t)(1 + i % 3));
    }
    w4a16_st_close(&file);
    free(values);
    free(names);
    free(tensors);
}

static void test_tensor_bytes(void **state) {
    (void)state;
    uint64_t bytes = 0;
    const int64_t shape_2x3[] = {2, 3};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_BF16, 2, shape_2x3, &bytes), W4A16_OK);
    assert_int_equal(bytes, 12);
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_C64, 0, NULL, &bytes), W4A16_OK);
    assert_int_equal(bytes, 8);
    const int64_t shape_f6[] = {4, 3};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F6_E3M2, 2, shape_f6, &bytes), W4A16_OK);
    assert_int_equal(bytes, 9);
    /* A zero anywhere wins over dimensions whose product would overflow. */
    const int64_t huge_then_zero[] = {INT64_MAX, INT64_MAX, 0};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F64, 3, huge_then_zero, &bytes), W4A16_OK);
    assert_int_equal(bytes, 0);

    const int64_t odd_f4[] = {3, 3};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F4, 2, odd_f4, &bytes), W4A16_ERR_FORMAT);
    test_expect_error_has("36 bits, not a whole number of bytes");
    const int64_t negative[] = {4, -1};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F32, 2, negative, &bytes), W4A16_ERR_FORMAT);
    test_expect_error_has("shape [4, -1] has a negative dimension");
    const int64_t too_many[] = {1ll << 32, 1ll << 32};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_U8, 2, too_many, &bytes), W4A16_ERR_FORMAT);
    test_expect_error_has("more elements than 64 bits can count");
    const int64_t too_large[] = {1ll << 62};
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F64, 1, too_large, &bytes), W4A16_ERR_FORMAT);
    test_expect_error_has("more bytes than 64 bits can count");
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_DTYPE_INVALID, 1, too_large, &bytes),
                     W4A16_ERR_ARG);
    test_expect_error_has("dtype=0");
    assert_int_equal(w4a16_st_tensor_bytes(W4A16_F32, 9, too_large, &bytes), W4A16_ERR_ARG);
    test_expect_error_has("ndim=9");
    assert_int_equal(bytes, 0); /* untouched by the failures */
}
/* ---------------------------------------------------------- writer refusals */

static void expect_write_refused(const w4a16_st_write_tensor *tensors, int64_t count,
                                 const w4a16_st_metadata *metadata, int64_t metadata_count,
                                 w4a16_status status, const char *needle) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/refused.safetensors", test_scratch_dir("safetensors_refused"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(w4a16_st_write(path, tensors, count, metadata, metadata_count), status);
    test_expect_error_has(needle);
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));
}

static void test_writer_refuses_bad_input(void **state) {
    (void)state;
    float data[4] = {1.5f, -2.25f, 3.0f, 0.125f};
    w4a16_st_write_tensor two[2] = {
        {.name = "a", .dtype = W4A16_F32, .ndim = 1, .shape = {4}, .data = data},
        {.name = "b", .dtype = W4A16_F32, .ndim = 1, .shape = {2}, .data = data},
    };
    two[1].data = NULL;
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "tensors[1] 'b': data is NULL for 8 bytes");
    two[1].data = data;
    two[1].name = "a";
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG,
                         "tensors[0] and tensors[1] are both named 'a'");
    two[1].name = "__metadata__";
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "reserved");
    two[1].name = NULL;
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "tensors[1].name is NULL");
    two[1].name = "b\xff";
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "not valid UTF-8");
    two[1].name = "b";
    two[1].shape[0] = -2;
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "tensors[1] 'b': shape [-2] has a negative");
    two[1].shape[0] = 2;
    two[1].dtype = (w4a16_dtype)77;
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "dtype=77");
    two[1].dtype = W4A16_F4;
    two[1].shape[0] = 3;
    expect_write_refused(two, 2, NULL, 0, W4A16_ERR_ARG, "not a whole number of bytes");
    two[1].dtype = W4A16_F32;
    two[1].shape[0] = 2;

    const w4a16_st_metadata twice[2] = {{"k", "1"}, {"k", "2"}};
    expect_write_refused(two, 2, twice, 2, W4A16_ERR_ARG, "metadata key 'k' appears twice");
    const w4a16_st_metadata null_value[1] = {{"k", NULL}};
    expect_write_refused(two, 2, null_value, 1, W4A16_ERR_ARG, "metadata[0] has a NULL");
    const w4a16_st_metadata bad_utf8[1] = {{"k", "\xc0\x80"}};
    expect_write_refused(two, 2, bad_utf8, 1, W4A16_ERR_ARG, "not valid UTF-8");
    expect_write_refused(two, -1, NULL, 0, W4A16_ERR_ARG, "count=-1");
    expect_write_refused(NULL, 2, NULL, 0, W4A16_ERR_ARG, "tensors is NULL");
    expect_write_refused(two, 2, NULL, 3, W4A16_ERR_ARG, "metadata is NULL");
    assert_int_equal(w4a16_st_write(NULL, two, 2, NULL, 0), W4A16_ERR_ARG);
    test_expect_error_has("path is NULL");

    char path[4200];
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors",
             test_scratch_dir("safetensors_refused"));
    assert_int_equal(w4a16_st_write(path, two, 2, NULL, 0), W4A16_ERR_IO);
    test_expect_error_has("cannot create");
}
int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_and_overwrite),
        cmocka_unit_test(test_many_tensors),
        cmocka_unit_test(test_tensor_bytes),
        cmocka_unit_test(test_writer_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
