/* The tune table as text (stdout) and as JSON (see tune_table.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune_table.h"

#define RUNS_MAX M_LIST_MAX

static const char *kernel_or_dash(const tune_table *t, int kernel) {
    return kernel >= 0 && kernel < t->n_kernels ? t->kernels[kernel] : "-";
}

/* A time column as wide as its header (at least 9). */
static int column_width(const char *name) {
    int width = (int)strlen(name);
    return width < 9 ? 9 : width;
}

static void print_us(FILE *out, int width, double us) {
    if (isnan(us))
        fprintf(out, " %*s", width, "-");
    else
        fprintf(out, " %*.2f", width, us);
}

/* "qkv 6144x2560", padded to width. */
static void print_shape_name(FILE *out, const tool_shape *s, int width) {
    char name[96];
    snprintf(name, sizeof name, "%s %lldx%lld", s->name, (long long)s->n, (long long)s->k);
    fprintf(out, "%-*s", width, name);
}

void tune_print_shape(FILE *out, const tune_table *t, int shape) {
    const tool_shape *s = &t->shapes[shape];
    fprintf(out, "\n%s %lldx%lld: us per call (\"-\": the kernel cannot take the call)\n", s->name,
            (long long)s->n, (long long)s->k);
    fprintf(out, "%6s %9s", "M", "cublas");
    for (int k = 0; k < t->n_kernels; k++) fprintf(out, " %*s", column_width(t->kernels[k]), t->kernels[k]);
    fprintf(out, "  %-13s %-13s %s\n", "fastest", "auto", "auto/fastest");
    int *order = malloc((size_t)(t->count ? t->count : 1) * sizeof *order);
    int count = order ? tune_table_order(t, shape, order) : 0;
    for (int i = 0; i < count; i++) {
        const tune_point *p = &t->points[order[i]];
        fprintf(out, "%6lld", (long long)p->m);
        print_us(out, 9, p->cublas_us);
        for (int k = 0; k < t->n_kernels; k++) print_us(out, column_width(t->kernels[k]), p->us[k]);
        double slowdown = tune_auto_slowdown(t, p);
        fprintf(out, "  %-13s %-13s", kernel_or_dash(t, tune_fastest(t, p)),
                kernel_or_dash(t, p->auto_kernel));
        if (isnan(slowdown))
            fprintf(out, " %12s\n", "-");
        else
            fprintf(out, " %12.3f%s\n", slowdown, slowdown > TUNE_TOLERANCE ? "  > 3%" : "");
    }
    free(order);
}

static void print_auto_agreement(FILE *out, const tune_table *t) {
    int within = 0, judged = 0;
    for (int i = 0; i < t->count; i++) {
        double slowdown = tune_auto_slowdown(t, &t->points[i]);
        if (isnan(slowdown)) continue;
        judged++;
        within += slowdown <= TUNE_TOLERANCE;
    }
    fprintf(out, "\nauto within 3%% of the fastest kernel at %d of %d (shape, M)%s\n", within,
            judged, within < judged ? "; not at:" : "");
    for (int i = 0; i < t->count; i++) {
        const tune_point *p = &t->points[i];
        double slowdown = tune_auto_slowdown(t, p);
        if (isnan(slowdown) || slowdown <= TUNE_TOLERANCE) continue;
        int best = tune_fastest(t, p);
        fprintf(out, "  ");
        print_shape_name(out, &t->shapes[p->shape], 24);
        fprintf(out, " M=%-5lld auto %s %.2f us, fastest %s %.2f us (%.3fx)\n", (long long)p->m,
                t->kernels[p->auto_kernel], p->us[p->auto_kernel], t->kernels[best], p->us[best],
                slowdown);
    }
}

static void print_runs(FILE *out, const tune_table *t, const tune_span *runs, int count) {
    for (int r = 0; r < count && r < RUNS_MAX; r++) {
        fprintf(out, "%s%s %lld", r ? ", " : "", t->kernels[runs[r].kernel],
                (long long)runs[r].m_first);
        if (runs[r].m_last != runs[r].m_first) fprintf(out, "..%lld", (long long)runs[r].m_last);
    }
    fprintf(out, "%s\n", count > RUNS_MAX ? ", ..." : "");
}

static void print_crossovers(FILE *out, const tune_table *t) {
    fprintf(out, "\ncrossovers: per pair of kernels and shape, which is faster over which M "
                 "(the M measured where both ran)\n");
    tune_span runs[RUNS_MAX];
    for (int a = 0; a < t->n_kernels; a++)
        for (int b = a + 1; b < t->n_kernels; b++) {
            int printed = 0;
            for (int s = 0; s < t->n_shapes; s++) {
                int count = tune_pair_runs(t, s, a, b, runs, RUNS_MAX);
                if (count == 0) continue;
                if (!printed++) fprintf(out, "  %s | %s\n", t->kernels[a], t->kernels[b]);
                fprintf(out, "    ");
                print_shape_name(out, &t->shapes[s], 24);
                fprintf(out, " ");
                print_runs(out, t, runs, count);
            }
        }
}

static void print_suggestion(FILE *out, const tune_table *t) {
    tune_span bands[RUNS_MAX];
    int count = tune_suggest(t, bands, RUNS_MAX);
    if (count > RUNS_MAX) count = RUNS_MAX;
    fprintf(out, "\nsuggested rule: at each M, the kernel whose worst slowdown against the "
                 "fastest, over the shapes, is least\n");
    for (int b = 0; b < count; b++) {
        const tune_point *worst = &t->points[bands[b].worst_point];
        char range[48];
        snprintf(range, sizeof range, "M %lld..%lld", (long long)bands[b].m_first,
                 (long long)bands[b].m_last);
        fprintf(out, "  %-16s %-13s worst %.3fx (", range, t->kernels[bands[b].kernel],
                bands[b].worst);
        print_shape_name(out, &t->shapes[worst->shape], 0);
        fprintf(out, " M=%lld)\n", (long long)worst->m);
    }
    /* The bound of each band is its last M measured: the crossover lies
     * between it and the next band's first. */
    fprintf(out, "  as bands of src/gpu/dispatch_rules.c:");
    for (int b = 0; b < count; b++) {
        if (b + 1 < count)
            fprintf(out, " {%lld, %s}", (long long)bands[b].m_last, t->kernels[bands[b].kernel]);
        else
            fprintf(out, " {INT64_MAX, %s}", t->kernels[bands[b].kernel]);
    }
    fprintf(out, "\n");
}

void tune_print_summary(FILE *out, const tune_table *t) {
    print_auto_agreement(out, t);
    print_crossovers(out, t);
    print_suggestion(out, t);
}

static json_t *number_or_null(double value) {
    return isnan(value) || isinf(value) ? json_null() : json_real(value);
}

static json_t *kernel_or_null(const tune_table *t, int kernel) {
    return kernel >= 0 && kernel < t->n_kernels ? json_string(t->kernels[kernel]) : json_null();
}

static void set_shape(json_t *object, const tool_shape *s) {
    json_object_set_new(object, "shape", json_string(s->name));
    json_object_set_new(object, "n", json_integer(s->n));
    json_object_set_new(object, "k", json_integer(s->k));
}

static json_t *choice_json(const tune_table *t, const tune_point *p) {
    json_t *object = json_object();
    int best = tune_fastest(t, p);
    double slowdown = tune_auto_slowdown(t, p);
    set_shape(object, &t->shapes[p->shape]);
    json_object_set_new(object, "m", json_integer(p->m));
    json_object_set_new(object, "cublas_us", number_or_null(p->cublas_us));
    json_object_set_new(object, "fastest", kernel_or_null(t, best));
    json_object_set_new(object, "fastest_us", number_or_null(best >= 0 ? p->us[best] : NAN));
    json_object_set_new(object, "auto", kernel_or_null(t, p->auto_kernel));
    json_object_set_new(object, "auto_us",
                        number_or_null(p->auto_kernel >= 0 ? p->us[p->auto_kernel] : NAN));
    json_object_set_new(object, "auto_slowdown", number_or_null(slowdown));
    json_object_set_new(object, "auto_within_3pct",
                        isnan(slowdown) ? json_null() : json_boolean(slowdown <= TUNE_TOLERANCE));
    return object;
}

static json_t *runs_json(const tune_table *t, const tune_span *runs, int count, const char *key) {
    json_t *array = json_array();
    for (int r = 0; r < count && r < RUNS_MAX; r++) {
        json_t *run = json_object();
        json_object_set_new(run, key, json_string(t->kernels[runs[r].kernel]));
        json_object_set_new(run, "m_first", json_integer(runs[r].m_first));
        json_object_set_new(run, "m_last", json_integer(runs[r].m_last));
        if (runs[r].worst_point >= 0) {
            const tune_point *worst = &t->points[runs[r].worst_point];
            const tool_shape *shape = &t->shapes[worst->shape];
            json_object_set_new(run, "worst_slowdown", number_or_null(runs[r].worst));
            json_object_set_new(run, "worst_shape", json_string(shape->name));
            json_object_set_new(run, "worst_n", json_integer(shape->n));
            json_object_set_new(run, "worst_k", json_integer(shape->k));
            json_object_set_new(run, "worst_m", json_integer(worst->m));
        }
        json_array_append_new(array, run);
    }
    return array;
}

static json_t *crossovers_json(const tune_table *t) {
    json_t *array = json_array();
    tune_span runs[RUNS_MAX];
    for (int a = 0; a < t->n_kernels; a++)
        for (int b = a + 1; b < t->n_kernels; b++)
            for (int s = 0; s < t->n_shapes; s++) {
                int count = tune_pair_runs(t, s, a, b, runs, RUNS_MAX);
                if (count == 0) continue;
                json_t *pair = json_object();
                json_object_set_new(pair, "kernels", json_pack("[ss]", t->kernels[a], t->kernels[b]));
                set_shape(pair, &t->shapes[s]);
                json_object_set_new(pair, "runs", runs_json(t, runs, count, "faster"));
                json_array_append_new(array, pair);
            }
    return array;
}

json_t *tune_table_json(const tune_table *t) {
    json_t *root = json_object();
    json_t *choices = json_array();
    for (int i = 0; i < t->count; i++) json_array_append_new(choices, choice_json(t, &t->points[i]));
    json_object_set_new(root, "choices", choices);
    json_object_set_new(root, "crossovers", crossovers_json(t));
    tune_span bands[RUNS_MAX];
    int count = tune_suggest(t, bands, RUNS_MAX);
    json_object_set_new(root, "suggested_rule", runs_json(t, bands, count, "kernel"));
    return root;
}
