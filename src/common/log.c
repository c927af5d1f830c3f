/* The log sink: a caller's callback, or stderr when W4A16_LOG=1. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "w4a16.h"

static w4a16_log_fn log_callback;
static void *log_user;

void w4a16_set_log(w4a16_log_fn fn, void *user) {
    log_callback = fn;
    log_user = user;
}

static int log_to_stderr(void) {
    const char *env = getenv("W4A16_LOG");
    return env != NULL && strcmp(env, "1") == 0;
}

int w4a16_log_enabled(void) { return log_callback != NULL || log_to_stderr(); }

void w4a16_log(const char *fmt, ...) {
    if (!w4a16_log_enabled()) return;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    if (log_callback != NULL)
        log_callback(message, log_user);
    else
        fprintf(stderr, "w4a16: %s\n", message);
}
