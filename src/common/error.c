/* Status names, the thread-local last-error message and the version string. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#ifndef W4A16_VERSION_STRING
#define W4A16_VERSION_STRING "0.0.0"
#endif

/* Long enough for a message that names a tensor, its shape and a file path. */
enum { ERROR_MESSAGE_BYTES = 1024 };
static _Thread_local char last_error_message[ERROR_MESSAGE_BYTES];

const char *w4a16_status_str(w4a16_status status) {
    switch (status) {
    case W4A16_OK: return "ok";
    case W4A16_ERR_ARG: return "invalid argument";
    case W4A16_ERR_SHAPE: return "shape mismatch";
    case W4A16_ERR_UNSUPPORTED: return "unsupported";
    case W4A16_ERR_FORMAT: return "malformed input";
    case W4A16_ERR_IO: return "i/o error";
    case W4A16_ERR_NOMEM: return "out of memory";
    case W4A16_ERR_CUDA: return "CUDA error";
    }
    return "unknown status";
}

const char *w4a16_last_error(void) { return last_error_message; }

const char *w4a16_version(void) { return W4A16_VERSION_STRING; }

void w4a16_clear_error(void) { last_error_message[0] = '\0'; }

w4a16_status w4a16_fail(w4a16_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error_message, sizeof last_error_message, fmt, args);
    va_end(args);
    return status;
}

w4a16_status w4a16_fail_context(w4a16_status status, const char *fmt, ...) {
    char previous[ERROR_MESSAGE_BYTES];
    char prefix[ERROR_MESSAGE_BYTES];
    memcpy(previous, last_error_message, sizeof previous);
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    /* Truncation is fine: the message is diagnostic text. */
    int written = snprintf(last_error_message, sizeof last_error_message, "%.500s: %.500s", prefix,
                           previous);
    (void)written;
    return status;
}
