/* libFuzzer target for reading quantized layers: any bytes, as a bare
 * .safetensors file opened as each 4-bit format (parameters then come from
 * the tensors), either fail to open with a message, or give layers whose
 * sources validate and whose every weight reads inside the file. Build with
 * clang and -DW4A16_FUZZ=ON; seeds are in corpus_layers/:
 *   build-fuzz/tests/fuzz_checkpoint_layers -max_total_time=60 -max_len=16384
 * tests/fuzz/corpus_layers */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "w4a16.h"

/* A broken invariant is a crash, so the fuzzer reports it with its input. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size);

/* Reads every weight of a small layer (ASan reports any read outside the mapping). */
static void read_weights(const w4a16_source *src) {
    enum { MAX_WEIGHTS = 1 << 16 };
    volatile double sink = 0;
    for (int64_t n = 0; n < src->n; n++)
        for (int64_t k = 0; k < src->k && n * src->k + k < MAX_WEIGHTS; k++)
            sink += w4a16_source_weight(src, n, k);
    (void)sink;
}

static void check_checkpoint(const w4a16_checkpoint *ckpt) {
    int64_t layers = w4a16_checkpoint_layer_count(ckpt), quantized = 0;
    for (int64_t i = 0; i < layers; i++) {
        w4a16_layer_info info;
        EXPECT(w4a16_checkpoint_layer(ckpt, i, &info) == W4A16_OK);
        EXPECT(info.name != NULL && info.reason != NULL);
        int64_t found;
        EXPECT(w4a16_checkpoint_find_layer(ckpt, info.name, &found) == W4A16_OK && found == i);
        w4a16_source src;
        w4a16_status status = w4a16_checkpoint_source(ckpt, i, &src);
        EXPECT((status == W4A16_OK) == (info.status == W4A16_LAYER_QUANTIZED));
        if (status != W4A16_OK) continue;
        quantized++;
        EXPECT(info.reason[0] == '\0' && src.n == info.n && src.k == info.k);
        EXPECT(w4a16_source_validate(&src) == W4A16_OK);
        read_weights(&src);
    }
    EXPECT(quantized > 0);
    for (int64_t t = 0; t < w4a16_checkpoint_tensor_count(ckpt); t++) {
        w4a16_tensor_info tensor;
        EXPECT(w4a16_checkpoint_tensor(ckpt, t, &tensor) == W4A16_OK);
        EXPECT(tensor.layer >= -1 && tensor.layer < layers);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
    /* One in-memory file, rewritten for each input: its /proc path opens like any file. */
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz_checkpoint", 0);
        EXPECT(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    EXPECT(ftruncate(fd, 0) == 0);
    EXPECT(size == 0 || pwrite(fd, bytes, size, 0) == (ssize_t)size);
    static const w4a16_format formats[] = {W4A16_FORMAT_AWQ, W4A16_FORMAT_GPTQ,
                                           W4A16_FORMAT_GPTQ_V2, W4A16_FORMAT_CT};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        w4a16_checkpoint *ckpt = NULL;
        w4a16_status status = w4a16_checkpoint_open(path, formats[f], &ckpt);
        if (status != W4A16_OK) {
            EXPECT(ckpt == NULL && w4a16_last_error()[0] != '\0');
            continue;
        }
        EXPECT(w4a16_checkpoint_format(ckpt) == formats[f]);
        check_checkpoint(ckpt);
        w4a16_checkpoint_close(ckpt);
    }
    return 0;
}
