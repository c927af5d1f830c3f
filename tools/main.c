/* w4a16: inspect, convert and quantize checkpoints; check and benchmark the
 * GPU kernels against cuBLAS; a demo of the whole path. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gpu_module.h"
#include "w4a16.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo", cmd_demo, "quantize a Qwen3-4B gate_up layer, check it, and time it on the GPU"},
    {"inspect", cmd_inspect, "list a checkpoint's format, quantized layers and tensors"},
    {"convert", cmd_convert, "convert a checkpoint between dense, awq, gptq, gptq_v2 and ct"},
    {"quantize", cmd_quantize, "quantize a dense checkpoint's linear layers to 4 bits"},
    /* GPU commands: run by the GPU module, loaded only for them. */
    {"check", gpu_module_command, "check every GPU kernel against the fp64 reference"},
    {"bench", gpu_module_command, "time every GPU kernel against cuBLAS"},
    {"tune", gpu_module_command, "time every kernel at each M and print where auto should switch"},
};

static void print_usage(FILE *out) {
    fprintf(out, "usage: w4a16 COMMAND [ARGS...]   (w4a16 COMMAND --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nw4a16 %s\n", w4a16_version());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("w4a16 %s (%s)\n", w4a16_version(), W4A16_GIT_COMMIT);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "w4a16: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
