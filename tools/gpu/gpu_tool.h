/* CUDA helpers for the GPU commands (bench, check, demo): errors reported as
 * one line "w4a16 COMMAND: ..." on stderr, device buffers, device facts.
 * Only in builds with CUDA (W4A16_WITH_CUDA). */
#ifndef W4A16_TOOLS_GPU_TOOL_H
#define W4A16_TOOLS_GPU_TOOL_H

#include <stddef.h>
#include <stdio.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "w4a16.h"

/* The command named in error messages ("bench"). */
void gpu_tool_set_command(const char *command);
const char *gpu_tool_command(void);

/* Each returns 1 when the call succeeded; otherwise prints the failing
 * expression and the error, and returns 0. */
int gpu_tool_cuda_ok(cudaError_t error, const char *expression);
int gpu_tool_cublas_ok(cublasStatus_t status, const char *expression);
int gpu_tool_w4a16_ok(w4a16_status status, const char *expression);
#define CUDA_OK(call) gpu_tool_cuda_ok((call), #call)
#define CUBLAS_OK(call) gpu_tool_cublas_ok((call), #call)
#define W4A16_OK_CALL(call) gpu_tool_w4a16_ok((call), #call)

/* cudaMalloc that names what the memory was for when it fails ("out of GPU
 * memory: 470.0 MiB for dense weight copies"). NULL on failure. */
void *gpu_tool_alloc(size_t bytes, const char *what);
/* Host to device copy of bytes; 1 on success. */
int gpu_tool_upload(void *device_dst, const void *host_src, size_t bytes);
/* A device copy of a host array (freed with cudaFree); NULL on failure. */
void *gpu_tool_upload_new(const void *host_src, size_t bytes, const char *what);

typedef struct {
    char name[256];
    char pci_bus_id[32];
    int sm_major, sm_minor;
    int sm_count;
    int sm_clock_peak_mhz;    /* cudaDevAttrClockRate */
    size_t l2_bytes;
    size_t memory_bytes;
    int have_nvml;            /* 1: the current clocks below are known */
    unsigned sm_clock_now_mhz, mem_clock_now_mhz, sm_clock_max_mhz, mem_clock_max_mhz;
} device_info;

/* Facts about CUDA device 0; 1 on success. */
int device_info_get(device_info *out);
/* Lines "device: ...", "clocks: ..." for the head of a report. */
void device_info_print(FILE *out, const device_info *info);

#endif
