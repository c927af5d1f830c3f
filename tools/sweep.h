/* The options `w4a16 bench` and `w4a16 check` share: which shapes, M values,
 * activation dtypes, group sizes and zero-point kinds to run. Each command
 * sets its own defaults, then sweep_apply overrides them from the options. */
#ifndef W4A16_TOOLS_SWEEP_H
#define W4A16_TOOLS_SWEEP_H

#include "args.h"
#include "shapes.h"
#include "w4a16.h"

typedef struct {
    shape_list shapes;
    m_list ms;
    w4a16_dtype dtypes[2]; /* activation dtypes: F16, BF16 */
    int n_dtypes;
    int64_t groups[4];     /* 32, 64, 128; -1 = per-channel */
    int n_groups;
    int asyms[2];          /* 0: symmetric (z = 8), 1: a zero point per group */
    int n_asyms;
} sweep;

/* The sweep options as given: NULL / 0 when absent. */
typedef struct {
    const char *shapes, *m, *dtype, *group;
    int sym, asym;
} sweep_args;

#define SWEEP_OPTION_COUNT 6
/* Writes the SWEEP_OPTION_COUNT entries (--shapes, --m, --dtype, --group,
 * --sym, --asym) of an args_parse table, targeting a. */
void sweep_options(sweep_args *a, arg_option *out);
/* Overrides the defaults in s with the options given. --dtype and --group
 * take one value or a comma list ("f16,bf16", "128,-1"); --sym and --asym
 * together mean both. Returns 1, or 0 after reporting a usage error. */
int sweep_apply(sweep *s, const char *command, const sweep_args *a);

/* "f16" / "bf16", as the command line and the JSON spell activation dtypes. */
const char *sweep_dtype_name(w4a16_dtype dtype);
/* 1 when G divides K (or G = -1); the sweep skips a group size that does not. */
int sweep_group_fits(int64_t group, int64_t k);

#endif
