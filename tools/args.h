/* Command-line parsing shared by the subcommands: long options (--name,
 * --name=value, --name value), an optional short alias, repeatable options,
 * and positional arguments. Usage errors print one line and a pointer to
 * --help on stderr, and map to exit code 2. */
#ifndef W4A16_TOOLS_ARGS_H
#define W4A16_TOOLS_ARGS_H

#include "w4a16.h"

typedef enum {
    ARG_FLAG,   /* no value; sets an int to 1 */
    ARG_STRING, /* one value; a later occurrence replaces an earlier one */
    ARG_LIST,   /* one value per occurrence, all kept (arg_list) */
} arg_kind;

/* Values of a repeatable option, pointing into argv. */
typedef struct {
    const char **items;
    int count;
} arg_list;

typedef struct {
    const char *name;  /* "--to" */
    const char *alias; /* "-o", or NULL */
    arg_kind kind;
    void *target;      /* int * (FLAG), const char ** (STRING), arg_list * (LIST) */
} arg_option;

typedef enum {
    ARGS_OK = 0,
    ARGS_HELP,  /* --help or -h was given: print the help, exit 0 */
    ARGS_ERROR, /* a usage error, already reported: exit 2 */
} args_result;

/* Parses argv[1..argc) (argv[0] is the command's name). Positional arguments
 * fill positional[0..n_positional): fewer than n_required or more than
 * n_positional is a usage error. "--" ends the options. */
args_result args_parse(int argc, char **argv, const arg_option *options, int n_options,
                       const char **positional, int n_positional, int n_required);
void arg_list_free(arg_list *list);

/* Prints "w4a16 COMMAND: message" and "try 'w4a16 COMMAND --help'" to stderr;
 * returns the usage exit code (2). */
int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a format name that must be one of the formats in allowed[0..n_allowed);
 * a usage error (returns 0 after reporting) otherwise. option names the flag. */
int args_parse_format(const char *command, const char *option, const char *name,
                      const w4a16_format *allowed, int n_allowed, w4a16_format *out);

/* Parses an activation or output dtype name (f32, f16, bf16) from those allowed. */
int args_parse_dtype(const char *command, const char *option, const char *name,
                     const w4a16_dtype *allowed, int n_allowed, w4a16_dtype *out);

/* Parses a whole decimal integer in [lo, hi]; a usage error otherwise. */
int args_parse_int(const char *command, const char *option, const char *text, long long lo,
                   long long hi, long long *out);

#endif
