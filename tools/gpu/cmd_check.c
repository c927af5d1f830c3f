/* `w4a16 check`: options; the checking is in check_run.c. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "commands.h"
#include "gpu_commands.h"
#include "gpu_presence.h"

#define COMMAND "check"

static void usage(FILE *out) {
    fprintf(out,
            "usage: w4a16 check [--shapes %s|N,K[;N,K...]]\n"
            "                   [--m M1,M2,...] [--dtype f16|bf16] [--group 32|64|128|-1] [--sym|--asym]\n"
            "                   [--act-order] [--seed S]\n"
            "\n"
            "Runs every kernel, forced in turn, on random data (A uniform in [-1, 1], random\n"
            "4-bit q, zeros and scales) with C poisoned beforehand, and compares sampled rows\n"
            "of C with the fp64 reference: err = max|C - C_ref| / max|C_ref|, next to the\n"
            "error of cuBLAS (fp32 compute) on W rounded to the activation dtype. A kernel\n"
            "passes when err <= max(1.5 x cublas_err, 1e-3 for f16 / 8e-3 for bf16) and no\n"
            "output is NaN, Inf or unwritten; a kernel that cannot take a call is skipped.\n"
            "Defaults: qwen3-4b, M = 1,5,16,100,2048, both dtypes, symmetric and asymmetric,\n"
            "group 128 and per-channel (-1), seed 1. --dtype and --group take comma lists.\n"
            "--act-order: a random g_idx (GPTQ's desc_act); per-channel cases are skipped.\n"
            "Exit status 3 when any kernel fails.\n",
            shape_set_names());
}

int cmd_check(int argc, char **argv) {
    check_options options;
    memset(&options, 0, sizeof options);
    char err[256];
    shapes_parse("qwen3-4b", &options.sw.shapes, err, sizeof err);
    m_list_parse("1,5,16,100,2048", &options.sw.ms, err, sizeof err);
    options.sw.dtypes[0] = W4A16_F16, options.sw.dtypes[1] = W4A16_BF16, options.sw.n_dtypes = 2;
    options.sw.asyms[0] = 0, options.sw.asyms[1] = 1, options.sw.n_asyms = 2;
    options.sw.groups[0] = 128, options.sw.groups[1] = -1, options.sw.n_groups = 2;

    const char *seed = NULL;
    arg_option table[1 + SWEEP_OPTION_COUNT] = {{"--seed", NULL, ARG_STRING, &seed}};
    args_result parsed = sweep_parse(&options.sw, COMMAND, argc, argv, table, 1);
    if (parsed == ARGS_HELP) {
        usage(stdout);
        return EXIT_OK;
    }
    if (parsed != ARGS_OK) return EXIT_USAGE;
    long long seed_value = 1;
    if (seed && !args_parse_int(COMMAND, "--seed", seed, 0, 0x7fffffffffffffffLL, &seed_value))
        return EXIT_USAGE;
    options.seed = (uint64_t)seed_value;
    if (!gpu_presence_require(COMMAND)) return EXIT_FAILURE_INPUT;
    return check_run(&options);
}
