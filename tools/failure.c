/* One-line failure messages for the subcommands (see failure.h). */
#include "failure.h"

#include <stdarg.h>
#include <stdio.h>

#include "commands.h"

static void print_one_line(const char *text) {
    for (const char *c = text; *c; c++) fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
}

int tool_fail(const char *command, const char *fmt, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "w4a16 %s: ", command);
    print_one_line(message);
    fputc('\n', stderr);
    return EXIT_FAILURE_INPUT;
}

int tool_fail_status(const char *command, w4a16_status status, const char *context) {
    const char *message = w4a16_last_error();
    if (message == NULL || message[0] == '\0') message = w4a16_status_str(status);
    if (context != NULL) return tool_fail(command, "%s: %s", context, message);
    return tool_fail(command, "%s", message);
}
