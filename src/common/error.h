/* Error reporting inside the library: one thread-local message per thread,
 * set where an error is first seen, and macros that keep the happy path
 * readable. Nothing here prints; see log.h for diagnostics. */
#ifndef W4A16_COMMON_ERROR_H
#define W4A16_COMMON_ERROR_H

#include "w4a16.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records a printf-style message as the thread's last error and returns status. */
w4a16_status w4a16_fail(w4a16_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current last-error message with context ("layer x: ..."). */
w4a16_status w4a16_fail_context(w4a16_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void w4a16_clear_error(void);

#ifdef __cplusplus
}
#endif

/* Fail with a message when cond holds. */
#define W4A16_FAIL_IF(cond, status, ...)                                                   \
    do {                                                                                   \
        if (cond) return w4a16_fail((status), __VA_ARGS__);                                \
    } while (0)

/* Evaluate a call returning w4a16_status; return its status if it failed. */
#define W4A16_TRY(expr)                                                                    \
    do {                                                                                   \
        w4a16_status try_status_ = (expr);                                                 \
        if (try_status_ != W4A16_OK) return try_status_;                                   \
    } while (0)

/* Same, but jump to a cleanup label with the status stored in `st`. */
#define W4A16_TRY_GOTO(st, expr, label)                                                    \
    do {                                                                                   \
        (st) = (expr);                                                                     \
        if ((st) != W4A16_OK) goto label;                                                  \
    } while (0)

#endif
