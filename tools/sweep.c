/* The sweep options shared by bench and check. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sweep_dtype_name(w4a16_dtype dtype) { return dtype == W4A16_BF16 ? "bf16" : "f16"; }

int sweep_group_fits(int64_t group, int64_t k) { return group == -1 || k % group == 0; }

void sweep_options(sweep_args *a, arg_option *out) {
    const arg_option options[SWEEP_OPTION_COUNT] = {
        {"--shapes", NULL, ARG_STRING, &a->shapes}, {"--m", NULL, ARG_STRING, &a->m},
        {"--dtype", NULL, ARG_STRING, &a->dtype},   {"--group", NULL, ARG_STRING, &a->group},
        {"--sym", NULL, ARG_FLAG, &a->sym},         {"--asym", NULL, ARG_FLAG, &a->asym},
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

int sweep_apply(sweep *s, const char *command, const sweep_args *a) {
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
    return 1;
}
