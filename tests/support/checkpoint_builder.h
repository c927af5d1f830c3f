/* Small checkpoints for the checkpoint tests: tensors gathered in memory and
 * written with the library's safetensors writer, and quantized layers with
 * random values encoded in each format through its layout descriptors. */
#ifndef W4A16_TEST_CHECKPOINT_BUILDER_H
#define W4A16_TEST_CHECKPOINT_BUILDER_H

#include <stdint.h>

#include "checkpoint/safetensors.h"
#include "w4a16.h"

enum { TEST_CKPT_MAX_TENSORS = 128 };

typedef struct {
    w4a16_st_write_tensor tensors[TEST_CKPT_MAX_TENSORS];
    int64_t count;
} test_ckpt;

/* Adds a copy of data (numel * dtype size bytes) under a copy of name. */
void test_ckpt_add(test_ckpt *c, const char *name, w4a16_dtype dtype, int32_t ndim,
                   const int64_t *shape, const void *data);
void test_ckpt_add_2d(test_ckpt *c, const char *name, w4a16_dtype dtype, int64_t rows, int64_t cols,
                      const void *data);
/* A 2-D tensor of random F16 values (a dense weight). */
void test_ckpt_add_dense(test_ckpt *c, const char *name, int64_t rows, int64_t cols, uint64_t *rng);
/* Removes a tensor by name (to build a malformed layer); asserts it existed. */
void test_ckpt_remove(test_ckpt *c, const char *name);
/* The tensor by name, for tests that corrupt one in place. */
w4a16_st_write_tensor *test_ckpt_get(test_ckpt *c, const char *name);
/* Writes the file; asserts success. */
void test_ckpt_write(const test_ckpt *c, const char *path);
/* Writes the file with the data in name order, as some writers lay it out
 * (the library's writer keeps every tensor aligned): tensors after an odd
 * number of bytes sit at odd offsets. */
void test_ckpt_write_name_order(const test_ckpt *c, const char *path);
/* Writes dir/model.safetensors and, unless config is NULL, dir/config.json. */
void test_ckpt_write_folder(const test_ckpt *c, const char *dir, const char *config);
void test_ckpt_free(test_ckpt *c);

/* A quantized weight in canonical form: q[n, k], z[n, g], s[n, g] (F16 bits). */
typedef struct {
    int64_t n, k, group_size, groups;
    uint8_t *q;       /* [n * k], 0..15 */
    uint8_t *z;       /* [n * groups]; NULL when symmetric (z = 8) */
    uint16_t *scales; /* [n * groups], F16 */
    int32_t *g_idx;   /* [k], or NULL */
} test_layer;

/* Random values: zeros in the range `format` stores (1..16 for GPTQ v1, else
 * 0..15) when asym; act_order shuffles the group of each column. */
void test_layer_random(test_layer *l, w4a16_format format, int64_t n, int64_t k, int64_t group_size,
                       int asym, int act_order, uint64_t *rng);
void test_layer_free(test_layer *l);
/* Adds prefix's tensors in format, packed through w4a16_format_layout_get's
 * layouts (symmetric layers store z = 8 where the format keeps zeros; GPTQ
 * layers without act-order store the trivial g_idx k / G, as GPTQ writers do). */
void test_ckpt_add_layer(test_ckpt *c, w4a16_format format, const char *prefix,
                         const test_layer *l);
/* Asserts that src holds exactly l: shape, every q, z, s and g_idx. */
void test_expect_source(const w4a16_source *src, const test_layer *l);

/* Opens a checkpoint, failing the test with the library's message if it cannot. */
w4a16_checkpoint *test_open_ok(const char *path, w4a16_format format);
/* The source of the layer named `layer`; fails the test if there is none. */
void test_source_of(const w4a16_checkpoint *ckpt, const char *layer, w4a16_source *src);
/* The info of the layer named `layer`; fails the test if there is none. */
void test_layer_of(const w4a16_checkpoint *ckpt, const char *layer, w4a16_layer_info *info);
/* Asserts the status of the layer named `layer` and that its reason holds reason_needle. */
void test_expect_layer_status(const w4a16_checkpoint *ckpt, const char *layer,
                              w4a16_layer_status status, const char *reason_needle);

/* Writes text to dir/name; asserts success. */
void test_write_config(const char *dir, const char *name, const char *text);
/* Asserts that w4a16_last_error() contains needle. */
void test_expect_error_has(const char *needle);

#endif
