/* `w4a16 check`: every kernel on random data against the fp64 reference,
 * next to cuBLAS's own error on the same dequantized weights. */
#ifndef W4A16_TOOLS_CHECK_H
#define W4A16_TOOLS_CHECK_H

#include <stdint.h>

#include "sweep.h"

typedef struct {
    sweep sw;
    uint64_t seed;
} check_options;

/* Runs the sweep on device 0; returns the process exit code (3 when a
 * kernel breaks docs/DESIGN.md §1's criterion). */
int check_run(const check_options *options);

#endif
