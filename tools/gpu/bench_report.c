/* Table and JSON output of bench rows. */
#include "bench_report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

int bench_rows_add(bench_rows *rows, const bench_row *row) {
    if (rows->count == rows->capacity) {
        int capacity = rows->capacity ? 2 * rows->capacity : 64;
        bench_row *items = realloc(rows->items, (size_t)capacity * sizeof *items);
        if (items == NULL) return 0;
        rows->items = items;
        rows->capacity = capacity;
    }
    rows->items[rows->count++] = *row;
    return 1;
}

void bench_rows_free(bench_rows *rows) {
    free(rows->items);
    memset(rows, 0, sizeof *rows);
}

void bench_print_header(FILE *out) {
    fprintf(out, "%-10s %6s %6s %5s %-22s %10s %8s %8s %8s %8s\n", "shape", "N", "K", "M",
            "kernel", "us", "TFLOP/s", "GB/s", "xcuBLAS", "host_us");
}

/* A number in width characters, or "-" when it does not apply. */
static void print_value(FILE *out, int width, int decimals, double value) {
    if (isnan(value))
        fprintf(out, " %*s", width, "-");
    else
        fprintf(out, " %*.*f", width, decimals, value);
}

void bench_print_row(FILE *out, const bench_row *row) {
    char kernel[64];
    if (row->chosen[0])
        snprintf(kernel, sizeof kernel, "%s(%s)", row->kernel, row->chosen);
    else
        snprintf(kernel, sizeof kernel, "%s", row->kernel);
    fprintf(out, "%-10s %6lld %6lld %5lld %-22s", row->shape, (long long)row->n,
            (long long)row->k, (long long)row->m, kernel);
    print_value(out, 10, 2, row->us);
    print_value(out, 8, 1, row->tflops);
    print_value(out, 8, 0, row->gbps);
    print_value(out, 8, 3, row->ratio_vs_cublas);
    print_value(out, 8, 2, row->host_us);
    fputc('\n', out);
    fflush(out);
}

static json_t *number_or_null(double value) {
    return isnan(value) ? json_null() : json_real(value);
}

static json_t *row_json(const bench_row *row) {
    json_t *object = json_object();
    json_object_set_new(object, "shape", json_string(row->shape));
    json_object_set_new(object, "n", json_integer(row->n));
    json_object_set_new(object, "k", json_integer(row->k));
    json_object_set_new(object, "group", json_integer(row->group));
    json_object_set_new(object, "dtype", json_string(sweep_dtype_name(row->dtype)));
    json_object_set_new(object, "asym", json_boolean(row->asym));
    json_object_set_new(object, "act_order", json_boolean(row->act_order));
    json_object_set_new(object, "m", json_integer(row->m));
    json_object_set_new(object, "kernel", json_string(row->kernel));
    json_object_set_new(object, "us", number_or_null(row->us));
    json_object_set_new(object, "tflops", number_or_null(row->tflops));
    json_object_set_new(object, "gbps", number_or_null(row->gbps));
    json_object_set_new(object, "ratio_vs_cublas", number_or_null(row->ratio_vs_cublas));
    /* Host time of one call: the dispatched choice's, and cuBLAS's beside it. */
    if (strcmp(row->kernel, "auto") == 0 || strcmp(row->kernel, "cublas") == 0)
        json_object_set_new(object, "host_us", number_or_null(row->host_us));
    return object;
}

json_t *bench_json(const char *device, const char *commit, const bench_rows *rows) {
    char date[16];
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    strftime(date, sizeof date, "%Y-%m-%d", &local);

    json_t *root = json_object();
    json_t *items = json_array();
    json_object_set_new(root, "device", json_string(device));
    json_object_set_new(root, "date", json_string(date));
    json_object_set_new(root, "commit", json_string(commit));
    for (int i = 0; i < rows->count; i++) json_array_append_new(items, row_json(&rows->items[i]));
    json_object_set_new(root, "rows", items);
    return root;
}

int bench_json_write(const json_t *root, const char *path, const char *command) {
    int ok = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) == 0;
    if (!ok) fprintf(stderr, "w4a16 %s: cannot write %s\n", command, path);
    return ok;
}

int bench_write_json(const char *path, const char *device, const char *commit,
                     const bench_rows *rows) {
    json_t *root = bench_json(device, commit, rows);
    int ok = bench_json_write(root, path, "bench");
    json_decref(root);
    return ok;
}
