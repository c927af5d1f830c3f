/* libFuzzer target for the safetensors reader: any bytes either parse into a
 * file whose every tensor lies inside the input and agrees with its shape, or
 * fail with a message. Build with clang and -DW4A16_FUZZ=ON (scripts/test
 * runs it); seeds are in corpus/, made by make_corpus.py. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checkpoint/safetensors.h"

/* A broken invariant is a crash, so the fuzzer reports it with its input. */
#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) __builtin_trap();                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size);

static void check_tensor(const w4a16_st_file *file, int64_t index, const uint8_t *bytes,
                         size_t size) {
    const w4a16_st_tensor *t = &file->tensors[index];
    EXPECT(t->name != NULL);
    EXPECT(w4a16_st_find(file, t->name) == t);
    if (index > 0) EXPECT(strcmp(file->tensors[index - 1].name, t->name) < 0);
    EXPECT(t->ndim >= 0 && t->ndim <= W4A16_ST_MAX_DIMS);
    for (int32_t d = 0; d < t->ndim; d++) EXPECT(t->shape[d] >= 0);

    uint64_t expected = 0;
    EXPECT(w4a16_st_tensor_bytes(t->dtype, t->ndim, t->shape, &expected) == W4A16_OK);
    EXPECT(t->begin <= t->end && t->end - t->begin == expected);
    const uint8_t *data = t->data;
    EXPECT(data >= bytes && (size_t)(data - bytes) <= size);
    EXPECT(expected <= size - (size_t)(data - bytes));
    if (expected > 0) {
        /* Touch both ends, so ASan sees any pointer outside the input. */
        volatile uint8_t first = data[0], last = data[expected - 1];
        (void)first;
        (void)last;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    w4a16_st_file file;
    if (w4a16_st_parse(bytes, size, &file) != W4A16_OK) {
        EXPECT(w4a16_last_error()[0] != '\0'); /* every rejection says why */
        return 0;
    }
    uint64_t covered = 0;
    for (int64_t i = 0; i < file.tensor_count; i++) {
        check_tensor(&file, i, bytes, size);
        covered += file.tensors[i].end - file.tensors[i].begin;
    }
    /* The tensors tile the data exactly: 8 + header + data is the input. */
    EXPECT(size >= 8);
    uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; i--) header_bytes = (header_bytes << 8) | bytes[i];
    EXPECT(header_bytes <= W4A16_ST_MAX_HEADER_BYTES && bytes[8] == '{');
    EXPECT(8 + header_bytes + covered == size);
    for (int64_t i = 0; i < file.metadata_count; i++) {
        const w4a16_st_metadata *entry = &file.metadata[i];
        EXPECT(entry->key != NULL && entry->value != NULL);
        EXPECT(w4a16_st_metadata_get(&file, entry->key) == entry->value);
    }
    w4a16_st_close(&file);
    return 0;
}
