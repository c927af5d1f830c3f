/* Host reader of the packed layout (tests and diagnostics). */
#include "packed_unpack.h"

#include "common/dtype.h"
#include "packed_layout.h"

int32_t w4a16_packed_q(const w4a16_packed_host *p, int64_t n, int64_t j) {
    w4a16_packed_pos pos = w4a16_packed_locate(n, j, p->header->n_padded);
    return (int32_t)((p->qweight[pos.word] >> pos.shift) & 15u);
}

int32_t w4a16_packed_zero(const w4a16_packed_host *p, int64_t n, int64_t g) {
    if (p->zeros == NULL) return W4A16_PAD_VALUE;
    return p->zeros[w4a16_packed_group_index(n, g, p->header->n_padded)];
}

double w4a16_packed_scale(const w4a16_packed_host *p, int64_t n, int64_t g) {
    return w4a16_load_as_double(p->scales, p->header->scales_dtype,
                                w4a16_packed_group_index(n, g, p->header->n_padded));
}

int64_t w4a16_packed_group_of(const w4a16_weight *header, int64_t j) {
    return j / w4a16_group_cols(header->group_size, header->k);
}

double w4a16_packed_weight(const w4a16_packed_host *p, int64_t n, int64_t j) {
    int64_t g = w4a16_packed_group_of(p->header, j);
    return (double)(w4a16_packed_q(p, n, j) - w4a16_packed_zero(p, n, g)) *
           w4a16_packed_scale(p, n, g);
}
