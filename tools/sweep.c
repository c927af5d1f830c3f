/* The sweep options shared by bench and check. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sweep_dtype_name(w4a16_dtype dtype) { return dtype == W4A16_BF16 ? "bf16" : "f16"; }

int sweep_group_fits(int64_t group, int64_t k) { return group == -1 || k % group == 0; }

/* The sweep options as given: NULL / 0 when absent. */
typedef struct {
    const char *shapes, *m, *dtype, *group;
    int sym, asym, act_order;
} sweep_args;

static void sweep_options(sweep_args *a, arg_option *out) {
    const arg_option options[SWEEP_OPTION_COUNT] = {
        {"--shapes", NULL, ARG_STRING, &a->shapes}, {"--m", NULL, ARG_STRING, &a->m},
        {"--dtype", NULL, ARG_STRING, &a->dtype},   {"--group", NULL, ARG_STRING, &a->group},
        {"--sym", NULL, ARG_FLAG, &a->sym},         {"--asym", NULL, ARG_FLAG, &a->asym},
        {"--act-order", NULL, ARG_FLAG, &a->act_order},
    };
    memcpy(out, options, sizeof options);
}

/* Splits a comma list into at most max items; returns the count or -1. */
static int split_list(const char *value, char items[][16], int max) {
    int count = 0;
    const char *start = value;
    for (;;) {
        const char *end = strchr(start, ',');
        size_t length = end ? (size_t)(end - start) : strlen(start);
        if (count == max || length == 0 || length >= 16) return -1;
        memcpy(items[count], start, length);
        items[count++][length] = '\0';
        if (end == NULL) return count;
        start = end + 1;
    }
}

static int parse_dtypes(sweep *s, const char *value) {
    char items[2][16];
    int count = split_list(value, items, 2);
    if (count < 0) return 0;
    for (int i = 0; i < count; i++) {
        if (strcmp(items[i], "f16") == 0)
            s->dtypes[i] = W4A16_F16;
        else if (strcmp(items[i], "bf16") == 0)
            s->dtypes[i] = W4A16_BF16;
        else
            return 0;
    }
    s->n_dtypes = count;
    return 1;
}

static int parse_groups(sweep *s, const char *value) {
    char items[4][16];
    int count = split_list(value, items, 4);
    if (count < 0) return 0;
    for (int i = 0; i < count; i++) {
        char *end = NULL;
        long group = strtol(items[i], &end, 10);
        if (*end != '\0' || (group != 32 && group != 64 && group != 128 && group != -1))
            return 0;
        s->groups[i] = group;
    }
    s->n_groups = count;
    return 1;
}

/* Overrides the defaults in s with the options given; 1, or 0 after
 * reporting a usage error. */
static int sweep_apply(sweep *s, const char *command, const sweep_args *a) {
    char err[256];
    if (a->shapes && shapes_parse(a->shapes, &s->shapes, err, sizeof err))
        return usage_error(command, "%s", err), 0;
    if (a->m && m_list_parse(a->m, &s->ms, err, sizeof err))
        return usage_error(command, "%s", err), 0;
    if (a->dtype && !parse_dtypes(s, a->dtype))
        return usage_error(command, "--dtype '%s' is not f16, bf16 or a list of them", a->dtype), 0;
    if (a->group && !parse_groups(s, a->group))
        return usage_error(command, "--group '%s' is not 32, 64, 128, -1 or a list of them",
                           a->group), 0;
    if (a->sym || a->asym) {
        s->n_asyms = 0;
        if (a->sym) s->asyms[s->n_asyms++] = 0;
        if (a->asym) s->asyms[s->n_asyms++] = 1;
    }
    if (a->act_order) {
        /* A command's default per-channel case is skipped instead (check). */
        for (int i = 0; a->group && i < s->n_groups; i++)
            if (s->groups[i] == -1)
                return usage_error(command, "--act-order needs a group size: per-channel (-1) "
                                            "has one group, which no column order changes"), 0;
        s->act_order = 1;
    }
    return 1;
}

args_result sweep_parse(sweep *s, const char *command, int argc, char **argv, arg_option *table,
                        int n_own) {
    sweep_args given = {0};
    sweep_options(&given, table + n_own);
    args_result parsed = args_parse(argc, argv, table, n_own + SWEEP_OPTION_COUNT, NULL, 0, 0);
    if (parsed != ARGS_OK) return parsed;
    return sweep_apply(s, command, &given) ? ARGS_OK : ARGS_ERROR;
}

void sweep_one_config_defaults(sweep *s) {
    char err[256];
    shapes_parse("qwen3-4b", &s->shapes, err, sizeof err);
    s->dtypes[0] = W4A16_F16, s->n_dtypes = 1;
    s->groups[0] = 128, s->n_groups = 1;
    s->asyms[0] = 0, s->n_asyms = 1;
}

int sweep_one_config_check(const sweep *s, const char *command) {
    if (s->n_dtypes == 1 && s->n_groups == 1 && s->n_asyms == 1) return 1;
    usage_error(command, "--dtype and --group take one value each, and --sym and --asym exclude each other");
    return 0;
}
