/* Where a packed weight's buffers come from: the caller's (checked on the
 * host before, see packed/weight_view.h), or new ones owned by a
 * w4a16_buffers handle. */
#ifndef W4A16_GPU_PACK_OUTPUT_H
#define W4A16_GPU_PACK_OUTPUT_H

#include "packed/pack_plan.h"

/* Fills w's buffer pointers and byte sizes for `plan` (permuted: act-order
 * needs perm). allocate: new device buffers, whose owner goes to *made;
 * otherwise the caller's from `given`, and a buffer the result does not need
 * comes back NULL with 0 bytes. Allocates nothing the caller would have to
 * free on failure. */
w4a16_status w4a16_pack_output(const w4a16_pack_plan *plan, int permuted, const w4a16_weight *given,
                               int allocate, w4a16_weight *w, w4a16_buffers **made);

#endif
