/* Quantize, write and read back the demo's layer (see demo_checkpoint.h). */
#include "demo_checkpoint.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint_writer.h"
#include "checkpoint/source.h"
#include "common/rng.h"
#include "failure.h"
#include "out_dir.h"
#include "quantize/encode.h"
#include "quantize/quantization_config.h"
#include "quantize/unpacked.h"

static int quantize_random(const char *command, uint64_t *rng, demo_weight *w) {
    uint16_t *dense = malloc((size_t)(w->n * w->k) * sizeof *dense);
    if (dense == NULL) return tool_fail(command, "out of memory for a %lldx%lld weight",
                                        (long long)w->n, (long long)w->k);
    w4a16_rng_fill(dense, W4A16_F16, w->n * w->k, -0.05, 0.05, rng);
    w4a16_status st = w4a16_quantize(dense, W4A16_F16, w->n, w->k, w->group_size, 0, W4A16_F16,
                                     &w->quantized);
    free(dense);
    return st == W4A16_OK ? 0 : tool_fail_status(command, st, "quantize");
}

static int write_folder(const char *command, const char *dir, demo_weight *w) {
    w4a16_tensor_list tensors = {0};
    w4a16_quantization_params params = {.group_size = w->group_size};
    json_t *config = json_object(), *qc = NULL;
    w4a16_status st = w4a16_encode(&w->quantized, W4A16_FORMAT_AWQ, w->layer_name, &tensors, NULL);
    if (st == W4A16_OK) st = w4a16_quantization_config(W4A16_FORMAT_AWQ, &params, &qc);
    if (st == W4A16_OK) {
        json_object_set_new(config, "quantization_config", qc);
        st = w4a16_checkpoint_write(dir, &tensors, config);
    }
    json_decref(config);
    w4a16_tensor_list_free(&tensors);
    if (st != W4A16_OK) return tool_fail_status(command, st, dir);
    char *path = path_join(dir, "model.safetensors");
    struct stat info;
    if (path != NULL && stat(path, &info) == 0) w->file_bytes = (uint64_t)info.st_size;
    free(path);
    return 0;
}

int demo_write_checkpoint(const char *command, const char *dir, uint64_t *rng, demo_weight *out) {
    int rc = quantize_random(command, rng, out);
    return rc != 0 ? rc : write_folder(command, dir, out);
}

int64_t demo_count_mismatches(const demo_weight *w, const w4a16_source *src) {
    const w4a16_unpacked *u = &w->quantized;
    if (src->n != u->n || src->k != u->k || src->group_size != u->group_size) return -1;
    int64_t groups = w4a16_unpacked_groups(u), mismatches = 0;
    for (int64_t n = 0; n < u->n; n++) {
        for (int64_t k = 0; k < u->k; k++)
            mismatches += w4a16_source_q(src, n, k) != u->q[n * u->k + k];
        for (int64_t g = 0; g < groups; g++) {
            mismatches += w4a16_source_zero(src, n, g) != w4a16_unpacked_zero(u, n, g);
            mismatches += w4a16_source_scale(src, n, g) != (double)u->scales[n * groups + g];
        }
    }
    return mismatches;
}

void demo_weight_free(demo_weight *w) {
    w4a16_unpacked_free(&w->quantized);
}
