/* Diagnostics: silent unless a callback is set (w4a16_set_log) or W4A16_LOG=1. */
#ifndef W4A16_COMMON_LOG_H
#define W4A16_COMMON_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a log message would go anywhere; lets callers skip formatting. */
int w4a16_log_enabled(void);
void w4a16_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
