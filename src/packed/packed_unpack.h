/* Reading a packed weight back on the host, from host copies of its device
 * buffers: the tests compare every element with the source through this, and
 * it goes through the same layout inlines as the kernels. */
#ifndef W4A16_PACKED_PACKED_UNPACK_H
#define W4A16_PACKED_PACKED_UNPACK_H

#include "w4a16.h"

typedef struct {
    const w4a16_weight *header; /* shapes and dtypes; its pointers are not read */
    const uint32_t *qweight;    /* host copies of the device buffers */
    const void *scales;
    const uint8_t *zeros;       /* NULL: symmetric */
} w4a16_packed_host;

/* q of row n, packed column j (0 <= n < n_padded, 0 <= j < k_padded). */
int32_t w4a16_packed_q(const w4a16_packed_host *p, int64_t n, int64_t j);
/* z and s of row n, packed group g (g < groups_padded). */
int32_t w4a16_packed_zero(const w4a16_packed_host *p, int64_t n, int64_t g);
double w4a16_packed_scale(const w4a16_packed_host *p, int64_t n, int64_t g);
/* Packed group of packed column j. */
int64_t w4a16_packed_group_of(const w4a16_weight *header, int64_t j);
/* (q - z) * s of row n, packed column j, exactly. */
double w4a16_packed_weight(const w4a16_packed_host *p, int64_t n, int64_t j);

#endif
