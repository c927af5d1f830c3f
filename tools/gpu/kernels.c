/* Kernel names from the dispatch table, and one forced ctx per kernel. */
#include "kernels.h"

#include <stdio.h>
#include <string.h>

#ifdef W4A16_WITH_CUDA
#include "gpu/dispatch.h"

_Static_assert(W4A16_KERNEL_COUNT - 1 <= KERNELS_MAX, "KERNELS_MAX holds every kernel");

/* Entry 0 of the dispatch table is "auto": the kernels are 1.. */
int kernel_count(void) { return W4A16_KERNEL_COUNT - 1; }

const char *kernel_name(int index) { return w4a16_kernel_name((w4a16_kernel)(index + 1)); }

w4a16_status kernel_ctx_create(const char *kernel, w4a16_ctx **out) {
    w4a16_ctx *ctx = NULL;
    w4a16_status status = w4a16_ctx_create(0, 0, &ctx);
    if (status == W4A16_OK) status = w4a16_ctx_set_kernel(ctx, kernel);
    if (status != W4A16_OK) {
        w4a16_ctx_destroy(ctx);
        return status;
    }
    *out = ctx;
    return W4A16_OK;
}
#else
int kernel_count(void) { return 0; }

const char *kernel_name(int index) {
    (void)index;
    return "none";
}

w4a16_status kernel_ctx_create(const char *kernel, w4a16_ctx **out) {
    (void)kernel;
    return w4a16_ctx_create(0, 0, out); /* reports that the build has no CUDA */
}
#endif

int kernel_index(const char *name) {
    for (int i = 0; i < kernel_count(); i++)
        if (strcmp(name, kernel_name(i)) == 0) return i;
    return -1;
}

const char *kernel_names_joined(void) {
    static char joined[256];
    joined[0] = '\0';
    for (int i = 0; i < kernel_count(); i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", i ? "|" : "",
                 kernel_name(i));
    return kernel_count() ? joined : "NAME";
}
