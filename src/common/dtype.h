/* Host conversions between float and the 16-bit float formats, exact where
 * the value fits and round-to-nearest-even otherwise. */
#ifndef W4A16_COMMON_DTYPE_H
#define W4A16_COMMON_DTYPE_H

#include <stdint.h>

#include "w4a16.h"

#ifdef __cplusplus
extern "C" {
#endif

float w4a16_f16_to_float(uint16_t h);
uint16_t w4a16_float_to_f16(float f);
float w4a16_bf16_to_float(uint16_t b);
uint16_t w4a16_float_to_bf16(float f);

/* Element i of a F16, BF16, F32 or F64 array as double (0 for other dtypes). */
double w4a16_load_as_double(const void *data, w4a16_dtype dtype, int64_t i);
/* Rounds f to the nearest value of dtype (F16, BF16, F32), returned as float. */
float w4a16_round_to_dtype(float f, w4a16_dtype dtype);
/* Parses "F16", "BF16", ... (safetensors spelling); INVALID if unknown. */
w4a16_dtype w4a16_dtype_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif
