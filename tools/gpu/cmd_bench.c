/* `w4a16 bench`: options; the measuring is in bench_run.c. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "bench.h"
#include "commands.h"
#include "gpu_commands.h"
#include "gpu_presence.h"
#include "kernels.h"

#define COMMAND "bench"

static void usage(FILE *out) {
    fprintf(out,
            "usage: w4a16 bench [--shapes %s|N,K[;N,K...]]\n"
            "                   [--m M1,M2,...] [--dtype f16|bf16] [--group 32|64|128|-1] [--asym]\n"
            "                   [--act-order]\n"
            "                   [--kernel %s] [--json FILE]\n"
            "\n"
            "Times cuBLAS on a dense weight of each shape (row \"cublas\"), every kernel that\n"
            "can run each M, and the dispatched choice (\"auto\", with the host time of one\n"
            "call), on random data; weights are cycled through copies larger than twice the\n"
            "L2, and each figure is the median of >= 30 CUDA-graph replays of >= 20 calls.\n"
            "Per shape, \"pack\" is the time to pack the layer from device memory (GB/s: the\n"
            "checkpoint tensors read plus the packed weight written) and \"dequant\" the\n"
            "fallback's dequantize alone (GB/s: packed bytes read plus 16-bit bytes written).\n"
            "Defaults: qwen3-4b, M = 1,2,4,...,2048,3968,8192, f16, group 128, symmetric.\n"
            "--act-order gives each weight a random g_idx (GPTQ's desc_act).\n"
            "--kernel limits the kernel rows (a comma list); cublas and auto always run.\n"
            "The table goes to stdout, progress to stderr; --json writes every row.\n",
            shape_set_names(), kernel_names_joined());
}

/* "decode,fallback": enables each named kernel; 0 for an unknown name. A
 * build without CUDA knows no kernel names: it reports no device instead. */
static int parse_kernels(const char *value, bench_options *options) {
    char buffer[256];
    if (strlen(value) >= sizeof buffer) return 0;
    strcpy(buffer, value);
    memset(options->kernel_enabled, 0, sizeof options->kernel_enabled);
    char *save = NULL;
    int count = 0;
    for (char *name = strtok_r(buffer, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int index = kernel_index(name);
        if (index < 0 && kernel_count() > 0) return 0;
        if (index >= 0) options->kernel_enabled[index] = 1;
        count++;
    }
    return count > 0;
}

int cmd_bench(int argc, char **argv) {
    bench_options options;
    memset(&options, 0, sizeof options);
    sweep_one_config_defaults(&options.sw);
    m_list_default_sweep(&options.sw.ms);
    for (int i = 0; i < kernel_count(); i++) options.kernel_enabled[i] = 1;

    const char *kernels = NULL;
    arg_option table[2 + SWEEP_OPTION_COUNT] = {
        {"--kernel", NULL, ARG_STRING, &kernels},
        {"--json", NULL, ARG_STRING, &options.json_path},
    };
    args_result parsed = sweep_parse(&options.sw, COMMAND, argc, argv, table, 2);
    if (parsed == ARGS_HELP) {
        usage(stdout);
        return EXIT_OK;
    }
    if (parsed != ARGS_OK || !sweep_one_config_check(&options.sw, COMMAND)) return EXIT_USAGE;
    if (kernels && !parse_kernels(kernels, &options))
        return usage_error(COMMAND, "--kernel '%s' is not %s or a comma list of them", kernels,
                           kernel_names_joined());
    if (!gpu_presence_require(COMMAND)) return EXIT_FAILURE_INPUT;
    return bench_run(&options);
}
