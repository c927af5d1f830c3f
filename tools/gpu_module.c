/* Loading the GPU commands' module (see gpu_module.h). */
#include "gpu_module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

#ifndef W4A16_GPU_MODULE_INSTALLED
#define W4A16_GPU_MODULE_INSTALLED "../lib/w4a16/" W4A16_GPU_MODULE_FILE
#endif

/* The program's own folder: /proc/self/exe, unless the program was started
 * through the dynamic loader (ld.so PROGRAM, as the test that hides the CUDA
 * libraries does), where the path it was given names it. 0 on failure. */
static int program_folder(char *folder, size_t size) {
    ssize_t length = readlink("/proc/self/exe", folder, size - 1);
    if (length <= 0) return 0;
    folder[length] = '\0';
    const char *name = strrchr(folder, '/') ? strrchr(folder, '/') + 1 : folder;
    Dl_info self;
    if (strncmp(name, "ld-", 3) == 0 || strncmp(name, "ld.so", 5) == 0) {
        if (dladdr((void *)program_folder, &self) == 0 || self.dli_fname == NULL ||
            realpath(self.dli_fname, folder) == NULL)
            return 0;
    }
    char *slash = strrchr(folder, '/');
    if (slash == NULL) return 0;
    *slash = '\0';
    return 1;
}

/* Where the module is: W4A16_GPU_MODULE, or the first that exists of the
 * build tree's and the install tree's places. */
static int find_module(char *path, size_t size, char *why, size_t why_size) {
    const char *chosen = getenv("W4A16_GPU_MODULE");
    if (chosen != NULL && chosen[0] != '\0') {
        snprintf(path, size, "%s", chosen);
        return 1;
    }
    char folder[PATH_MAX];
    if (!program_folder(folder, sizeof folder)) {
        snprintf(why, why_size, "cannot find the program's folder to look for %s",
                 W4A16_GPU_MODULE_FILE);
        return 0;
    }
    const char *places[] = {W4A16_GPU_MODULE_FILE, W4A16_GPU_MODULE_INSTALLED};
    for (size_t i = 0; i < sizeof places / sizeof *places; i++) {
        snprintf(path, size, "%s/%s", folder, places[i]);
        if (access(path, F_OK) == 0) return 1;
    }
    snprintf(why, why_size, "no %s beside %s or in %s/%s", W4A16_GPU_MODULE_FILE, folder, folder,
             W4A16_GPU_MODULE_INSTALLED);
    return 0;
}

const w4a16_gpu_module *gpu_module_load(char *why, size_t why_size) {
    static const w4a16_gpu_module *loaded = NULL;
    if (loaded != NULL) return loaded;
    char path[PATH_MAX + 64];
    if (!find_module(path, sizeof path, why, why_size)) return NULL;
    /* RTLD_LOCAL: the module's copy of the library stays its own. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(why, why_size, "%s", dlerror());
        return NULL;
    }
    w4a16_gpu_module_entry_fn entry;
    *(void **)&entry = dlsym(handle, W4A16_GPU_MODULE_ENTRY);
    const w4a16_gpu_module *module = entry ? entry() : NULL;
    if (module == NULL || module->version != W4A16_GPU_MODULE_VERSION) {
        snprintf(why, why_size, "%s is not a w4a16 GPU module of version %d (built apart from "
                 "this program?)", path, W4A16_GPU_MODULE_VERSION);
        dlclose(handle);
        return NULL;
    }
    loaded = module;
    return loaded;
}

int gpu_module_command(int argc, char **argv) {
    char why[1024] = "";
    const w4a16_gpu_module *module = gpu_module_load(why, sizeof why);
    if (module != NULL) return module->run_command(argc, argv);
    fprintf(stderr,
            "w4a16 %s: the GPU commands cannot be loaded: %s (they need the CUDA runtime and "
            "cuBLAS libraries; inspect, convert and quantize do not)\n",
            argv[0], why);
    return EXIT_FAILURE_INPUT;
}

int gpu_module_demo(const demo_layer *layer) {
    char why[1024] = "";
    const w4a16_gpu_module *module = gpu_module_load(why, sizeof why);
    if (module != NULL) return module->demo(layer);
    printf("GPU part skipped: the GPU commands cannot be loaded: %s\n", why);
    return EXIT_OK;
}
