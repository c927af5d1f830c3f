/* Command-line parsing for the subcommands (see args.h). */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "w4a16 %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'w4a16 %s --help'\n", command);
    va_end(ap);
    return 2;
}

void arg_list_free(arg_list *list) {
    if (list == NULL) return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int arg_list_push(arg_list *list, const char *value) {
    const char **grown = realloc(list->items, (size_t)(list->count + 1) * sizeof *grown);
    if (grown == NULL) return -1;
    grown[list->count++] = value;
    list->items = grown;
    return 0;
}

/* The option that `arg` names: "--name", "--name=value" or the alias. Sets
 * *inline_value to the text after '=' when present. */
static const arg_option *find_option(const char *arg, const arg_option *options, int n_options,
                                     const char **inline_value) {
    *inline_value = NULL;
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (int i = 0; i < n_options; i++) {
        const arg_option *o = &options[i];
        if ((strlen(o->name) == name_len && strncmp(arg, o->name, name_len) == 0) ||
            (eq == NULL && o->alias != NULL && strcmp(arg, o->alias) == 0)) {
            if (eq) *inline_value = eq + 1;
            return o;
        }
    }
    return NULL;
}

args_result args_parse(int argc, char **argv, const arg_option *options, int n_options,
                       const char **positional, int n_positional, int n_required) {
    const char *command = argv[0];
    int n_seen = 0;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0))
            return ARGS_HELP;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (n_seen >= n_positional) {
                usage_error(command, "unexpected argument '%s'", arg);
                return ARGS_ERROR;
            }
            positional[n_seen++] = arg;
            continue;
        }
        const char *value = NULL;
        const arg_option *o = find_option(arg, options, n_options, &value);
        if (o == NULL) {
            usage_error(command, "unknown option '%s'", arg);
            return ARGS_ERROR;
        }
        if (o->kind == ARG_FLAG) {
            if (value != NULL) {
                usage_error(command, "option %s takes no value", o->name);
                return ARGS_ERROR;
            }
            *(int *)o->target = 1;
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                usage_error(command, "option %s needs a value", o->name);
                return ARGS_ERROR;
            }
            value = argv[++i];
        }
        if (o->kind == ARG_STRING) {
            *(const char **)o->target = value;
        } else if (arg_list_push((arg_list *)o->target, value) != 0) {
            fprintf(stderr, "w4a16 %s: out of memory parsing arguments\n", command);
            return ARGS_ERROR;
        }
    }
    if (n_seen < n_required) {
        usage_error(command, "missing argument (expected %d, got %d)", n_required, n_seen);
        return ARGS_ERROR;
    }
    for (int i = n_seen; i < n_positional; i++) positional[i] = NULL;
    return ARGS_OK;
}

/* "a, b or c" from names[0..n) into out. */
static void join_alternatives(char *out, size_t size, const char *const *names, int n) {
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, i == 0 ? "" : i + 1 == n ? " or " : ", ", size - strlen(out) - 1);
        strncat(out, names[i], size - strlen(out) - 1);
    }
}

int args_parse_format(const char *command, const char *option, const char *name,
                      const w4a16_format *allowed, int n_allowed, w4a16_format *out) {
    const char *names[8];
    char expected[128];
    for (int i = 0; i < n_allowed && i < 8; i++) {
        names[i] = w4a16_format_name(allowed[i]);
        if (strcmp(name, names[i]) == 0) {
            *out = allowed[i];
            return 1;
        }
    }
    join_alternatives(expected, sizeof expected, names, n_allowed < 8 ? n_allowed : 8);
    usage_error(command, "%s: unknown format '%s' (expected %s)", option, name, expected);
    return 0;
}

static const char *dtype_cli_name(w4a16_dtype dtype) {
    switch (dtype) {
    case W4A16_F32: return "f32";
    case W4A16_F16: return "f16";
    case W4A16_BF16: return "bf16";
    default: return "?";
    }
}

int args_parse_dtype(const char *command, const char *option, const char *name,
                     const w4a16_dtype *allowed, int n_allowed, w4a16_dtype *out) {
    const char *names[8];
    char expected[64];
    for (int i = 0; i < n_allowed && i < 8; i++) {
        names[i] = dtype_cli_name(allowed[i]);
        if (strcmp(name, names[i]) == 0) {
            *out = allowed[i];
            return 1;
        }
    }
    join_alternatives(expected, sizeof expected, names, n_allowed < 8 ? n_allowed : 8);
    usage_error(command, "%s: unknown dtype '%s' (expected %s)", option, name, expected);
    return 0;
}

int args_parse_int(const char *command, const char *option, const char *text, long long lo,
                   long long hi, long long *out) {
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) {
        usage_error(command, "%s: '%s' is not a whole number in %lld..%lld", option, text, lo, hi);
        return 0;
    }
    *out = value;
    return 1;
}
