/* Dense weights from quantized layers (see dequantize_dense.h). */
#include "dequantize_dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/source.h"
#include "common/dtype.h"
#include "failure.h"

/* d rounded to float with "round to odd": truncate, then set the last bit
 * when inexact. Rounding that float to a 16-bit type (11 or 8 bits, at least
 * two fewer than float's 24) then gives the same result as rounding d once,
 * with no double rounding. */
static float round_to_odd_float(double d) {
    float f = (float)d;
    if ((double)f == d || isnan(d)) return f;
    if (fabs((double)f) > fabs(d)) f = nextafterf(f, 0.0f);
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= 1u;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Stores row[0..k) rounded once to dtype at out; 0, or -1 when a value overflows. */
static int store_row(const double *row, int64_t k, w4a16_dtype dtype, void *out) {
    for (int64_t i = 0; i < k; i++) {
        float value;
        if (dtype == W4A16_F32) {
            value = (float)row[i];
            ((float *)out)[i] = value;
        } else {
            uint16_t bits = dtype == W4A16_F16 ? w4a16_float_to_f16(round_to_odd_float(row[i]))
                                               : w4a16_float_to_bf16(round_to_odd_float(row[i]));
            value = dtype == W4A16_F16 ? w4a16_f16_to_float(bits) : w4a16_bf16_to_float(bits);
            ((uint16_t *)out)[i] = bits;
        }
        if (isinf(value)) return -1;
    }
    return 0;
}

int dequantize_layer(const char *command, const char *prefix, const w4a16_source *src,
                     w4a16_dtype dtype, w4a16_tensor_list *out) {
    size_t element = (size_t)w4a16_dtype_bits(dtype) / 8;
    char *weight = malloc((size_t)(src->n * src->k) * element);
    double *row = malloc((size_t)src->k * sizeof *row);
    if (weight == NULL || row == NULL) {
        free(weight);
        free(row);
        return tool_fail(command, "%s: out of memory for a %lldx%lld weight", prefix,
                         (long long)src->n, (long long)src->k);
    }
    for (int64_t n = 0; n < src->n; n++) {
        w4a16_source_row(src, n, row);
        if (store_row(row, src->k, dtype, weight + (size_t)(n * src->k) * element) != 0) {
            free(weight);
            free(row);
            return tool_fail(command, "%s: row %lld holds a weight beyond the range of %s", prefix,
                             (long long)n, w4a16_dtype_name(dtype));
        }
    }
    free(row);
    char name[4096];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int64_t shape[2] = {src->n, src->k};
    w4a16_status st = w4a16_tensor_list_add_owned(out, name, dtype, 2, shape, weight);
    return st == W4A16_OK ? 0 : tool_fail_status(command, st, name);
}
