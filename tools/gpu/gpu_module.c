/* The GPU commands' module (see tools/gpu_module.h): its one exported
 * function and the table of the commands it runs. */
#include "gpu_module.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gpu_commands.h"
#include "w4a16.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} COMMANDS[] = {
    {"check", cmd_check},
    {"bench", cmd_bench},
    {"tune", cmd_tune},
};

static int run_command(int argc, char **argv) {
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (argc > 0 && strcmp(argv[0], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc, argv);
    fprintf(stderr, "w4a16: the GPU module has no command '%s'\n", argc > 0 ? argv[0] : "");
    return EXIT_USAGE;
}

static const w4a16_gpu_module MODULE = {W4A16_GPU_MODULE_VERSION, run_command, demo_gpu};

W4A16_API const w4a16_gpu_module *w4a16_gpu_module_entry(void);
W4A16_API const w4a16_gpu_module *w4a16_gpu_module_entry(void) { return &MODULE; }
