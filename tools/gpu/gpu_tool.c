/* Error reporting, buffers and device facts for the GPU commands. */
#ifdef W4A16_WITH_CUDA
#include "gpu_tool.h"

#include <string.h>

#include "nvml_clocks.h"

static const char *command_name = "gpu";

void gpu_tool_set_command(const char *command) { command_name = command; }
const char *gpu_tool_command(void) { return command_name; }

int gpu_tool_cuda_ok(cudaError_t error, const char *expression) {
    if (error == cudaSuccess) return 1;
    fprintf(stderr, "w4a16 %s: %s failed: %s (%s)\n", command_name, expression,
            cudaGetErrorString(error), cudaGetErrorName(error));
    return 0;
}

int gpu_tool_cublas_ok(cublasStatus_t status, const char *expression) {
    if (status == CUBLAS_STATUS_SUCCESS) return 1;
    fprintf(stderr, "w4a16 %s: %s failed: %s\n", command_name, expression,
            cublasGetStatusString(status));
    return 0;
}

int gpu_tool_w4a16_ok(w4a16_status status, const char *expression) {
    if (status == W4A16_OK) return 1;
    fprintf(stderr, "w4a16 %s: %s failed: %s: %s\n", command_name, expression,
            w4a16_status_str(status), w4a16_last_error());
    return 0;
}

void *gpu_tool_alloc(size_t bytes, const char *what) {
    void *pointer = NULL;
    cudaError_t error = cudaMalloc(&pointer, bytes ? bytes : 1);
    if (error == cudaSuccess) return pointer;
    cudaGetLastError(); /* an allocation failure is not sticky: clear it */
    fprintf(stderr, "w4a16 %s: out of GPU memory: %.1f MiB for %s (%s)\n", command_name,
            (double)bytes / (1 << 20), what, cudaGetErrorString(error));
    return NULL;
}

int gpu_tool_upload(void *device_dst, const void *host_src, size_t bytes) {
    return CUDA_OK(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice));
}

void *gpu_tool_upload_new(const void *host_src, size_t bytes, const char *what) {
    void *device = gpu_tool_alloc(bytes, what);
    if (device && !gpu_tool_upload(device, host_src, bytes)) {
        cudaFree(device);
        return NULL;
    }
    return device;
}

int device_info_get(device_info *out) {
    memset(out, 0, sizeof *out);
    struct cudaDeviceProp prop;
    int clock_khz = 0, l2 = 0;
    if (!CUDA_OK(cudaGetDeviceProperties(&prop, 0)) ||
        !CUDA_OK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0)) ||
        !CUDA_OK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0)) ||
        !CUDA_OK(cudaDeviceGetPCIBusId(out->pci_bus_id, (int)sizeof out->pci_bus_id, 0)))
        return 0;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    out->sm_major = prop.major;
    out->sm_minor = prop.minor;
    out->sm_count = prop.multiProcessorCount;
    out->sm_clock_peak_mhz = clock_khz / 1000;
    out->l2_bytes = (size_t)l2;
    out->memory_bytes = prop.totalGlobalMem;
    nvml_clocks clocks;
    if (nvml_clocks_read(out->pci_bus_id, &clocks) == 0) {
        out->have_nvml = 1;
        out->sm_clock_now_mhz = clocks.sm_mhz;
        out->mem_clock_now_mhz = clocks.mem_mhz;
        out->sm_clock_max_mhz = clocks.sm_max_mhz;
        out->mem_clock_max_mhz = clocks.mem_max_mhz;
    }
    return 1;
}

void device_info_print(FILE *out, const device_info *info) {
    fprintf(out, "device: %s (sm_%d%d, %d SMs, %.0f MiB L2, %.1f GiB, bus %s)\n", info->name,
            info->sm_major, info->sm_minor, info->sm_count, (double)info->l2_bytes / (1 << 20),
            (double)info->memory_bytes / (1 << 30), info->pci_bus_id);
    if (info->have_nvml)
        fprintf(out, "clocks: SM %u MHz now (peak %d MHz, NVML max %u), memory %u MHz now (max %u)\n",
                info->sm_clock_now_mhz, info->sm_clock_peak_mhz, info->sm_clock_max_mhz,
                info->mem_clock_now_mhz, info->mem_clock_max_mhz);
    else
        fprintf(out, "clocks: SM peak %d MHz; current clocks unknown (no NVML)\n",
                info->sm_clock_peak_mhz);
}
#endif
