#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/rng.h"

static void make_dirs(const char *path) {
    char buffer[4096];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buffer, 0755);
            *p = '/';
        }
    }
    mkdir(buffer, 0755);
}

const char *test_scratch_dir(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", W4A16_TEST_TMPDIR, name);
    char command[4200];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    if (system(command) != 0) return NULL;
    make_dirs(path);
    return path;
}

int test_write_file(const char *path, const void *bytes, size_t size) {
    FILE *file = fopen(path, "wb");
    if (file == NULL) return -1;
    size_t written = size ? fwrite(bytes, 1, size, file) : 0;
    int closed = fclose(file);
    return (written == size && closed == 0) ? 0 : -1;
}

int test_write_text(const char *path, const char *text) {
    return test_write_file(path, text, strlen(text));
}

/* The library's generator (src/common/rng.c), shared with the program. */
uint64_t test_rng_next(uint64_t *state) { return w4a16_rng_next(state); }

double test_rng_uniform(uint64_t *state, double lo, double hi) {
    return w4a16_rng_uniform(state, lo, hi);
}

void test_fill_bytes(uint8_t *bytes, size_t count, uint64_t *state) {
    for (size_t i = 0; i < count; i++) bytes[i] = (uint8_t)(w4a16_rng_next(state) >> 56);
}

void test_fill_random(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
                      uint64_t *state) {
    w4a16_rng_fill(data, dtype, count, lo, hi, state);
}
