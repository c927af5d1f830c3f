/* The writing thread (see write_queue.h). */
#include "write_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "failure.h"

typedef struct write_job {
    w4a16_tensor_list tensors;
    w4a16_tensor_info copy;
    int has_copy;
    struct write_job *next;
} write_job;

struct write_queue {
    const char *command;
    write_queue_fn fn;
    void *context;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    write_job *first, *last;
    int produced;     /* jobs holding produced tensors, queued or being written */
    int closing, failed;
};

static void free_job(write_job *job) {
    w4a16_tensor_list_free(&job->tensors);
    free(job);
}

static void *run_writer(void *arg) {
    write_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->first == NULL && !q->closing) pthread_cond_wait(&q->changed, &q->lock);
        write_job *job = q->first;
        if (job == NULL) break;
        q->first = job->next;
        if (q->first == NULL) q->last = NULL;
        int failed = q->failed;
        pthread_mutex_unlock(&q->lock);
        /* After a failure the rest is dropped: the output is discarded anyway. */
        if (!failed) failed = q->fn(q->context, &job->tensors, job->has_copy ? &job->copy : NULL) != 0;
        int was_produced = !job->has_copy;
        free_job(job);
        pthread_mutex_lock(&q->lock);
        q->produced -= was_produced;
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
    q->command = command;
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
    write_job *job = calloc(1, sizeof *job);
    if (job == NULL) return tool_fail(q->command, "out of memory");
    if (tensors != NULL) {
        job->tensors = *tensors;
        memset(tensors, 0, sizeof *tensors);
    }
    if (copy != NULL) job->copy = *copy;
    job->has_copy = copy != NULL;
    pthread_mutex_lock(&q->lock);
    /* Copies hold no memory of their own; produced tensors wait their turn. */
    while (!job->has_copy && q->produced >= WRITE_QUEUE_PRODUCED && !q->failed)
        pthread_cond_wait(&q->changed, &q->lock);
    int failed = q->failed;
    if (!failed) {
        if (q->last != NULL) q->last->next = job;
        else q->first = job;
        q->last = job;
        q->produced += !job->has_copy;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    if (failed) free_job(job);
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
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->changed);
    free(q);
    return failed;
}
