/* w4a16_weight as a view (include/w4a16.h): its initializer, and the checks
 * every entry point that takes one runs on the host before any CUDA call, so
 * that they hold, and can be tested, in every build (the host-only build's
 * GPU functions run them too). */
#ifndef W4A16_PACKED_WEIGHT_VIEW_H
#define W4A16_PACKED_WEIGHT_VIEW_H

#include "packed/pack_plan.h"
#include "w4a16.h"

/* Alignment of each buffer's base address. The kernels load qweight 16 bytes
 * per lane; the Hopper kernel copies rows of qweight, scales and zeros with
 * bulk async copies, which need 16-byte aligned addresses; perm is read as
 * int32. */
enum { W4A16_BUFFER_ALIGN = 16, W4A16_PERM_ALIGN = 4 };

/* struct_size and reserved of a weight the caller passed as `name` ("w", "out"). */
w4a16_status w4a16_weight_check_struct(const w4a16_weight *w, const char *name);

/* Everything a GEMM relies on: the struct, layout version, dtypes, shape,
 * groups, and each buffer (non-NULL where required, aligned, and large
 * enough). Named "w" in messages. A few comparisons: it runs on every call. */
w4a16_status w4a16_weight_check(const w4a16_weight *w);

/* w4a16_pack's checks that need no device: out, act_dtype, the sources and
 * slice (filling *plan), and with no owner the caller's buffers in out:
 * qweight, scales, and zeros when the result is asymmetric, are required;
 * perm is checked if given (whether it is required is known only once g_idx
 * has been read: w4a16_pack checks that). */
w4a16_status w4a16_pack_check_args(const w4a16_source *sources, int n_sources,
                                   const w4a16_slice *slice, w4a16_dtype act_dtype,
                                   const w4a16_weight *out, w4a16_buffers *const *owner,
                                   w4a16_pack_plan *plan);

#endif
