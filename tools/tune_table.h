/* What `w4a16 tune` makes of its measurements (docs/DESIGN.md §5): per
 * shape and M the time of each kernel, the fastest, auto's choice and
 * whether it is within 3% of the fastest; per pair of kernels, where the
 * faster of the two changes; and a rule suggested from every shape at once.
 * Plain C without CUDA, so it is tested on the CPU (tests/test_tune_table.c). */
#ifndef W4A16_TOOLS_TUNE_TABLE_H
#define W4A16_TOOLS_TUNE_TABLE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "shapes.h"

#define TUNE_KERNELS_MAX 16
/* auto may be this much slower than the fastest kernel (issue 9: within 3%). */
#define TUNE_TOLERANCE 1.03

typedef struct {
    int shape;                   /* index into the table's shapes */
    int64_t m;
    double cublas_us;            /* the dense baseline; NAN when not measured */
    double us[TUNE_KERNELS_MAX]; /* by kernel index; NAN where the kernel cannot take the call */
    int auto_kernel;             /* auto's choice as a kernel index; -1 when unknown */
} tune_point;

typedef struct {
    const char *kernels[TUNE_KERNELS_MAX]; /* names by kernel index; auto and cuBLAS are not kernels here */
    int n_kernels;
    tool_shape shapes[SHAPES_MAX];
    int n_shapes;
    tune_point *points; /* in the order measured */
    int count, capacity;
} tune_table;

/* Consecutive measured M (m_first..m_last) where `kernel` is the faster of a
 * pair, or the rule's choice. */
typedef struct {
    int kernel;
    int64_t m_first, m_last;
    double worst;    /* suggested bands: the largest slowdown against the fastest kernel */
    int worst_point; /* ... at this point (index into points); -1 when none */
} tune_span;

/* The names must outlive the table. */
void tune_table_init(tune_table *t, const char *const *kernels, int n_kernels);
void tune_table_free(tune_table *t);
/* The shape's index, or -1 when the table holds SHAPES_MAX already. */
int tune_table_add_shape(tune_table *t, const tool_shape *shape);
/* A new point with no time measured and auto unknown; NULL when out of memory. */
tune_point *tune_table_add_point(tune_table *t, int shape, int64_t m);
/* The index of a kernel name; -1 when the table does not know it. */
int tune_table_kernel(const tune_table *t, const char *name);
/* The points of `shape` (every shape when shape < 0) in order of M (then in
 * the order measured): their count, their indices in order (order has room
 * for t->count). */
int tune_table_order(const tune_table *t, int shape, int *order);

/* The kernel with the least time at p; -1 when none ran. */
int tune_fastest(const tune_table *t, const tune_point *p);
/* auto's time over the fastest kernel's at p (1 when auto chose the
 * fastest); NAN when auto's choice is unknown or did not run. */
double tune_auto_slowdown(const tune_table *t, const tune_point *p);

/* For a shape and two kernels, the runs of M (ascending, M where both ran)
 * over which the same one is faster: their count, at most max_runs written. */
int tune_pair_runs(const tune_table *t, int shape, int a, int b, tune_span *runs, int max_runs);
/* The rule the measurements suggest: at each M measured, the kernel whose
 * worst slowdown against the fastest, over the shapes measured at that M, is
 * least (a kernel that cannot take one of them is out); bands of M with the
 * same choice, ascending. Their count, at most max_bands written. */
int tune_suggest(const tune_table *t, tune_span *bands, int max_bands);

/* A shape's block of the crossover table: per M (ascending) cuBLAS and each
 * kernel in us, the fastest, auto's choice and auto's slowdown. */
void tune_print_shape(FILE *out, const tune_table *t, int shape);
/* How often auto is within TUNE_TOLERANCE of the fastest (and where not),
 * the crossovers of each pair of kernels per shape, and the suggested rule. */
void tune_print_summary(FILE *out, const tune_table *t);
/* {"choices": [...], "crossovers": [...], "suggested_rule": [...]}: the same,
 * machine-readable (docs/DESIGN.md §6). */
json_t *tune_table_json(const tune_table *t);

#endif
