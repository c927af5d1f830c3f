/* The subcommands of the `w4a16` program. Each takes argc/argv starting at
 * its own name and returns the process exit code:
 *   0 success; 1 bad or unsupported input or any other failure (one line on
 *   stderr naming the problem); 2 usage error; 3 a check found wrong results. */
#ifndef W4A16_TOOLS_COMMANDS_H
#define W4A16_TOOLS_COMMANDS_H

enum { EXIT_OK = 0, EXIT_FAILURE_INPUT = 1, EXIT_USAGE = 2, EXIT_WRONG_RESULTS = 3 };

int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* The GPU commands (check, bench, tune) run in the GPU module: gpu_module.h. */

#endif
