/* How the subcommands report a failure: one line on stderr that names the
 * command and the problem, and exit code 1. */
#ifndef W4A16_TOOLS_FAILURE_H
#define W4A16_TOOLS_FAILURE_H

#include "w4a16.h"

/* Prints "w4a16 COMMAND: message" (newlines folded to spaces); returns 1. */
int tool_fail(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with the library's last error (or the status's name) as the message,
 * prefixed by context when context is not NULL ("reading x: <error>"). */
int tool_fail_status(const char *command, w4a16_status status, const char *context);

#endif
