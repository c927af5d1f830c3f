/* Device output read-back for check and demo. */
#ifdef W4A16_WITH_CUDA
#include "verify_gpu.h"

#include <stdio.h>
#include <stdlib.h>

#include "check_compare.h"
#include "gpu_tool.h"

int verify_poison(void *C, int64_t m, int64_t n, cudaStream_t stream) {
    /* 0xFFFF is a NaN in both F16 and BF16. */
    return CUDA_OK(cudaMemsetAsync(C, 0xFF, (size_t)(m * n) * 2, stream));
}

static int fetch_rows(const void *C, int64_t n, const int64_t *rows, int n_rows, uint16_t *out) {
    size_t row_bytes = (size_t)n * 2;
    for (int r = 0; r < n_rows; r++)
        if (!CUDA_OK(cudaMemcpy(out + (size_t)r * (size_t)n,
                                (const char *)C + (size_t)rows[r] * row_bytes, row_bytes,
                                cudaMemcpyDeviceToHost)))
            return 0;
    return 1;
}

int verify_output(const void *C, int64_t m, int64_t n, w4a16_dtype dtype, const int64_t *rows,
                  int n_rows, const double *ref, int scan_all, verify_result *out) {
    size_t all_bytes = (size_t)(m * n) * 2;
    uint16_t *sampled = malloc((size_t)(n_rows * n) * 2);
    uint16_t *all = scan_all ? malloc(all_bytes) : NULL;
    int ok = sampled && (!scan_all || all);
    if (!ok) fprintf(stderr, "w4a16 %s: out of host memory reading C back\n", gpu_tool_command());
    ok = ok && fetch_rows(C, n, rows, n_rows, sampled) &&
         (!scan_all || CUDA_OK(cudaMemcpy(all, C, all_bytes, cudaMemcpyDeviceToHost)));
    if (ok) {
        out->error = check_relative_error(sampled, dtype, ref, n_rows, n);
        out->nonfinite = scan_all ? check_count_nonfinite(all, dtype, m * n) : 0;
    }
    free(sampled);
    free(all);
    return ok;
}
#endif
