/* `w4a16 tune` on the GPU: per shape, the weights bench uses (bench_bed.h),
 * then per M the cuBLAS baseline and every kernel forced in turn, and the
 * kernel auto would choose (its time is that kernel's row: the same call on
 * another ctx). The table is printed per shape as it completes, the summary
 * at the end; the JSON is rewritten after each shape, so that a run cut
 * short keeps the shapes it finished. */
#ifdef W4A16_WITH_CUDA
#include <stdint.h>
#include <string.h>

#include "bench_bed.h"
#include "commands.h"
#include "gpu/decode.h"
#include "gpu/dispatch.h"
#include "gpu/dispatch_rules.h"
#include "kernel_plan/decode_plan.h"
#include "tune.h"
#include "tune_table.h"

_Static_assert(KERNELS_MAX <= TUNE_KERNELS_MAX, "the tune table holds every kernel");

static const w4a16_dispatch_rule *device_rule(const bench_bed *b) {
    return w4a16_dispatch_rule_for(b->device.sm_major,
                                   w4a16_weight_class_of(b->act_order, b->group));
}

/* E.g. "M <= 16: decode, decode_v2; above: sm90_prefill". */
static void print_rule(FILE *out, const w4a16_dispatch_rule *rule) {
    fprintf(out, "auto's rule on this device (%s%s, src/gpu/dispatch_rules.c):", rule->device_class,
            rule->weights == W4A16_WEIGHTS_GATHERED_OR_FINE ? ", act-order or G not a multiple of 64"
                                                             : "");
    for (int b = 0; b < rule->n_bands; b++) {
        const w4a16_dispatch_band *band = &rule->bands[b];
        if (band->max_m == INT64_MAX)
            fprintf(out, "%s above:", b ? ";" : "");
        else
            fprintf(out, "%s M <= %lld:", b ? ";" : "", (long long)band->max_m);
        for (int k = 0; k < W4A16_RULE_KERNELS && band->kernels[k] != W4A16_KERNEL_AUTO; k++)
            fprintf(out, "%s %s", k ? "," : "", w4a16_kernel_name(band->kernels[k]));
    }
    fprintf(out, "\n");
}

/* The decode plan's view of the device: clusters of S CTAs that run at once
 * with one and two CTAs an SM, as bench/fit_decode_plan.py's --clusters. */
static void print_decode_clusters(FILE *out, w4a16_ctx *ctx) {
    fprintf(out, "decode clusters that run at once (S:one/two CTAs an SM):");
    for (int s = 2; s <= W4A16_DECODE_MAX_SPLITS; s++)
        fprintf(out, "%s%d:%d/%d", s > 2 ? "," : " ", s, w4a16_decode_clusters(ctx, s, 1),
                w4a16_decode_clusters(ctx, s, 2));
    fprintf(out, "\n");
}

static json_t *rule_json(const w4a16_dispatch_rule *rule) {
    json_t *bands = json_array();
    for (int b = 0; b < rule->n_bands; b++) {
        const w4a16_dispatch_band *band = &rule->bands[b];
        json_t *kernels = json_array();
        for (int k = 0; k < W4A16_RULE_KERNELS && band->kernels[k] != W4A16_KERNEL_AUTO; k++)
            json_array_append_new(kernels, json_string(w4a16_kernel_name(band->kernels[k])));
        /* null: no bound (every larger M). */
        json_array_append_new(bands, json_pack("{s:o, s:o}", "max_m",
                                               band->max_m == INT64_MAX ? json_null()
                                                                        : json_integer(band->max_m),
                                               "kernels", kernels));
    }
    return json_pack("{s:s, s:s, s:o}", "device_class", rule->device_class, "weights",
                     rule->weights == W4A16_WEIGHTS_GATHERED_OR_FINE ? "act-order or fine groups"
                                                                      : "plain",
                     "bands", bands);
}

/* bench's document (device, date, commit, rows) with tune's members. */
static int write_json(const bench_bed *b, const tune_table *t, const char *path) {
    json_t *root = bench_json(b->device.name, W4A16_GIT_COMMIT, &b->rows);
    json_object_set_new(root, "command", json_string("tune"));
    json_object_set_new(root, "rule", rule_json(device_rule(b)));
    json_t *table = tune_table_json(t);
    json_object_update(root, table);
    json_decref(table);
    int ok = bench_json_write(root, path, "tune");
    json_decref(root);
    return ok;
}

static int tune_shape(bench_bed *b, tune_table *t, const sweep *sw, const tool_shape *shape) {
    int index = tune_table_add_shape(t, shape);
    bench_weights w;
    memset(&w, 0, sizeof w);
    int ok = index >= 0 && bench_weights_make(b, shape, &w);
    for (int i = 0; ok && i < sw->ms.count; i++) {
        const int64_t m = sw->ms.values[i];
        tune_point *p = tune_table_add_point(t, index, m);
        double us[KERNELS_MAX];
        ok = p != NULL && bench_bed_time_kernels(b, &w, m, &p->cublas_us, us);
        if (!ok) break;
        memcpy(p->us, us, sizeof us);
        p->auto_kernel = kernel_index(w4a16_gemm_kernel_name(b->auto_ctx, &w.copies.packed[0], m));
    }
    bench_weights_free(&w);
    return ok;
}

int tune_run(const tune_options *options) {
    gpu_tool_set_command("tune");
    const sweep *sw = &options->sw;
    int enabled[KERNELS_MAX];
    const char *names[KERNELS_MAX];
    for (int i = 0; i < kernel_count(); i++) enabled[i] = 1, names[i] = kernel_name(i);
    tune_table t;
    tune_table_init(&t, names, kernel_count());
    bench_bed b;
    int code = EXIT_FAILURE_INPUT, tuned = 0;
    /* Each row goes to stderr as it is measured: progress, and the raw figures. */
    if (!bench_bed_open(&b, sw, enabled, stderr)) goto done;
    bench_bed_print_config(&b, stdout);
    print_rule(stdout, device_rule(&b));
    if (b.device.sm_major == 9) print_decode_clusters(stdout, b.auto_ctx);
    bench_print_header(stderr);
    for (int i = 0; i < sw->shapes.count; i++) {
        const tool_shape *shape = &sw->shapes.items[i];
        if (!bench_bed_shape_fits(&b, shape)) continue;
        if (!tune_shape(&b, &t, sw, shape)) goto done;
        tune_print_shape(stdout, &t, t.n_shapes - 1);
        fflush(stdout);
        if (options->json_path && !write_json(&b, &t, options->json_path)) goto done;
        tuned++;
    }
    if (tuned == 0) {
        fprintf(stderr, "w4a16 tune: no shape fits group %lld\n", (long long)b.group);
        goto done;
    }
    tune_print_summary(stdout, &t);
    code = EXIT_OK;
done:
    tune_table_free(&t);
    bench_bed_close(&b);
    return code;
}
#endif
