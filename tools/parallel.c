/* Blocks of rows over threads (see parallel.h). */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

int parallel_default_threads(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > PARALLEL_MAX_THREADS ? PARALLEL_MAX_THREADS : (int)cpus;
}

typedef struct {
    parallel_block_fn fn;
    void *context;
    int64_t count, block;
    atomic_int_fast64_t next; /* index of the next block to hand out */
    atomic_int stop;          /* set by the first failure */
} shared_work;

/* What one thread saw: its lowest failing block and that failure's message. */
typedef struct {
    shared_work *work;
    int64_t failed_block; /* -1: none */
    w4a16_status status;
    char message[512];
} worker;

static void *run_worker(void *arg) {
    worker *self = arg;
    shared_work *work = self->work;
    int64_t blocks = (work->count + work->block - 1) / work->block;
    while (!atomic_load(&work->stop)) {
        int64_t b = atomic_fetch_add(&work->next, 1);
        if (b >= blocks) break;
        int64_t begin = b * work->block;
        int64_t end = begin + work->block < work->count ? begin + work->block : work->count;
        w4a16_status status = work->fn(work->context, begin, end);
        if (status != W4A16_OK) {
            /* Blocks go out in order, so this thread's first failure is its lowest. */
            self->failed_block = b;
            self->status = status;
            snprintf(self->message, sizeof self->message, "%s", w4a16_last_error());
            atomic_store(&work->stop, 1);
            break;
        }
    }
    return NULL;
}

w4a16_status parallel_for(int threads, int64_t count, int64_t block, parallel_block_fn fn,
                          void *context) {
    W4A16_FAIL_IF(fn == NULL || block <= 0 || count < 0, W4A16_ERR_ARG,
                  "parallel_for: fn NULL, block=%lld or count=%lld", (long long)block,
                  (long long)count);
    int64_t blocks = (count + block - 1) / block;
    if (threads > PARALLEL_MAX_THREADS) threads = PARALLEL_MAX_THREADS;
    if (threads > blocks) threads = (int)blocks;
    if (threads < 1) threads = 1;
    shared_work work = {.fn = fn, .context = context, .count = count, .block = block};
    atomic_init(&work.next, 0);
    atomic_init(&work.stop, 0);
    worker workers[PARALLEL_MAX_THREADS];
    pthread_t ids[PARALLEL_MAX_THREADS];
    int started[PARALLEL_MAX_THREADS] = {0};
    for (int t = 0; t < threads; t++) workers[t] = (worker){.work = &work, .failed_block = -1};
    /* Threads that cannot start leave their share to the others. */
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&ids[t], NULL, run_worker, &workers[t]) == 0;
    run_worker(&workers[0]);
    const worker *first = NULL;
    for (int t = 0; t < threads; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        if (workers[t].failed_block >= 0 &&
            (first == NULL || workers[t].failed_block < first->failed_block))
            first = &workers[t];
    }
    if (first == NULL) return W4A16_OK;
    return w4a16_fail(first->status, "%s", first->message);
}
