/* `w4a16 tune`: options; the measuring is in tune_run.c, the table in
 * tools/tune_table.c. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gpu_commands.h"
#include "gpu_presence.h"
#include "tune.h"

#define COMMAND "tune"

static void usage(FILE *out) {
    fprintf(out,
            "usage: w4a16 tune [--shapes %s|N,K[;N,K...]]\n"
            "                  [--m M1,M2,...] [--dtype f16|bf16] [--group 32|64|128|-1] [--asym]\n"
            "                  [--act-order]\n"
            "                  [--json FILE]\n"
            "\n"
            "Times every kernel that can take each call (forced in turn) and cuBLAS on a\n"
            "dense weight, as `w4a16 bench` does (random data, weights cycled past twice the\n"
            "L2, the median of >= 30 CUDA-graph replays of >= 20 calls), and prints per\n"
            "shape and M the time of each, the fastest kernel, what auto picks and whether\n"
            "it is within 3%% of the fastest; then, per pair of kernels and shape, the M\n"
            "at which the faster one changes, and the rule the measurements suggest for\n"
            "src/gpu/dispatch_rules.c. Defaults: qwen3-4b, M = 1..16, 17, 24, 32, 48, 64,\n"
            "96, ..., 1024, 1536, 2048, 3072, 3968, 4096, 6144, 8192 (about 2 minutes on an\n"
            "H100; --m narrows it), f16, group 128, symmetric.\n"
            "The table goes to stdout, each row to stderr as it is measured; --json writes\n"
            "the rows, the choices, the crossovers and the suggested rule, after each shape.\n",
            shape_set_names());
}

int cmd_tune(int argc, char **argv) {
    tune_options options;
    memset(&options, 0, sizeof options);
    sweep_one_config_defaults(&options.sw);
    m_list_crossover_sweep(&options.sw.ms);

    arg_option table[1 + SWEEP_OPTION_COUNT] = {{"--json", NULL, ARG_STRING, &options.json_path}};
    args_result parsed = sweep_parse(&options.sw, COMMAND, argc, argv, table, 1);
    if (parsed == ARGS_HELP) {
        usage(stdout);
        return EXIT_OK;
    }
    if (parsed != ARGS_OK || !sweep_one_config_check(&options.sw, COMMAND)) return EXIT_USAGE;
    /* The crossovers read along M: in order, each M once. */
    m_list_sort_unique(&options.sw.ms);
    if (!gpu_presence_require(COMMAND)) return EXIT_FAILURE_INPUT;
    return tune_run(&options);
}
