/* The streaming, sharded checkpoint writer: Hugging Face's greedy split and
 * names, the index, bytes put in pieces, in any order and from two threads,
 * a tensor larger than the limit alone in its shard, one model.safetensors
 * when everything fits, nothing left behind when a write is abandoned or
 * incomplete, and the --max-shard-size parser. Files are read back through
 * the strict reader and the checkpoint API. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/shard_writer.h"
#include "test_support.h"

enum { TENSORS = 6 };

/* Six F16 and I32 tensors of 600, 400, 2000, 100, 300 and 50 bytes, in the
 * order they are produced (not name order), with random contents. */
typedef struct {
    w4a16_st_write_tensor tensors[TENSORS];
    uint8_t *data[TENSORS];
    uint64_t bytes[TENSORS];
} tensor_set;

static void make_set(tensor_set *set) {
    static const struct {
        const char *name;
        w4a16_dtype dtype;
        int64_t rows, cols;
    } specs[TENSORS] = {
        {"model.embed_tokens.weight", W4A16_F16, 20, 15}, {"model.layers.0.q.qweight", W4A16_I32, 10, 10},
        {"model.layers.0.big.weight", W4A16_F16, 40, 25}, {"model.layers.0.q.scales", W4A16_F16, 5, 10},
        {"lm_head.weight", W4A16_F16, 10, 15},            {"model.norm.weight", W4A16_F16, 1, 25},
    };
    uint64_t rng = 0x5a4d;
    for (int i = 0; i < TENSORS; i++) {
        set->tensors[i] = (w4a16_st_write_tensor){.name = specs[i].name, .dtype = specs[i].dtype,
                                                  .ndim = 2, .shape = {specs[i].rows, specs[i].cols}};
        set->bytes[i] = (uint64_t)(specs[i].rows * specs[i].cols) * (specs[i].dtype == W4A16_I32 ? 4 : 2);
        set->data[i] = malloc(set->bytes[i]);
        assert_non_null(set->data[i]);
        test_fill_bytes(set->data[i], set->bytes[i], &rng);
    }
}

static void free_set(tensor_set *set) {
    for (int i = 0; i < TENSORS; i++) free(set->data[i]);
}

static int exists(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Every tensor of the set, read back through the checkpoint API from dir. */
static void expect_checkpoint_holds(const char *dir, const tensor_set *set) {
    w4a16_checkpoint *ckpt = NULL;
    assert_int_equal(w4a16_checkpoint_open(dir, W4A16_FORMAT_DENSE, &ckpt), W4A16_OK);
    assert_int_equal(w4a16_checkpoint_tensor_count(ckpt), TENSORS);
    for (int i = 0; i < TENSORS; i++) {
        int found = 0;
        for (int64_t t = 0; t < TENSORS; t++) {
            w4a16_tensor_info info;
            assert_int_equal(w4a16_checkpoint_tensor(ckpt, t, &info), W4A16_OK);
            if (strcmp(info.name, set->tensors[i].name) != 0) continue;
            found = 1;
            assert_int_equal(info.nbytes, set->bytes[i]);
            assert_memory_equal(info.data, set->data[i], set->bytes[i]);
            assert_int_equal((uintptr_t)info.data % (set->tensors[i].dtype == W4A16_I32 ? 4 : 2), 0);
        }
        assert_true(found);
    }
    w4a16_checkpoint_close(ckpt);
}

typedef struct {
    w4a16_shard_writer *writer;
    const tensor_set *set;
    int parity; /* puts the pieces whose number has this parity */
} put_job;

/* Each tensor in 7-byte pieces, this thread's half of them, last piece first. */
static void *put_pieces(void *arg) {
    put_job *job = arg;
    for (int i = TENSORS - 1; i >= 0; i--) {
        uint64_t pieces = (job->set->bytes[i] + 6) / 7;
        for (uint64_t p = pieces; p-- > 0;) {
            if ((int)(p % 2) != job->parity) continue;
            uint64_t bytes = p * 7 + 7 <= job->set->bytes[i] ? 7 : job->set->bytes[i] - p * 7;
            if (w4a16_shard_writer_put(job->writer, i, p * 7, job->set->data[i] + p * 7, bytes) !=
                W4A16_OK)
                return (void *)1;
        }
    }
    return NULL;
}

static void test_shards_index_and_pieces(void **state) {
    (void)state;
    tensor_set set;
    make_set(&set);
    const char *dir = test_scratch_dir("shard_writer_shards");
    w4a16_shard_writer *w = NULL;
    /* 1000 bytes: {600, 400} | {2000, alone: larger than the limit} | {100, 300, 50}. */
    assert_int_equal(w4a16_shard_writer_create(dir, set.tensors, TENSORS, 1000, &w), W4A16_OK);
    assert_int_equal(w4a16_shard_writer_file_count(w), 4);
    assert_string_equal(w4a16_shard_writer_file_name(w, 0), "model-00001-of-00003.safetensors");
    assert_string_equal(w4a16_shard_writer_file_name(w, 2), "model-00003-of-00003.safetensors");
    assert_string_equal(w4a16_shard_writer_file_name(w, 3), "model.safetensors.index.json");
    assert_null(w4a16_shard_writer_file_name(w, 4));
    assert_int_equal(w4a16_shard_writer_find(w, "lm_head.weight"), 4);
    assert_int_equal(w4a16_shard_writer_find(w, "absent"), -1);
    assert_true(exists(dir, "model-00002-of-00003.safetensors.tmp"));
    assert_false(exists(dir, "model-00002-of-00003.safetensors"));

    put_job jobs[2] = {{w, &set, 0}, {w, &set, 1}};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, put_pieces, &jobs[1]), 0);
    void *other = put_pieces(&jobs[0]), *result = NULL;
    assert_int_equal(pthread_join(thread, &result), 0);
    assert_null(other);
    assert_null(result);
    assert_int_equal(w4a16_shard_writer_commit(w), W4A16_OK);
    w4a16_shard_writer_free(w);
    assert_false(exists(dir, "model-00002-of-00003.safetensors.tmp"));
    assert_false(exists(dir, "model.safetensors"));

    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    json_t *index = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(index);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(index, "metadata"), "total_size")),
                     600 + 400 + 2000 + 100 + 300 + 50);
    json_t *map = json_object_get(index, "weight_map");
    assert_int_equal(json_object_size(map), TENSORS);
    const char *expected_shard[TENSORS] = {"1", "1", "2", "3", "3", "3"};
    for (int i = 0; i < TENSORS; i++) {
        char file[64];
        snprintf(file, sizeof file, "model-0000%s-of-00003.safetensors", expected_shard[i]);
        assert_string_equal(json_string_value(json_object_get(map, set.tensors[i].name)), file);
    }
    json_decref(index);
    snprintf(path, sizeof path, "%s/model-00002-of-00003.safetensors", dir);
    w4a16_st_file shard;
    assert_int_equal(w4a16_st_open(path, &shard), W4A16_OK);
    assert_int_equal(shard.tensor_count, 1);
    assert_string_equal(w4a16_st_metadata_get(&shard, "format"), "pt");
    w4a16_st_close(&shard);
    expect_checkpoint_holds(dir, &set);
    free_set(&set);
}

static void test_one_file_when_it_fits(void **state) {
    (void)state;
    tensor_set set;
    make_set(&set);
    const uint64_t limits[] = {0, 3450};
    for (size_t l = 0; l < 2; l++) {
        const char *dir = test_scratch_dir(l == 0 ? "shard_writer_unlimited" : "shard_writer_fits");
        w4a16_shard_writer *w = NULL;
        assert_int_equal(w4a16_shard_writer_create(dir, set.tensors, TENSORS, limits[l], &w), W4A16_OK);
        assert_int_equal(w4a16_shard_writer_file_count(w), 1);
        assert_string_equal(w4a16_shard_writer_file_name(w, 0), "model.safetensors");
        for (int i = 0; i < TENSORS; i++)
            assert_int_equal(w4a16_shard_writer_put(w, i, 0, set.data[i], set.bytes[i]), W4A16_OK);
        assert_int_equal(w4a16_shard_writer_commit(w), W4A16_OK);
        w4a16_shard_writer_free(w);
        assert_false(exists(dir, "model.safetensors.index.json"));
        expect_checkpoint_holds(dir, &set);
    }
    free_set(&set);
}

static void test_nothing_left_behind(void **state) {
    (void)state;
    tensor_set set;
    make_set(&set);
    const char *dir = test_scratch_dir("shard_writer_abandoned");
    w4a16_shard_writer *w = NULL;
    /* Abandoned: the .tmp files go. */
    assert_int_equal(w4a16_shard_writer_create(dir, set.tensors, TENSORS, 1000, &w), W4A16_OK);
    assert_int_equal(w4a16_shard_writer_put(w, 0, 0, set.data[0], set.bytes[0]), W4A16_OK);
    w4a16_shard_writer_free(w);
    assert_false(exists(dir, "model-00001-of-00003.safetensors.tmp"));
    assert_false(exists(dir, "model-00001-of-00003.safetensors"));

    /* Incomplete: commit names the tensor short of bytes and renames nothing. */
    assert_int_equal(w4a16_shard_writer_create(dir, set.tensors, TENSORS, 1000, &w), W4A16_OK);
    for (int i = 0; i < TENSORS; i++)
        assert_int_equal(w4a16_shard_writer_put(w, i, 0, set.data[i], set.bytes[i] - (i == 4)),
                         W4A16_OK);
    assert_int_equal(w4a16_shard_writer_commit(w), W4A16_ERR_ARG);
    assert_non_null(strstr(w4a16_last_error(), "299 of its 300 bytes"));
    /* Outside a tensor, or past its end. */
    assert_int_equal(w4a16_shard_writer_put(w, TENSORS, 0, set.data[0], 1), W4A16_ERR_ARG);
    assert_int_equal(w4a16_shard_writer_put(w, 3, 99, set.data[3], 2), W4A16_ERR_ARG);
    w4a16_shard_writer_free(w);
    for (int s = 1; s <= 3; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-0000%d-of-00003.safetensors", s);
        assert_false(exists(dir, name));
    }
    assert_false(exists(dir, "model.safetensors.index.json"));

    /* A folder that does not exist: W4A16_ERR_IO naming it. */
    assert_int_equal(w4a16_shard_writer_create("/nonexistent/w4a16", set.tensors, TENSORS, 0, &w),
                     W4A16_ERR_IO);
    assert_non_null(strstr(w4a16_last_error(), "/nonexistent/w4a16/model.safetensors"));
    free_set(&set);
}

static void test_parse_shard_size(void **state) {
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {{"5GB", 5000000000u}, {"500MB", 500000000u}, {"2GiB", UINT64_C(2) << 30},
                {"64KB", 64000}, {"3MiB", UINT64_C(3) << 20}, {"123", 123}, {"7b", 7},
                {"10gb", 10000000000u}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        uint64_t bytes = 0;
        assert_int_equal(w4a16_parse_shard_size(good[i].text, &bytes), W4A16_OK);
        assert_int_equal(bytes, good[i].bytes);
    }
    const char *bad[] = {"", "GB", "5 GB", "5TB", "-5GB", "0", "0MB", "1.5GB", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t bytes = 0;
        assert_int_equal(w4a16_parse_shard_size(bad[i], &bytes), W4A16_ERR_ARG);
        assert_non_null(strstr(w4a16_last_error(), "shard size"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards_index_and_pieces),
        cmocka_unit_test(test_one_file_when_it_fits),
        cmocka_unit_test(test_nothing_left_behind),
        cmocka_unit_test(test_parse_shard_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
