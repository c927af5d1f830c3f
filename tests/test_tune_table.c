/* `w4a16 tune`'s analysis (tools/tune_table.c, tools/tune_print.c) on made-up
 * timings: the fastest kernel and auto's slowdown, a pair's crossovers in
 * order of M whatever the order measured, the suggested rule's bands, and
 * the text and JSON reports. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tune_table.h"

enum { FALLBACK, SM90, DECODE, DECODE_V2 };
static const char *const KERNELS[] = {"fallback", "sm90_prefill", "decode", "decode_v2"};

/* Adds a point: times of fallback, sm90_prefill, decode (NAN: cannot run). */
static void add(tune_table *t, int shape, int64_t m, double fallback, double sm90, double decode,
                int auto_kernel) {
    tune_point *p = tune_table_add_point(t, shape, m);
    assert_non_null(p);
    p->cublas_us = 2 * fallback;
    p->us[FALLBACK] = fallback;
    p->us[SM90] = sm90;
    p->us[DECODE] = decode;
    p->auto_kernel = auto_kernel;
}

/* Two shapes, M measured out of order. decode wins to 8 on both; at 16 it
 * wins on qkv by 2% but loses on o_proj by 10%; the fallback wins at 2048. */
static void make_table(tune_table *t) {
    tune_table_init(t, KERNELS, 4);
    const tool_shape qkv = {"qkv", 6144, 2560}, o_proj = {"o_proj", 2560, 4096};
    assert_int_equal(tune_table_add_shape(t, &qkv), 0);
    assert_int_equal(tune_table_add_shape(t, &o_proj), 1);
    add(t, 0, 16, 40, 10.2, 10, DECODE);
    add(t, 0, 1, 30, 20, 8, DECODE);
    add(t, 0, 2048, 100, 120, NAN, SM90); /* auto misses by 20% */
    add(t, 0, 8, 35, 15, 9, DECODE);
    add(t, 1, 1, 30, 20, 8, DECODE);
    add(t, 1, 8, 35, 15, 9, DECODE);
    add(t, 1, 16, 40, 10, 11, DECODE); /* auto misses by 10% */
    add(t, 1, 2048, 100, 110, NAN, FALLBACK);
}

static void test_fastest_and_auto_slowdown(void **state) {
    (void)state;
    tune_table t;
    make_table(&t);
    assert_int_equal(tune_table_kernel(&t, "decode"), DECODE);
    assert_int_equal(tune_table_kernel(&t, "marlin"), -1);
    assert_int_equal(tune_fastest(&t, &t.points[0]), DECODE);
    assert_true(tune_auto_slowdown(&t, &t.points[0]) == 1.0);
    assert_int_equal(tune_fastest(&t, &t.points[2]), FALLBACK);
    assert_true(fabs(tune_auto_slowdown(&t, &t.points[2]) - 1.2) < 1e-12);
    t.points[2].auto_kernel = DECODE_V2; /* chose a kernel that did not run */
    assert_true(isnan(tune_auto_slowdown(&t, &t.points[2])));
    t.points[2].auto_kernel = -1;
    assert_true(isnan(tune_auto_slowdown(&t, &t.points[2])));
    tune_point *none = tune_table_add_point(&t, 0, 4); /* nothing measured */
    assert_int_equal(tune_fastest(&t, none), -1);
    tune_table_free(&t);
}

static void test_pair_runs_in_order_of_m(void **state) {
    (void)state;
    tune_table t;
    make_table(&t);
    tune_span runs[8];
    /* qkv: decode at 1, 8, 16; sm90_prefill and decode never both at 2048. */
    assert_int_equal(tune_pair_runs(&t, 0, SM90, DECODE, runs, 8), 1);
    assert_int_equal(runs[0].kernel, DECODE);
    assert_int_equal(runs[0].m_first, 1);
    assert_int_equal(runs[0].m_last, 16);
    /* o_proj: decode at 1..8, sm90_prefill at 16. */
    assert_int_equal(tune_pair_runs(&t, 1, DECODE, SM90, runs, 8), 2);
    assert_int_equal(runs[0].kernel, DECODE);
    assert_int_equal(runs[0].m_last, 8);
    assert_int_equal(runs[1].kernel, SM90);
    assert_int_equal(runs[1].m_first, 16);
    assert_int_equal(runs[1].m_last, 16);
    /* qkv, fallback against sm90_prefill: sm90 to 16, the fallback at 2048. */
    assert_int_equal(tune_pair_runs(&t, 0, FALLBACK, SM90, runs, 8), 2);
    assert_int_equal(runs[1].kernel, FALLBACK);
    assert_int_equal(runs[1].m_first, 2048);
    /* decode_v2 never ran: no runs. */
    assert_int_equal(tune_pair_runs(&t, 0, DECODE, DECODE_V2, runs, 8), 0);
    /* Room for one run: the count still says two. */
    assert_int_equal(tune_pair_runs(&t, 1, DECODE, SM90, runs, 1), 2);
    assert_int_equal(runs[0].kernel, DECODE);
    tune_table_free(&t);
}

static void test_suggested_bands(void **state) {
    (void)state;
    tune_table t;
    make_table(&t);
    tune_span bands[8];
    /* At 16, decode's worst is 1.10x (o_proj), sm90_prefill's 1.02x (qkv). */
    assert_int_equal(tune_suggest(&t, bands, 8), 3);
    assert_int_equal(bands[0].kernel, DECODE);
    assert_int_equal(bands[0].m_first, 1);
    assert_int_equal(bands[0].m_last, 8);
    assert_true(bands[0].worst == 1.0);
    assert_int_equal(bands[1].kernel, SM90);
    assert_int_equal(bands[1].m_first, 16);
    assert_true(fabs(bands[1].worst - 1.02) < 1e-12);
    assert_int_equal(t.points[bands[1].worst_point].shape, 0);
    assert_int_equal(bands[2].kernel, FALLBACK);
    assert_int_equal(bands[2].m_first, 2048);
    assert_int_equal(t.points[bands[2].worst_point].m, 2048);
    tune_table_free(&t);
}

static void test_reports(void **state) {
    (void)state;
    tune_table t;
    make_table(&t);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    tune_print_shape(out, &t, 1);
    tune_print_summary(out, &t);
    fclose(out);
    assert_non_null(strstr(text, "o_proj 2560x4096: us per call"));
    assert_non_null(strstr(text, "1.100  > 3%"));
    assert_non_null(strstr(text, "auto within 3% of the fastest kernel at 6 of 8 (shape, M)"));
    assert_non_null(strstr(text, "auto sm90_prefill 120.00 us, fastest fallback 100.00 us"));
    assert_non_null(strstr(text, "  fallback | sm90_prefill\n"));
    assert_non_null(strstr(text, "sm90_prefill 1..16, fallback 2048\n"));
    assert_non_null(strstr(text, "decode 1..8, sm90_prefill 16\n"));
    assert_non_null(strstr(text, "{8, decode} {16, sm90_prefill} {INT64_MAX, fallback}"));
    /* A shape's rows in order of M: 1 before 8 before 16. */
    const char *one = strstr(text, "\n     1 "), *sixteen = strstr(text, "\n    16 ");
    assert_true(one && sixteen && one < sixteen);
    free(text);

    json_t *json = tune_table_json(&t);
    json_t *choices = json_object_get(json, "choices");
    assert_int_equal(json_array_size(choices), 8);
    json_t *miss = json_array_get(choices, 2);
    assert_string_equal(json_string_value(json_object_get(miss, "auto")), "sm90_prefill");
    assert_string_equal(json_string_value(json_object_get(miss, "fastest")), "fallback");
    assert_true(json_is_false(json_object_get(miss, "auto_within_3pct")));
    assert_int_equal(json_array_size(json_object_get(json, "suggested_rule")), 3);
    json_t *pair = json_array_get(json_object_get(json, "crossovers"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pair, "kernels"), 1)),
                        "sm90_prefill");
    json_decref(json);
    tune_table_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastest_and_auto_slowdown),
        cmocka_unit_test(test_pair_runs_in_order_of_m),
        cmocka_unit_test(test_suggested_bands),
        cmocka_unit_test(test_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
