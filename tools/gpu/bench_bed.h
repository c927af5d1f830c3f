/* What `w4a16 bench` and `w4a16 tune` measure with (docs/DESIGN.md §6), so
 * that both give the same figure for the same call: the device, a stream,
 * cuBLAS for the dense baseline, a ctx that runs auto and one forced onto
 * each kernel, activations and outputs for the largest call, a shape's
 * weights as copies past twice the L2, and the timing of one row by graph
 * replay. The rows go into a list for the JSON report. */
#ifndef W4A16_TOOLS_BENCH_BED_H
#define W4A16_TOOLS_BENCH_BED_H

#include <stdint.h>
#include <stdio.h>

#include "bench_report.h"
#include "bench_timing.h"
#include "gpu_tool.h"
#include "kernels.h"
#include "sweep.h"
#include "weight_copies.h"

typedef struct {
    w4a16_dtype dtype; /* one activation dtype, group size and zero-point kind */
    int64_t group;
    int asym;
    int act_order;
    device_info device;
    cudaStream_t stream;
    dense_gemm dense;
    w4a16_ctx *auto_ctx;
    w4a16_ctx *kernel_ctx[KERNELS_MAX]; /* by kernel_index; NULL when not timed */
    void *A, *C;                        /* for the largest M, K and N of the sweep */
    bench_rows rows;
    FILE *row_echo; /* each row printed here as it is measured; NULL: not printed */
    uint64_t rng;
    int refused; /* calls the library refused as arguments (a forced plan M cannot take) */
} bench_bed;

/* Opens the bed on device 0 for sw (its first dtype, group and zero-point
 * kind), with a forced ctx for each kernel_enabled[i]. 1 on success, else
 * prints why; close it either way. */
int bench_bed_open(bench_bed *bed, const sweep *sw, const int kernel_enabled[KERNELS_MAX],
                   FILE *row_echo);
void bench_bed_close(bench_bed *bed);
/* The device and clocks, then a line naming the command, the configuration,
 * the commit and how rows are timed. */
void bench_bed_print_config(const bench_bed *bed, FILE *out);
/* 1 when the bed's group size divides the shape's K; otherwise says on
 * stderr that the shape is skipped. */
int bench_bed_shape_fits(const bench_bed *bed, const tool_shape *shape);

/* One shape's weights: random checkpoint tensors on the device (source,
 * which bench also packs from to time packing), packed into copies, and
 * dense 16-bit copies for cuBLAS. */
typedef struct {
    const tool_shape *shape;
    w4a16_source source;  /* device pointers */
    double source_bytes;  /* the checkpoint tensors that pack reads */
    weight_copies copies;
} bench_weights;

/* 1 on success; free it with bench_weights_free either way. */
int bench_weights_make(bench_bed *bed, const tool_shape *shape, bench_weights *w);
void bench_weights_free(bench_weights *w);

/* A row of the bed's configuration with every figure NAN. */
bench_row bench_bed_row(const bench_bed *bed, const tool_shape *shape, int64_t m,
                        const char *kernel);
/* Fills in row's figures from its time (us), the bytes it moves and
 * cuBLAS's time (NAN: none), echoes it and keeps it. 1 on success. */
int bench_bed_add_row(bench_bed *bed, bench_row *row, double us, double bytes, double cublas_us);
/* Times `copies`-cycling calls by graph replay (bench_timing.h); says on
 * stderr when the replays spread. 1 on success. */
int bench_bed_time(bench_bed *bed, const char *what, int64_t m, enqueue_fn enqueue, void *args,
                   int copies, double *us);
/* One untimed call: 1 ran, 0 the ctx's kernel cannot take this call or
 * refused its arguments (said why on stderr; a refusal is counted in
 * bed->refused, so that the sweep goes on and its command still fails),
 * -1 an error. */
int bench_bed_probe(bench_bed *bed, const gemm_call *call, const char *shape, const char *kernel);

/* At M: the cuBLAS row (with its host time), then a row for each forced
 * kernel that can take the call. *cublas_us is cuBLAS's time, us[i] kernel
 * i's, NAN where it did not run. 1 on success. */
int bench_bed_time_kernels(bench_bed *bed, const bench_weights *w, int64_t m, double *cublas_us,
                           double us[KERNELS_MAX]);

#endif
