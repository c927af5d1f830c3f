/* The commands the GPU module runs (tools/gpu_module.h); each takes argc/argv
 * starting at its own name and returns the exit code (commands.h). */
#ifndef W4A16_TOOLS_GPU_GPU_COMMANDS_H
#define W4A16_TOOLS_GPU_GPU_COMMANDS_H

int cmd_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
