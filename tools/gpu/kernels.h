/* The GPU kernels a call can be forced onto (the dispatch table of
 * src/gpu/dispatch.h, docs/DESIGN.md §5), and a context that runs one of
 * them, for the per-kernel rows of bench and check. */
#ifndef W4A16_TOOLS_KERNELS_H
#define W4A16_TOOLS_KERNELS_H

#include "w4a16.h"

#define KERNELS_MAX 16

/* The kernels, "auto" excluded: "fallback", "sm90_prefill", "decode", "decode_v2". A
 * build without CUDA has none. */
int kernel_count(void);
const char *kernel_name(int index);
/* Index of a kernel name; -1 when unknown. */
int kernel_index(const char *name);
/* "fallback|sm90_prefill|decode|decode_v2", for help texts. */
const char *kernel_names_joined(void);

/* A ctx on device 0 that runs `kernel` ("auto": the dispatched choice,
 * whatever W4A16_KERNEL says). */
w4a16_status kernel_ctx_create(const char *kernel, w4a16_ctx **out);

#endif
