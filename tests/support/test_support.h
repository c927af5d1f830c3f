/* Shared helpers for the cmocka tests: scratch folders, seeded random data. */
#ifndef W4A16_TEST_SUPPORT_H
#define W4A16_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "w4a16.h"

/* A fresh, empty folder under the build tree's tests/tmp; returns a static path. */
const char *test_scratch_dir(const char *name);
/* Writes bytes to a file; returns 0 on success. */
int test_write_file(const char *path, const void *bytes, size_t size);
/* Writes a NUL-terminated string to a file; returns 0 on success. */
int test_write_text(const char *path, const char *text);

/* splitmix64: reproducible random numbers from a seed. */
uint64_t test_rng_next(uint64_t *state);
/* Uniform in [lo, hi). */
double test_rng_uniform(uint64_t *state, double lo, double hi);
/* Fills bytes with random bytes. */
void test_fill_bytes(uint8_t *bytes, size_t count, uint64_t *state);
/* Fills a F32, F16 or BF16 array with uniform values in [lo, hi), each rounded to the dtype. */
void test_fill_random(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
                      uint64_t *state);

#endif
