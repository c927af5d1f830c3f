/* The last-error message is per thread, and the log is silent unless asked:
 * through a callback (w4a16_set_log) or W4A16_LOG=1 for stderr. Errors are
 * returned, never printed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint_builder.h"
#include "test_support.h"

/* The last error of one thread is not another's. */
typedef struct {
    pthread_barrier_t *barrier;
    char seen_first[64], seen_after[256];
} thread_errors;

static void *fail_on_a_thread(void *arg) {
    thread_errors *t = arg;
    snprintf(t->seen_first, sizeof t->seen_first, "%s", w4a16_last_error());
    w4a16_format format;
    w4a16_format_parse("from-the-thread", &format);
    pthread_barrier_wait(t->barrier); /* main fails now, on its own thread */
    pthread_barrier_wait(t->barrier);
    snprintf(t->seen_after, sizeof t->seen_after, "%s", w4a16_last_error());
    return NULL;
}

static void test_last_error_is_per_thread(void **state) {
    (void)state;
    w4a16_format format;
    w4a16_format_parse("from-main-before", &format);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    thread_errors t = {.barrier = &barrier};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fail_on_a_thread, &t), 0);
    pthread_barrier_wait(&barrier);
    test_expect_error_has("from-main-before");
    w4a16_format_parse("from-main-after", &format);
    pthread_barrier_wait(&barrier);
    assert_int_equal(pthread_join(thread, NULL), 0);
    pthread_barrier_destroy(&barrier);

    assert_string_equal(t.seen_first, ""); /* a new thread starts with no error */
    assert_non_null(strstr(t.seen_after, "unknown format 'from-the-thread'"));
    test_expect_error_has("unknown format 'from-main-after'");
}

/* The log: collected by a callback, else silent unless W4A16_LOG=1. */
typedef struct {
    int count;
    char joined[2048];
} log_record;

static void record_log(const char *message, void *user) {
    log_record *record = user;
    record->count++;
    size_t used = strlen(record->joined);
    snprintf(record->joined + used, sizeof record->joined - used, "%s\n", message);
}

/* Runs an open (that logs) and a failing call with stderr sent to a file;
 * returns what reached stderr. */
static void stderr_of_library_calls(const char *dir, char *text, size_t text_size) {
    char path[4200];
    snprintf(path, sizeof path, "%s/stderr.txt", test_scratch_dir("last_error_and_log"));
    fflush(stderr);
    int saved = dup(2);
    FILE *capture = fopen(path, "w+");
    assert_non_null(capture);
    dup2(fileno(capture), 2);
    w4a16_checkpoint *ckpt = NULL;
    w4a16_status opened = w4a16_checkpoint_open(dir, W4A16_FORMAT_AUTO, &ckpt);
    w4a16_checkpoint_close(ckpt);
    w4a16_format format;
    w4a16_status parsed = w4a16_format_parse("nope", &format);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(opened, W4A16_OK);
    assert_int_equal(parsed, W4A16_ERR_ARG);
    rewind(capture);
    size_t length = fread(text, 1, text_size - 1, capture);
    text[length] = '\0';
    fclose(capture);
}

static void test_log_only_when_asked(void **state) {
    (void)state;
    const char *dir = W4A16_TEST_FIXTURES "/producers/awq_g128";
    char output[4096];
    unsetenv("W4A16_LOG");
    stderr_of_library_calls(dir, output, sizeof output);
    assert_string_equal(output, "");

    log_record record = {0};
    w4a16_set_log(record_log, &record);
    w4a16_checkpoint *ckpt = test_open_ok(dir, W4A16_FORMAT_AUTO);
    w4a16_checkpoint_close(ckpt);
    w4a16_set_log(NULL, NULL);
    assert_true(record.count >= 2);
    assert_non_null(strstr(record.joined, "model.safetensors"));
    assert_non_null(strstr(record.joined, "6 tensors in 1 file(s)"));
    int count = record.count;
    w4a16_checkpoint_close(test_open_ok(dir, W4A16_FORMAT_AUTO));
    assert_int_equal(record.count, count);

    setenv("W4A16_LOG", "1", 1);
    stderr_of_library_calls(dir, output, sizeof output);
    unsetenv("W4A16_LOG");
    assert_non_null(strstr(output, "w4a16: "));
    assert_non_null(strstr(output, "6 tensors in 1 file(s)"));
    assert_null(strstr(output, "nope")); /* errors are returned, never printed */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_error_is_per_thread),
        cmocka_unit_test(test_log_only_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
