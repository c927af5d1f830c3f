/* Built-in shape sets and the parsers of --shapes and --m. */
#include "shapes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Larger than any layer we know of; keeps N*K*M products far from overflow. */
#define DIM_MAX (INT64_C(1) << 20)

typedef struct {
    const char *set;
    const char *name;
    int64_t n, k;
} builtin_shape;

/* Qwen3-4B: hidden 2560, intermediate 9728, 32 q / 8 kv heads of 128, with
 * q|k|v and gate|up merged as engines run them; qwen3-4b-unmerged: the
 * projections Hugging Face's model runs one by one instead (o_proj and down
 * are the same either way; k and v, gate and up are one shape each, so one
 * entry times both). Llama-3-70B: hidden 8192, intermediate 28672, 64 q / 8 kv
 * heads of 128; up alone (gate|up merged would be 57344x8192). */
static const builtin_shape BUILTIN[] = {
    {"qwen3-4b", "qkv", 6144, 2560},      {"qwen3-4b", "o_proj", 2560, 4096},
    {"qwen3-4b", "gate_up", 19456, 2560}, {"qwen3-4b", "down", 2560, 9728},
    {"qwen3-4b-unmerged", "q", 4096, 2560}, {"qwen3-4b-unmerged", "k/v", 1024, 2560},
    {"qwen3-4b-unmerged", "gate/up", 9728, 2560},
    {"llama3-70b", "qkv", 10240, 8192},   {"llama3-70b", "o_proj", 8192, 8192},
    {"llama3-70b", "up", 28672, 8192},    {"llama3-70b", "down", 8192, 28672},
};
#define BUILTIN_COUNT ((int)(sizeof BUILTIN / sizeof BUILTIN[0]))

static const int64_t DEFAULT_M_SWEEP[] = {1,   2,   4,    8,    16,   32,   64,
                                          128, 256, 512, 1024, 2048, 3968, 8192};
/* tune's: the default sweep, every M the decode kernels take, and steps of
 * about 1.5x past them, where sm90_prefill meets the fallback. For qwen3-4b
 * on an H100, ~560 rows, ~75 s of timing (estimated from bench's rows of
 * 2026-12-07: 0.05-0.15 s a row, up to ~0.8 s at M = 8192), which leaves
 * room for the setup within scripts/gpu-check's 200 s. */
static const int64_t CROSSOVER_M_SWEEP[] = {
    1,  2,   3,   4,   5,   6,   7,    8,    9,    10,   11,   12,   13,   14,  15,   16,  17,   24,
    32, 48,  64,  96,  128, 192, 256,  384,  512,  768,  1024, 1536, 2048, 3072, 3968, 4096, 6144, 8192};

const char *shape_set_names(void) { return "qwen3-4b|qwen3-4b-unmerged|llama3-70b"; }

/* A whole decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) return -1;
    *out = value;
    return 0;
}

static int add_shape(shape_list *out, const char *name, int64_t n, int64_t k, char *err,
                     size_t err_size) {
    if (out->count == SHAPES_MAX) {
        snprintf(err, err_size, "more than %d shapes", SHAPES_MAX);
        return -1;
    }
    tool_shape *shape = &out->items[out->count++];
    snprintf(shape->name, sizeof shape->name, "%s", name);
    shape->n = n;
    shape->k = k;
    return 0;
}

static int parse_item(const char *item, shape_list *out, char *err, size_t err_size) {
    int found = 0;
    for (int i = 0; i < BUILTIN_COUNT; i++) {
        if (strcmp(item, BUILTIN[i].set) != 0) continue;
        found = 1;
        if (add_shape(out, BUILTIN[i].name, BUILTIN[i].n, BUILTIN[i].k, err, err_size)) return -1;
    }
    if (found) return 0;

    char n_text[32], k_text[32];
    const char *comma = strchr(item, ',');
    int64_t n, k;
    if (comma == NULL || (size_t)(comma - item) >= sizeof n_text || strlen(comma + 1) >= sizeof k_text) {
        snprintf(err, err_size, "shape '%s' is neither %s nor N,K", item, shape_set_names());
        return -1;
    }
    memcpy(n_text, item, (size_t)(comma - item));
    n_text[comma - item] = '\0';
    strcpy(k_text, comma + 1);
    if (parse_int(n_text, 1, DIM_MAX, &n) || parse_int(k_text, 1, DIM_MAX, &k)) {
        snprintf(err, err_size, "shape '%s': N and K must be integers in 1..%" PRId64, item,
                 DIM_MAX);
        return -1;
    }
    char name[32];
    snprintf(name, sizeof name, "%" PRId64 "x%" PRId64, n, k);
    return add_shape(out, name, n, k, err, err_size);
}

/* A writable copy of an option's value for strtok_r; -1 when it is too long. */
static int copy_spec(const char *spec, const char *option, char *buffer, size_t size, char *err,
                     size_t err_size) {
    if (strlen(spec) >= size) {
        snprintf(err, err_size, "%s is longer than %zu characters", option, size - 1);
        return -1;
    }
    strcpy(buffer, spec);
    return 0;
}

int shapes_parse(const char *spec, shape_list *out, char *err, size_t err_size) {
    char buffer[1024];
    if (copy_spec(spec, "--shapes", buffer, sizeof buffer, err, err_size)) return -1;
    out->count = 0;
    char *rest = buffer;
    for (char *item = strsep(&rest, ";"); item; item = strsep(&rest, ";")) {
        if (item[0] == '\0') {
            snprintf(err, err_size, "--shapes '%s' has an empty item", spec);
            return -1;
        }
        if (parse_item(item, out, err, err_size)) return -1;
    }
    return 0;
}

int m_list_parse(const char *spec, m_list *out, char *err, size_t err_size) {
    char buffer[1024];
    if (copy_spec(spec, "--m", buffer, sizeof buffer, err, err_size)) return -1;
    out->count = 0;
    char *rest = buffer;
    for (char *item = strsep(&rest, ","); item; item = strsep(&rest, ",")) {
        int64_t m;
        if (parse_int(item, 1, DIM_MAX, &m)) {
            snprintf(err, err_size, "M '%s' is not an integer in 1..%" PRId64, item, DIM_MAX);
            return -1;
        }
        if (out->count == M_LIST_MAX) {
            snprintf(err, err_size, "more than %d values of M", M_LIST_MAX);
            return -1;
        }
        out->values[out->count++] = m;
    }
    return 0;
}

void m_list_default_sweep(m_list *out) {
    out->count = (int)(sizeof DEFAULT_M_SWEEP / sizeof DEFAULT_M_SWEEP[0]);
    memcpy(out->values, DEFAULT_M_SWEEP, sizeof DEFAULT_M_SWEEP);
}

void m_list_crossover_sweep(m_list *out) {
    out->count = (int)(sizeof CROSSOVER_M_SWEEP / sizeof CROSSOVER_M_SWEEP[0]);
    memcpy(out->values, CROSSOVER_M_SWEEP, sizeof CROSSOVER_M_SWEEP);
}

void m_list_sort_unique(m_list *ms) {
    int count = 0;
    for (int i = 0; i < ms->count; i++) {
        int64_t m = ms->values[i];
        int at = count;
        while (at > 0 && ms->values[at - 1] > m) at--;
        if (at > 0 && ms->values[at - 1] == m) continue;
        memmove(&ms->values[at + 1], &ms->values[at], (size_t)(count - at) * sizeof m);
        ms->values[at] = m;
        count++;
    }
    ms->count = count;
}

int64_t m_list_max(const m_list *ms) {
    int64_t largest = 0;
    for (int i = 0; i < ms->count; i++)
        if (ms->values[i] > largest) largest = ms->values[i];
    return largest;
}
