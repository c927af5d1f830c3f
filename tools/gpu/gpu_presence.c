/* Device presence through the public API (0 devices without a driver or in
 * a build without CUDA), and the GPU entry points of a build without CUDA. */
#include "gpu_presence.h"

#include <stdio.h>

#include "bench.h"
#include "check.h"
#include "commands.h"
#include "tune.h"
#include "w4a16.h"

int gpu_presence_found(void) {
    int count = 0;
    return w4a16_device_count(&count) == W4A16_OK && count > 0;
}

int gpu_presence_require(const char *command) {
    int count = 0;
    w4a16_status status = w4a16_device_count(&count);
    if (status == W4A16_OK && count > 0) return 1;
#ifdef W4A16_WITH_CUDA
    const char *build = "";
#else
    const char *build = " (this build has no CUDA support)";
#endif
    if (status != W4A16_OK)
        fprintf(stderr, "w4a16 %s: no CUDA device was found: %s\n", command, w4a16_last_error());
    else
        fprintf(stderr, "w4a16 %s: no CUDA device was found%s\n", command, build);
    return 0;
}

#ifndef W4A16_WITH_CUDA
/* Unreachable without a device, but the program must link. */
int bench_run(const bench_options *options) {
    (void)options;
    return gpu_presence_require("bench") ? EXIT_OK : EXIT_FAILURE_INPUT;
}

int check_run(const check_options *options) {
    (void)options;
    return gpu_presence_require("check") ? EXIT_OK : EXIT_FAILURE_INPUT;
}

int tune_run(const tune_options *options) {
    (void)options;
    return gpu_presence_require("tune") ? EXIT_OK : EXIT_FAILURE_INPUT;
}
#endif
