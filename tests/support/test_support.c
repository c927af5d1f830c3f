#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dtype.h"

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

uint64_t test_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double test_rng_uniform(uint64_t *state, double lo, double hi) {
    return lo + (hi - lo) * ((double)(test_rng_next(state) >> 11) / 9007199254740992.0);
}

void test_fill_random(void *data, w4a16_dtype dtype, int64_t count, double lo, double hi,
                      uint64_t *state) {
    for (int64_t i = 0; i < count; i++) {
        float value = (float)test_rng_uniform(state, lo, hi);
        switch (dtype) {
        case W4A16_F32: ((float *)data)[i] = value; break;
        case W4A16_F16: ((uint16_t *)data)[i] = w4a16_float_to_f16(value); break;
        case W4A16_BF16: ((uint16_t *)data)[i] = w4a16_float_to_bf16(value); break;
        default: break;
        }
    }
}
