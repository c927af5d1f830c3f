/* The options `w4a16 bench`, `check` and `tune` share: which shapes, M
 * values, activation dtypes, group sizes and zero-point kinds to run. Each
 * command sets its own defaults, then sweep_parse overrides them from the
 * options. */
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
    int act_order;         /* --act-order: a random g_idx (GPTQ's desc_act), not k / G */
} sweep;

#define SWEEP_OPTION_COUNT 7
/* Parses a command's argv: the command's own options, table[0..n_own),
 * then the sweep options (--shapes, --m, --dtype, --group, --sym, --asym,
 * --act-order),
 * which it writes into table[n_own..n_own + SWEEP_OPTION_COUNT), and
 * overrides the defaults in s with those given. --dtype and --group take one
 * value or a comma list ("f16,bf16", "128,-1"); --sym and --asym together
 * mean both. ARGS_HELP: the caller prints its help; ARGS_ERROR: a usage
 * error, reported. */
args_result sweep_parse(sweep *s, const char *command, int argc, char **argv, arg_option *table,
                        int n_own);

/* The timing commands (bench, tune) run one configuration: by default
 * qwen3-4b, f16, group 128, symmetric (M is each command's own). */
void sweep_one_config_defaults(sweep *s);
/* 1 when s holds one dtype, one group size and one zero-point kind; else
 * reports the usage error and returns 0. */
int sweep_one_config_check(const sweep *s, const char *command);

/* "f16" / "bf16", as the command line and the JSON spell activation dtypes. */
const char *sweep_dtype_name(w4a16_dtype dtype);
/* 1 when G divides K (or G = -1); the sweep skips a group size that does not. */
int sweep_group_fits(int64_t group, int64_t k);

#endif
