/* The rows `w4a16 bench` measures, as a table on stdout and as the JSON file
 * that bench/plot.py reads and bench/results/ keeps (docs/DESIGN.md §6). */
#ifndef W4A16_TOOLS_BENCH_REPORT_H
#define W4A16_TOOLS_BENCH_REPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "w4a16.h"

/* Kernel rows: "cublas", a kernel name, or "auto"; per-shape rows: "pack"
 * (m = 0) and "dequant" (m = 0). Fields that do not apply are NAN and
 * written as null. */
typedef struct {
    char shape[32];
    int64_t n, k, group;
    w4a16_dtype dtype;
    int asym;
    int act_order;
    int64_t m;
    char kernel[24];
    char chosen[24];        /* auto rows: the kernel the dispatch chose */
    double us, tflops, gbps;
    double ratio_vs_cublas; /* cuBLAS time / this time */
    double host_us;         /* auto rows: host time of one w4a16_gemm call */
} bench_row;

typedef struct {
    bench_row *items;
    int count, capacity;
} bench_rows;

/* 1 on success, 0 when out of memory. */
int bench_rows_add(bench_rows *rows, const bench_row *row);
void bench_rows_free(bench_rows *rows);

void bench_print_header(FILE *out);
void bench_print_row(FILE *out, const bench_row *row);
/* {device, date, commit, rows: [...]}: bench's document, which tune extends. */
json_t *bench_json(const char *device, const char *commit, const bench_rows *rows);
/* Writes a JSON document to path; 1 on success, else prints why, naming
 * the command ("bench"). */
int bench_json_write(const json_t *root, const char *path, const char *command);
/* bench_json written to path; 1 on success, else prints why. */
int bench_write_json(const char *path, const char *device, const char *commit,
                     const bench_rows *rows);

#endif
