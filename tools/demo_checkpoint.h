/* The checkpoint half of `w4a16 demo`: a random dense layer quantized as
 * AWQ, written to a checkpoint folder, opened again, and compared with what
 * was quantized. */
#ifndef W4A16_TOOLS_DEMO_CHECKPOINT_H
#define W4A16_TOOLS_DEMO_CHECKPOINT_H

#include <stdint.h>

#include "w4a16.h"

typedef struct {
    const char *layer_name;  /* prefix of the layer's tensors */
    int64_t n, k, group_size;
    w4a16_unpacked quantized; /* what the quantizer produced */
    uint64_t file_bytes;      /* model.safetensors */
} demo_weight;

/* Draws a dense F16 [n, k] weight (uniform in [-0.05, 0.05)), quantizes it
 * to AWQ (asymmetric, F16 scales) and writes DIR/model.safetensors and
 * DIR/config.json. Returns 0, or reports one line and returns 1. */
int demo_write_checkpoint(const char *command, const char *dir, uint64_t *rng, demo_weight *out);

/* Counts the q, z and s of the layer read back through `src` that differ
 * from what was quantized (0 means the read-back Ŵ equals it exactly). */
int64_t demo_count_mismatches(const demo_weight *w, const w4a16_source *src);

void demo_weight_free(demo_weight *w);

#endif
