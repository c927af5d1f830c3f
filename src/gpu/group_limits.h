/* What the tensor-core kernels (decode, sm90_prefill) need of a weight's
 * groups: the scale is applied per k16 step, so a group holds whole steps and
 * a 64-wide k-block at most two groups (G a multiple of 16, at least 32, or
 * per-channel); and column / G is a multiply-high, exact for columns below
 * 2^32 / G. */
#ifndef W4A16_GPU_GROUP_LIMITS_H
#define W4A16_GPU_GROUP_LIMITS_H

#include <stdint.h>
#include <stdio.h>

#include "w4a16.h"

/* NULL when the groups suit the kernels; otherwise why not, written to why. */
static inline const char *w4a16_group_limits_refusal(const w4a16_weight *w, char *why,
                                                     size_t size) {
    if (w->group_size > 0 && (w->group_size % 16 != 0 || w->group_size < 32)) {
        snprintf(why, size, "group_size=%lld is not a multiple of 16 of at least 32",
                 (long long)w->group_size);
        return why;
    }
    if (w->group_size > 0 && w->k_padded * w->group_size >= ((int64_t)1 << 32)) {
        snprintf(why, size, "k_padded=%lld times group_size=%lld reaches 2^32",
                 (long long)w->k_padded, (long long)w->group_size);
        return why;
    }
    return NULL;
}

#endif
