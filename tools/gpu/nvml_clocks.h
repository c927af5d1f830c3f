/* Current GPU clocks through NVML, opened with dlopen when the driver has it:
 * never linked, so the program still loads on machines without a driver. */
#ifndef W4A16_TOOLS_NVML_CLOCKS_H
#define W4A16_TOOLS_NVML_CLOCKS_H

typedef struct {
    unsigned sm_mhz, sm_max_mhz;   /* current and maximum SM clock */
    unsigned mem_mhz, mem_max_mhz; /* current and maximum memory clock */
} nvml_clocks;

/* The clocks of the GPU at this PCI bus id ("0000:18:00.0", as
 * cudaDeviceGetPCIBusId writes it). 0 on success; -1 when NVML is absent or
 * does not answer (the caller prints "unknown"). */
int nvml_clocks_read(const char *pci_bus_id, nvml_clocks *out);

#endif
