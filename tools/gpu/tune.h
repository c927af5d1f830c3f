/* `w4a16 tune`: every kernel at every M of a sweep, timed as bench times
 * them, and the crossover table that auto's rule comes from
 * (docs/DESIGN.md §5, src/gpu/dispatch_rules.c). */
#ifndef W4A16_TOOLS_TUNE_H
#define W4A16_TOOLS_TUNE_H

#include "sweep.h"

typedef struct {
    sweep sw;              /* one dtype, one group size, one zero-point kind; M ascending */
    const char *json_path; /* NULL: no JSON */
} tune_options;

/* Runs the sweep on device 0; returns the process exit code. */
int tune_run(const tune_options *options);

#endif
