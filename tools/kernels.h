/* The GPU kernels a caller can force with W4A16_KERNEL (docs/DESIGN.md §5),
 * and a context that runs one of them, for A/B rows in bench and check. */
#ifndef W4A16_TOOLS_KERNELS_H
#define W4A16_TOOLS_KERNELS_H

#include "w4a16.h"

/* "fallback", "decode", "sm90_prefill" — the names W4A16_KERNEL takes. */
extern const char *const KERNEL_NAMES[];
extern const int KERNEL_COUNT;

int kernel_known(const char *name);
/* "fallback|decode|sm90_prefill", for help texts. */
const char *kernel_names_joined(void);

/* A ctx on device 0 that runs `kernel` ("auto" for the dispatched choice):
 * W4A16_KERNEL is read when a ctx is created, so it is set around the call
 * and then restored to what the caller's environment had. */
w4a16_status kernel_ctx_create(const char *kernel, w4a16_ctx **out);

#endif
