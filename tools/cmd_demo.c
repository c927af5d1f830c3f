/* w4a16 demo [--out DIR] [--force] [--dtype f16|bf16]: the whole path on a
 * built-in layer. A random Qwen3-4B gate_up layer (N=19456, K=2560) is
 * quantized as AWQ g128, written to a checkpoint, read back and compared
 * exactly, and checked on sampled rows against the fp64 reference through a
 * 16-bit GEMM emulated on the CPU; then the GPU part (demo_gpu.h, in the
 * GPU module: gpu_module.h) packs, runs and times it where a GPU is present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "check_compare.h"
#include "commands.h"
#include "common/rng.h"
#include "demo_checkpoint.h"
#include "demo_emulate.h"
#include "gpu_module.h"
#include "failure.h"
#include "out_dir.h"
#include "random_weight.h"
#include "ref_parallel.h"

static const char *const COMMAND = "demo";

enum { DEMO_N = 19456, DEMO_K = 2560, DEMO_GROUP = 128, DEMO_M = 2048 };

static void print_help(void) {
    printf("usage: w4a16 demo [--out DIR] [--force] [--dtype f16|bf16]\n"
           "\n"
           "The whole path on a built-in layer, in seconds: a random Qwen3-4B gate_up layer\n"
           "(N=%d, K=%d) is quantized as AWQ (group %d, asymmetric), written to a\n"
           "checkpoint, read back (the read-back weight must equal the quantized one\n"
           "exactly), and checked on 16 sampled rows of M=%d random activations: a 16-bit\n"
           "GEMM emulated on the CPU (the weight rounded to the activation dtype, fp32\n"
           "accumulation) against the fp64 reference, with docs/DESIGN.md's criterion\n"
           "max|C - C_ref| / max|C_ref| <= 1e-3 (f16) or 8e-3 (bf16). Then, where a GPU is\n"
           "present, the GPU part packs the layer, runs the GEMM and checks and times it;\n"
           "without one it says it skipped.\n"
           "\n"
           "  --out DIR      keep the checkpoint in DIR (default: a temporary folder, removed)\n"
           "  --force        write into a non-empty DIR\n"
           "  --dtype DTYPE  activations: f16 (default) or bf16\n"
           "\n"
           "Exits 3 when a check fails.\n",
           DEMO_N, DEMO_K, DEMO_GROUP, DEMO_M);
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + 1e-9 * (double)(now.tv_nsec - start->tv_nsec);
}

static void lap(struct timespec *t) {
    clock_gettime(CLOCK_MONOTONIC, t);
}

/* A temporary folder for the checkpoint, or DIR from --out. */
static int make_folder(const char *out, int force, char *dir, size_t size) {
    if (out != NULL) {
        snprintf(dir, size, "%s", out);
        int rc = out_dir_check(COMMAND, dir, force, NULL);
        return rc != 0 ? rc : out_dir_create(COMMAND, dir, NULL);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, size, "%s/w4a16-demo-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) return tool_fail(COMMAND, "cannot create a folder in %s", dir);
    return 0;
}

static void remove_folder(const char *dir) {
    const char *files[] = {"model.safetensors", "config.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *path = path_join(dir, files[i]);
        if (path) unlink(path);
        free(path);
    }
    rmdir(dir);
}

/* Everything the demo holds, freed in one place. */
typedef struct {
    demo_weight weight;
    w4a16_checkpoint *ckpt;
    w4a16_source source; /* the layer as read back from the checkpoint */
    uint16_t *A;         /* [DEMO_M, DEMO_K] activations */
    int64_t rows[CHECK_MAX_ROWS];
    int n_rows;
    double *C_ref;       /* [n_rows, DEMO_N] fp64 reference */
    uint16_t *W16;       /* Ŵ rounded to the activation dtype */
    uint16_t *C_rows;    /* [n_rows, DEMO_N] emulated 16-bit GEMM */
} demo_state;

static void demo_state_free(demo_state *s) {
    demo_weight_free(&s->weight);
    w4a16_checkpoint_close(s->ckpt);
    free(s->A);
    free(s->C_ref);
    free(s->W16);
    free(s->C_rows);
}

/* Opens the checkpoint and compares the layer with what was quantized. */
static int read_back(const char *dir, demo_state *s) {
    struct timespec t;
    lap(&t);
    int64_t index;
    w4a16_status st = w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, &s->ckpt);
    if (st == W4A16_OK) st = w4a16_checkpoint_find_layer(s->ckpt, s->weight.layer_name, &index);
    if (st == W4A16_OK) st = w4a16_checkpoint_source(s->ckpt, index, &s->source);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, dir);
    int64_t mismatches = demo_count_mismatches(&s->weight, &s->source);
    int64_t groups = DEMO_K / DEMO_GROUP;
    if (mismatches != 0) {
        printf("  read back: FAIL, %lld of the q, z and s values differ from those quantized\n",
               (long long)mismatches);
        return EXIT_WRONG_RESULTS;
    }
    printf("  read back: equals the quantized weight exactly (%lld q, %lld zeros, %lld "
           "scales)  %.2f s\n",
           (long long)DEMO_N * DEMO_K, (long long)DEMO_N * groups, (long long)DEMO_N * groups,
           seconds_since(&t));
    return 0;
}

/* The fp64 reference and the emulated 16-bit GEMM on sampled rows. */
static int check_on_cpu(demo_state *s, w4a16_dtype dtype, uint64_t *rng, double *error,
                        double *emulate_seconds) {
    struct timespec t;
    lap(&t);
    s->A = malloc((size_t)DEMO_M * DEMO_K * sizeof *s->A);
    s->W16 = malloc((size_t)DEMO_N * DEMO_K * sizeof *s->W16);
    s->C_ref = malloc((size_t)CHECK_MAX_ROWS * DEMO_N * sizeof *s->C_ref);
    s->C_rows = malloc((size_t)CHECK_MAX_ROWS * DEMO_N * sizeof *s->C_rows);
    if (!s->A || !s->W16 || !s->C_ref || !s->C_rows) return tool_fail(COMMAND, "out of memory");
    w4a16_rng_fill(s->A, dtype, (int64_t)DEMO_M * DEMO_K, -1.0, 1.0, rng);
    s->n_rows = check_sample_rows(DEMO_M, rng, s->rows);
    w4a16_status st = ref_gemm_parallel(&s->source, s->A, dtype, DEMO_K, s->rows, s->n_rows,
                                        s->C_ref);
    if (st != W4A16_OK) return tool_fail_status(COMMAND, st, "reference");
    printf("  fp64 reference: %d sampled rows of M=%d random activations  %.2f s\n", s->n_rows,
           DEMO_M, seconds_since(&t));
    lap(&t);
    source_dequantize(&s->source, dtype, s->W16);
    if (demo_emulate_gemm(s->W16, DEMO_N, DEMO_K, s->A, dtype, s->rows, s->n_rows, s->C_rows) != 0)
        return tool_fail(COMMAND, "out of memory");
    *error = check_relative_error(s->C_rows, dtype, s->C_ref, s->n_rows, DEMO_N);
    *emulate_seconds = seconds_since(&t);
    return 0;
}

static int run(const char *dir, w4a16_dtype dtype) {
    const char *dtype_name = dtype == W4A16_BF16 ? "bf16" : "f16";
    demo_state s;
    memset(&s, 0, sizeof s);
    s.weight.layer_name = "model.layers.0.mlp.gate_up_proj";
    s.weight.n = DEMO_N;
    s.weight.k = DEMO_K;
    s.weight.group_size = DEMO_GROUP;
    uint64_t rng = 20240611;
    printf("w4a16 demo: a random Qwen3-4B gate_up layer, N=%d K=%d, as AWQ (group %d, "
           "asymmetric); activations %s\n",
           DEMO_N, DEMO_K, DEMO_GROUP, dtype_name);

    struct timespec t;
    lap(&t);
    int rc = demo_write_checkpoint(COMMAND, dir, &rng, &s.weight);
    if (rc == 0)
        printf("  quantized and wrote %s/model.safetensors (%.1f MB) and config.json  %.2f s\n",
               dir, (double)s.weight.file_bytes / 1e6, seconds_since(&t));
    if (rc == 0) rc = read_back(dir, &s);
    double error = 0, limit = check_limit(0, dtype), seconds = 0;
    if (rc == 0) rc = check_on_cpu(&s, dtype, &rng, &error, &seconds);
    if (rc == 0) {
        int pass = error <= limit; /* false for NaN */
        printf("  16-bit GEMM emulated on the CPU (weight in %s, fp32 accumulation, C in %s):\n"
               "    max|C - C_ref| / max|C_ref| = %.3g (limit %.0e)  %s  %.2f s\n",
               dtype_name, dtype_name, error, limit, pass ? "PASS" : "FAIL", seconds);
        if (!pass) rc = EXIT_WRONG_RESULTS;
    }
    if (rc == 0) {
        demo_layer layer = {"qwen3-4b gate_up", &s.source, DEMO_N, DEMO_K, dtype, s.A, DEMO_M,
                            s.rows, s.n_rows, s.C_ref, limit};
        fflush(stdout);
        rc = gpu_module_demo(&layer);
    }
    demo_state_free(&s);
    return rc;
}

int cmd_demo(int argc, char **argv) {
    const char *out = NULL, *dtype_name = NULL;
    int force = 0;
    const arg_option options[] = {
        {"--out", "-o", ARG_STRING, &out},
        {"--force", NULL, ARG_FLAG, &force},
        {"--dtype", NULL, ARG_STRING, &dtype_name},
    };
    args_result parsed = args_parse(argc, argv, options, 3, NULL, 0, 0);
    if (parsed == ARGS_HELP) {
        print_help();
        return EXIT_OK;
    }
    if (parsed == ARGS_ERROR) return EXIT_USAGE;
    static const w4a16_dtype dtypes[] = {W4A16_F16, W4A16_BF16};
    w4a16_dtype dtype = W4A16_F16;
    if (dtype_name && !args_parse_dtype(COMMAND, "--dtype", dtype_name, dtypes, 2, &dtype))
        return EXIT_USAGE;
    char dir[4096];
    int rc = make_folder(out, force, dir, sizeof dir);
    if (rc != 0) return rc;
    rc = run(dir, dtype);
    if (out == NULL) remove_folder(dir);
    return rc;
}
