/* dtype names and sizes, and float <-> F16/BF16 conversions on the host. */
#include <math.h>
#include <string.h>

#include "dtype.h"

static const struct {
    const char *name;
    int bits;
} dtype_table[W4A16_DTYPE_COUNT] = {
    [W4A16_DTYPE_INVALID] = {"INVALID", 0},
    [W4A16_BOOL] = {"BOOL", 8},
    [W4A16_U8] = {"U8", 8},
    [W4A16_I8] = {"I8", 8},
    [W4A16_I16] = {"I16", 16},
    [W4A16_U16] = {"U16", 16},
    [W4A16_F16] = {"F16", 16},
    [W4A16_BF16] = {"BF16", 16},
    [W4A16_I32] = {"I32", 32},
    [W4A16_U32] = {"U32", 32},
    [W4A16_F32] = {"F32", 32},
    [W4A16_F64] = {"F64", 64},
    [W4A16_I64] = {"I64", 64},
    [W4A16_U64] = {"U64", 64},
    [W4A16_C64] = {"C64", 64},
    [W4A16_F8_E4M3] = {"F8_E4M3", 8},
    [W4A16_F8_E5M2] = {"F8_E5M2", 8},
    [W4A16_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [W4A16_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [W4A16_F8_E8M0] = {"F8_E8M0", 8},
    [W4A16_F4] = {"F4", 4},
    [W4A16_F6_E2M3] = {"F6_E2M3", 6},
    [W4A16_F6_E3M2] = {"F6_E3M2", 6},
};

const char *w4a16_dtype_name(w4a16_dtype dtype) {
    if ((int)dtype <= 0 || dtype >= W4A16_DTYPE_COUNT) return "INVALID";
    return dtype_table[dtype].name;
}

int w4a16_dtype_bits(w4a16_dtype dtype) {
    if ((int)dtype <= 0 || dtype >= W4A16_DTYPE_COUNT) return 0;
    return dtype_table[dtype].bits;
}

w4a16_dtype w4a16_dtype_parse(const char *name) {
    for (int d = 1; d < W4A16_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_table[d].name) == 0) return (w4a16_dtype)d;
    return W4A16_DTYPE_INVALID;
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float w4a16_f16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        /* zero or subnormal: mantissa * 2^-24, exact in float */
        float value = ldexpf((float)mantissa, -24);
        return sign ? -value : value;
    }
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t w4a16_float_to_f16(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    float magnitude = fabsf(f);
    if (isnan(f)) return (uint16_t)(sign | 0x7e00u);
    if (magnitude >= 65520.0f) return (uint16_t)(sign | 0x7c00u); /* rounds to inf */
    if (magnitude < 6.103515625e-05f) {
        /* subnormal range: multiples of 2^-24, rounded to nearest even by rintf */
        return (uint16_t)(sign | (uint16_t)rintf(magnitude * 16777216.0f));
    }
    uint32_t m = float_bits(magnitude);
    uint32_t rounded = m + 0x0fffu + ((m >> 13) & 1u); /* round to nearest even at bit 13 */
    uint32_t exponent = (rounded >> 23) - 112u;
    return (uint16_t)(sign | (exponent << 10) | ((rounded >> 13) & 0x3ffu));
}

float w4a16_bf16_to_float(uint16_t b) { return bits_float((uint32_t)b << 16); }

uint16_t w4a16_float_to_bf16(float f) {
    uint32_t u = float_bits(f);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

double w4a16_load_as_double(const void *data, w4a16_dtype dtype, int64_t i) {
    switch (dtype) {
    case W4A16_F16: return w4a16_f16_to_float(((const uint16_t *)data)[i]);
    case W4A16_BF16: return w4a16_bf16_to_float(((const uint16_t *)data)[i]);
    case W4A16_F32: return ((const float *)data)[i];
    case W4A16_F64: return ((const double *)data)[i];
    default: return 0.0;
    }
}

float w4a16_round_to_dtype(float f, w4a16_dtype dtype) {
    switch (dtype) {
    case W4A16_F16: return w4a16_f16_to_float(w4a16_float_to_f16(f));
    case W4A16_BF16: return w4a16_bf16_to_float(w4a16_float_to_bf16(f));
    default: return f;
    }
}
