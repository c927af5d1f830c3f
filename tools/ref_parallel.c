/* One thread per slice of N rows of W; each writes its own columns of C. */
#include "ref_parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "random_weight.h"

#define MAX_THREADS 16

typedef struct {
    w4a16_source slice;
    int64_t n_begin;
    const void *A;
    w4a16_dtype a_dtype;
    int64_t lda;
    const int64_t *rows;
    int64_t n_rows;
    double *C_slice; /* [n_rows, slice.n] */
    w4a16_status status;
    char error[256];
} slice_job;

static void *run_slice(void *arg) {
    slice_job *job = arg;
    job->status = w4a16_ref_gemm(&job->slice, job->A, job->a_dtype, job->lda, job->rows,
                                 job->n_rows, NULL, job->C_slice);
    /* The message is thread-local: carry it back to the caller's thread. */
    if (job->status != W4A16_OK) strncpy(job->error, w4a16_last_error(), sizeof job->error - 1);
    return NULL;
}

w4a16_status ref_gemm_parallel(const w4a16_source *w, const void *A, w4a16_dtype a_dtype,
                               int64_t lda, const int64_t *rows, int64_t n_rows, double *C) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
    /* Slices start on multiples of 8: tensors packed along N hold 8 rows a word. */
    int64_t per_thread = ((w->n + threads - 1) / threads + 7) / 8 * 8;
    slice_job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int created[MAX_THREADS] = {0};
    int count = 0;
    memset(jobs, 0, sizeof jobs);
    for (; count < threads && count * per_thread < w->n; count++) {
        int64_t begin = count * per_thread;
        int64_t end = begin + per_thread < w->n ? begin + per_thread : w->n;
        slice_job *job = &jobs[count];
        job->slice = source_rows(w, begin, end);
        job->n_begin = begin;
        job->A = A, job->a_dtype = a_dtype, job->lda = lda;
        job->rows = rows, job->n_rows = n_rows;
        job->C_slice = malloc((size_t)(n_rows * (end - begin)) * sizeof(double));
        if (job->C_slice == NULL) {
            job->status = W4A16_ERR_NOMEM;
            strcpy(job->error, "reference: out of host memory");
            continue;
        }
        created[count] = pthread_create(&ids[count], NULL, run_slice, job) == 0;
        if (!created[count]) run_slice(job); /* no thread to spare: run it here */
    }
    w4a16_status status = W4A16_OK;
    for (int t = 0; t < count; t++) {
        slice_job *job = &jobs[t];
        if (created[t]) pthread_join(ids[t], NULL);
        if (status == W4A16_OK && job->status != W4A16_OK)
            status = w4a16_fail(job->status, "%s", job->error);
        for (int64_t r = 0; status == W4A16_OK && r < n_rows; r++)
            memcpy(C + r * w->n + job->n_begin, job->C_slice + r * job->slice.n,
                   (size_t)job->slice.n * sizeof(double));
        free(job->C_slice);
    }
    return status;
}
