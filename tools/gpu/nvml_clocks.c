/* The four NVML calls we need, looked up by name in libnvidia-ml.so.1. */
#include "nvml_clocks.h"

#include <dlfcn.h>
#include <string.h>

/* NVML's own values (nvml.h): success is 0; clock types SM = 1, MEM = 2. */
enum { NVML_SUCCESS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2 };
typedef struct nvml_device_st *nvml_device;
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_shutdown_fn)(void);
typedef int (*nvml_by_bus_fn)(const char *bus_id, nvml_device *device);
typedef int (*nvml_clock_fn)(nvml_device device, int type, unsigned *mhz);

int nvml_clocks_read(const char *pci_bus_id, nvml_clocks *out) {
    memset(out, 0, sizeof *out);
    void *library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return -1;
    nvml_init_fn init = (nvml_init_fn)dlsym(library, "nvmlInit_v2");
    nvml_shutdown_fn shutdown = (nvml_shutdown_fn)dlsym(library, "nvmlShutdown");
    nvml_by_bus_fn by_bus = (nvml_by_bus_fn)dlsym(library, "nvmlDeviceGetHandleByPciBusId_v2");
    nvml_clock_fn clock_now = (nvml_clock_fn)dlsym(library, "nvmlDeviceGetClockInfo");
    nvml_clock_fn clock_max = (nvml_clock_fn)dlsym(library, "nvmlDeviceGetMaxClockInfo");
    int result = -1;
    if (init && shutdown && by_bus && clock_now && clock_max && init() == NVML_SUCCESS) {
        nvml_device device;
        if (by_bus(pci_bus_id, &device) == NVML_SUCCESS &&
            clock_now(device, NVML_CLOCK_SM, &out->sm_mhz) == NVML_SUCCESS &&
            clock_now(device, NVML_CLOCK_MEM, &out->mem_mhz) == NVML_SUCCESS &&
            clock_max(device, NVML_CLOCK_SM, &out->sm_max_mhz) == NVML_SUCCESS &&
            clock_max(device, NVML_CLOCK_MEM, &out->mem_max_mhz) == NVML_SUCCESS)
            result = 0;
        shutdown();
    }
    dlclose(library);
    return result;
}
