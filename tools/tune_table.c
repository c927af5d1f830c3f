/* The tune table and what it computes: the fastest kernel, auto's slowdown,
 * a pair's crossovers and the suggested rule (the printing is in
 * tune_print.c). */
#include "tune_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tune_table_init(tune_table *t, const char *const *kernels, int n_kernels) {
    memset(t, 0, sizeof *t);
    t->n_kernels = n_kernels < TUNE_KERNELS_MAX ? n_kernels : TUNE_KERNELS_MAX;
    for (int i = 0; i < t->n_kernels; i++) t->kernels[i] = kernels[i];
}

void tune_table_free(tune_table *t) {
    free(t->points);
    t->points = NULL;
    t->count = t->capacity = 0;
}

int tune_table_add_shape(tune_table *t, const tool_shape *shape) {
    if (t->n_shapes == SHAPES_MAX) return -1;
    t->shapes[t->n_shapes] = *shape;
    return t->n_shapes++;
}

tune_point *tune_table_add_point(tune_table *t, int shape, int64_t m) {
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 64;
        tune_point *points = realloc(t->points, (size_t)capacity * sizeof *points);
        if (points == NULL) return NULL;
        t->points = points;
        t->capacity = capacity;
    }
    tune_point *p = &t->points[t->count++];
    p->shape = shape;
    p->m = m;
    p->cublas_us = NAN;
    for (int i = 0; i < TUNE_KERNELS_MAX; i++) p->us[i] = NAN;
    p->auto_kernel = -1;
    return p;
}

int tune_table_kernel(const tune_table *t, const char *name) {
    for (int i = 0; i < t->n_kernels; i++)
        if (strcmp(t->kernels[i], name) == 0) return i;
    return -1;
}

int tune_fastest(const tune_table *t, const tune_point *p) {
    int best = -1;
    for (int i = 0; i < t->n_kernels; i++)
        if (!isnan(p->us[i]) && (best < 0 || p->us[i] < p->us[best])) best = i;
    return best;
}

double tune_auto_slowdown(const tune_table *t, const tune_point *p) {
    int best = tune_fastest(t, p);
    if (best < 0 || p->auto_kernel < 0 || isnan(p->us[p->auto_kernel])) return NAN;
    return p->us[p->auto_kernel] / p->us[best];
}

int tune_table_order(const tune_table *t, int shape, int *order) {
    int count = 0;
    for (int i = 0; i < t->count; i++) {
        if (shape >= 0 && t->points[i].shape != shape) continue;
        int at = count++;
        while (at > 0 && t->points[order[at - 1]].m > t->points[i].m) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    return count;
}

/* Runs being built: the first `max` are stored, the rest only counted. */
typedef struct {
    tune_span *runs;
    int max, count;
    int last_kernel;
} run_list;

/* M won by `kernel`: extends the current run or starts one. The run, or
 * NULL when it is past the room. */
static tune_span *run_list_add(run_list *l, int kernel, int64_t m) {
    if (l->count == 0 || l->last_kernel != kernel) {
        l->last_kernel = kernel;
        if (++l->count > l->max) return NULL;
        tune_span *run = &l->runs[l->count - 1];
        run->kernel = kernel;
        run->m_first = m;
        run->worst = NAN;
        run->worst_point = -1;
    }
    if (l->count > l->max) return NULL;
    l->runs[l->count - 1].m_last = m;
    return &l->runs[l->count - 1];
}

int tune_pair_runs(const tune_table *t, int shape, int a, int b, tune_span *runs, int max_runs) {
    int *order = malloc((size_t)(t->count ? t->count : 1) * sizeof *order);
    if (order == NULL) return 0;
    run_list list = {runs, max_runs, 0, -1};
    int n = tune_table_order(t, shape, order);
    for (int i = 0; i < n; i++) {
        const tune_point *p = &t->points[order[i]];
        if (!isnan(p->us[a]) && !isnan(p->us[b]))
            run_list_add(&list, p->us[b] < p->us[a] ? b : a, p->m);
    }
    free(order);
    return list.count;
}

/* At the points order[first..end) (one M), the worst slowdown of kernel k
 * against each point's fastest, and where: INFINITY when k did not run at
 * one of them. */
static double worst_slowdown(const tune_table *t, const int *order, int first, int end, int k,
                             int *where) {
    double worst = 0;
    *where = -1;
    for (int i = first; i < end; i++) {
        const tune_point *p = &t->points[order[i]];
        int best = tune_fastest(t, p);
        if (best < 0) continue;
        double slowdown = isnan(p->us[k]) ? INFINITY : p->us[k] / p->us[best];
        if (*where < 0 || slowdown > worst) worst = slowdown, *where = order[i];
    }
    return worst;
}

int tune_suggest(const tune_table *t, tune_span *bands, int max_bands) {
    int *order = malloc((size_t)(t->count ? t->count : 1) * sizeof *order);
    if (order == NULL) return 0;
    run_list list = {bands, max_bands, 0, -1};
    int n = tune_table_order(t, -1, order);
    for (int first = 0, end; first < n; first = end) {
        const int64_t m = t->points[order[first]].m;
        for (end = first; end < n && t->points[order[end]].m == m;) end++;
        int choice = -1, choice_where = -1;
        double choice_worst = INFINITY;
        for (int k = 0; k < t->n_kernels; k++) {
            int where;
            double worst = worst_slowdown(t, order, first, end, k, &where);
            if (where >= 0 && worst < choice_worst)
                choice = k, choice_worst = worst, choice_where = where;
        }
        if (choice < 0) continue; /* no kernel ran on every shape at this M */
        tune_span *band = run_list_add(&list, choice, m);
        if (band && (band->worst_point < 0 || choice_worst > band->worst))
            band->worst = choice_worst, band->worst_point = choice_where;
    }
    free(order);
    return list.count;
}
