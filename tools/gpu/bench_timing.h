/* How `w4a16 bench` times (docs/DESIGN.md §6): a CUDA graph of >= 20 calls
 * that cycle through weight copies larger than twice the L2, replayed
 * back to back between CUDA events; the median replay over >= 30 samples,
 * divided by the calls per replay. */
#ifndef W4A16_TOOLS_BENCH_TIMING_H
#define W4A16_TOOLS_BENCH_TIMING_H

#include <stddef.h>

#include <cuda_runtime_api.h>

/* Enqueues call number `call` (0, 1, ...) on stream; 1 on success, else 0
 * after printing why. Call i should use weight copy i % copies. */
typedef int (*enqueue_fn)(void *user, int call, cudaStream_t stream);

typedef struct {
    double us_per_call;    /* median replay time / calls_per_sample */
    double spread;         /* (90th - 10th percentile) / median of the replays */
    int samples, calls_per_sample;
} graph_timing;

/* Copies of a weight of `bytes` that, cycled, exceed twice the L2 (at least 2). */
int copies_past_l2(size_t bytes, size_t l2_bytes);
/* Calls per replay: a multiple of copies, at least 20. */
int calls_per_replay(int copies);

/* Captures `calls` calls into a graph and times its replays. 1 on success. */
int time_graph(cudaStream_t stream, int calls, enqueue_fn enqueue, void *user,
               graph_timing *out);
/* Host time of one call, enqueued back to back without synchronizing
 * (median over a few batches of the mean per call). 1 on success. */
int time_host(cudaStream_t stream, enqueue_fn enqueue, void *user, double *us_per_call);

/* Monotonic wall clock, seconds. */
double wall_seconds(void);

#endif
