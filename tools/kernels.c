/* Kernel names and one forced ctx per kernel. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

const char *const KERNEL_NAMES[] = {"fallback", "decode", "sm90_prefill"};
const int KERNEL_COUNT = (int)(sizeof KERNEL_NAMES / sizeof KERNEL_NAMES[0]);

int kernel_known(const char *name) {
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (strcmp(name, KERNEL_NAMES[i]) == 0) return 1;
    return 0;
}

const char *kernel_names_joined(void) { return "fallback|decode|sm90_prefill"; }

w4a16_status kernel_ctx_create(const char *kernel, w4a16_ctx **out) {
    const char *previous = getenv("W4A16_KERNEL");
    char *saved = previous ? strdup(previous) : NULL;
    setenv("W4A16_KERNEL", kernel, 1);
    w4a16_status status = w4a16_ctx_create(0, 0, out);
    if (saved) {
        setenv("W4A16_KERNEL", saved, 1);
        free(saved);
    } else {
        unsetenv("W4A16_KERNEL");
    }
    return status;
}
