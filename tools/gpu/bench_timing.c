/* Graph replay timing and host-time measurement. */
#ifdef W4A16_WITH_CUDA
#include "bench_timing.h"

#include <stdlib.h>
#include <time.h>

#include "gpu_tool.h"

#define MIN_CALLS 20
#define MIN_SAMPLES 30
#define MAX_SAMPLES 200
/* Small replays take more samples, up to about this much timing per row. */
#define TARGET_MS 150.0
#define HOST_BATCHES 5
#define HOST_CALLS 32 /* few enough that the launch queue never fills and blocks */

double wall_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

int copies_past_l2(size_t bytes, size_t l2_bytes) {
    size_t copies = bytes ? 2 * l2_bytes / bytes + 1 : 2;
    return copies < 2 ? 2 : (int)copies;
}

int calls_per_replay(int copies) { return copies * ((MIN_CALLS + copies - 1) / copies); }

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int capture(cudaStream_t stream, int calls, enqueue_fn enqueue, void *user,
                   cudaGraphExec_t *exec) {
    cudaGraph_t graph = NULL;
    if (!CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal))) return 0;
    int ok = 1;
    for (int call = 0; call < calls && ok; call++) ok = enqueue(user, call, stream);
    /* End the capture even after a failure, so the stream is usable again. */
    cudaError_t end = cudaStreamEndCapture(stream, &graph);
    ok = ok && CUDA_OK(end);
    ok = ok && CUDA_OK(cudaGraphInstantiate(exec, graph, 0));
    if (graph) cudaGraphDestroy(graph);
    if (!ok) cudaGetLastError();
    return ok;
}

/* Replays exec `samples` times between events; writes each replay's ms. */
static int replay(cudaStream_t stream, cudaGraphExec_t exec, int samples, double *ms) {
    cudaEvent_t events[MAX_SAMPLES + 1] = {0};
    int created = 0, ok = 1;
    for (; created <= samples && ok; created++) ok = CUDA_OK(cudaEventCreate(&events[created]));
    if (ok) ok = CUDA_OK(cudaEventRecord(events[0], stream));
    for (int s = 0; s < samples && ok; s++)
        ok = CUDA_OK(cudaGraphLaunch(exec, stream)) && CUDA_OK(cudaEventRecord(events[s + 1], stream));
    if (ok) ok = CUDA_OK(cudaEventSynchronize(events[samples]));
    for (int s = 0; s < samples && ok; s++) {
        float elapsed = 0;
        ok = CUDA_OK(cudaEventElapsedTime(&elapsed, events[s], events[s + 1]));
        ms[s] = elapsed;
    }
    for (int e = 0; e < created; e++) cudaEventDestroy(events[e]);
    return ok;
}

int time_graph(cudaStream_t stream, int calls, enqueue_fn enqueue, void *user,
               graph_timing *out) {
    cudaGraphExec_t exec = NULL;
    if (!capture(stream, calls, enqueue, user, &exec)) return 0;
    double ms[MAX_SAMPLES];
    /* Two warm-up replays: the first may still load modules or fill caches. */
    int ok = replay(stream, exec, 2, ms);
    int samples = MIN_SAMPLES;
    if (ok) {
        double estimate = ms[1] > 1e-3 ? TARGET_MS / ms[1] : MAX_SAMPLES;
        samples = estimate > MAX_SAMPLES ? MAX_SAMPLES : estimate < MIN_SAMPLES ? MIN_SAMPLES : (int)estimate;
        ok = replay(stream, exec, samples, ms);
    }
    cudaGraphExecDestroy(exec);
    if (!ok) return 0;
    qsort(ms, (size_t)samples, sizeof ms[0], compare_doubles);
    double median = samples % 2 ? ms[samples / 2] : 0.5 * (ms[samples / 2 - 1] + ms[samples / 2]);
    out->us_per_call = 1000.0 * median / calls;
    out->spread = (ms[samples * 9 / 10] - ms[samples / 10]) / median;
    out->samples = samples;
    out->calls_per_sample = calls;
    return 1;
}

int time_host(cudaStream_t stream, enqueue_fn enqueue, void *user, double *us_per_call) {
    double means[HOST_BATCHES];
    for (int b = 0; b < HOST_BATCHES; b++) {
        if (!CUDA_OK(cudaStreamSynchronize(stream))) return 0;
        double start = wall_seconds();
        for (int call = 0; call < HOST_CALLS; call++)
            if (!enqueue(user, call, stream)) return 0;
        means[b] = 1e6 * (wall_seconds() - start) / HOST_CALLS;
    }
    if (!CUDA_OK(cudaStreamSynchronize(stream))) return 0;
    qsort(means, HOST_BATCHES, sizeof means[0], compare_doubles);
    *us_per_call = means[HOST_BATCHES / 2];
    return 1;
}
#endif
