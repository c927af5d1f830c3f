/* The writing thread (see write_queue.h). */
#include "write_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"

typedef struct {
    w4a16_tensor_list tensors;
    w4a16_tensor_info copy;
    int has_copy;
} write_job;

struct write_queue {
    write_queue_fn fn;
    void *context;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    write_job waiting;
    int has_waiting, busy, closing, failed;
};

static void *run_writer(void *arg) {
    write_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->has_waiting && !q->closing) pthread_cond_wait(&q->changed, &q->lock);
        if (!q->has_waiting) break;
        write_job job = q->waiting;
        q->has_waiting = 0;
        q->busy = 1;
        int failed = q->failed;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        /* After a failure the rest is dropped: the output is discarded anyway. */
        if (!failed) failed = q->fn(q->context, &job.tensors, job.has_copy ? &job.copy : NULL) != 0;
        w4a16_tensor_list_free(&job.tensors);
        pthread_mutex_lock(&q->lock);
        q->busy = 0;
        q->failed |= failed;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

write_queue *write_queue_start(const char *command, write_queue_fn fn, void *context) {
    write_queue *q = calloc(1, sizeof *q);
    if (q == NULL) {
        tool_fail(command, "out of memory");
        return NULL;
    }
    q->fn = fn;
    q->context = context;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    if (pthread_create(&q->thread, NULL, run_writer, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->changed);
        free(q);
        tool_fail(command, "cannot start the writing thread");
        return NULL;
    }
    return q;
}

int write_queue_push(write_queue *q, w4a16_tensor_list *tensors, const w4a16_tensor_info *copy) {
    pthread_mutex_lock(&q->lock);
    while ((q->has_waiting || q->busy) && !q->failed) pthread_cond_wait(&q->changed, &q->lock);
    int failed = q->failed;
    if (!failed) {
        memset(&q->waiting, 0, sizeof q->waiting);
        if (tensors != NULL) {
            q->waiting.tensors = *tensors;
            memset(tensors, 0, sizeof *tensors);
        }
        if (copy != NULL) q->waiting.copy = *copy;
        q->waiting.has_copy = copy != NULL;
        q->has_waiting = 1;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return failed;
}

int write_queue_finish(write_queue *q) {
    if (q == NULL) return 0;
    pthread_mutex_lock(&q->lock);
    q->closing = 1;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    int failed = q->failed;
    if (q->has_waiting) w4a16_tensor_list_free(&q->waiting.tensors);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->changed);
    free(q);
    return failed;
}
