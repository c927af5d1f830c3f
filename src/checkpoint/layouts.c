/* The formats' layouts, one table row each (docs/DESIGN.md §2). */
#include "layouts.h"

#include <string.h>

#include "common/error.h"

/* AWQ interleaves so that a word's nibbles hold columns [0,2,4,6,1,3,5,7]:
 * nibble i holds column AWQ_ORDER[i], so column j lives in nibble
 * AWQ_NIBBLE_OF[j]. */
static const uint8_t AWQ_NIBBLE_OF[8] = {0, 4, 1, 5, 2, 6, 3, 7};
static const uint8_t SEQUENTIAL_NIBBLE_OF[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static w4a16_qlayout make_layout(w4a16_packed_axis axis, int64_t stride_n, int64_t stride_k,
                                 const uint8_t nibble_of[8], int32_t offset) {
    w4a16_qlayout layout;
    memset(&layout, 0, sizeof layout);
    layout.packed_axis = axis;
    layout.stride_n = stride_n;
    layout.stride_k = stride_k;
    memcpy(layout.nibble_of, nibble_of, 8);
    layout.offset = offset;
    return layout;
}

static void set_shape(int64_t shape[2], int64_t rows, int64_t cols) {
    shape[0] = rows;
    shape[1] = cols;
}

w4a16_status w4a16_format_layout_get(w4a16_format format, int64_t n, int64_t k, int64_t groups,
                                     w4a16_format_layout *out) {
    W4A16_FAIL_IF(n <= 0 || k <= 0 || groups <= 0, W4A16_ERR_SHAPE,
                  "n=%lld, k=%lld, groups=%lld must be positive", (long long)n, (long long)k,
                  (long long)groups);
    memset(out, 0, sizeof *out);
    switch (format) {
    case W4A16_FORMAT_AWQ:
        /* qweight [K, N/8] and qzeros [G', N/8], packed along N, interleaved; scales [G', N]. */
        W4A16_FAIL_IF(n % 8 != 0, W4A16_ERR_SHAPE, "awq needs N a multiple of 8, got N=%lld",
                      (long long)n);
        out->qweight = make_layout(W4A16_PACKED_ALONG_N, 1, n / 8, AWQ_NIBBLE_OF, 0);
        out->qzeros = make_layout(W4A16_PACKED_ALONG_N, 1, n / 8, AWQ_NIBBLE_OF, 0);
        set_shape(out->qweight_shape, k, n / 8);
        set_shape(out->qzeros_shape, groups, n / 8);
        set_shape(out->scales_shape, groups, n);
        out->scales_stride_n = 1;
        out->scales_stride_g = n;
        return W4A16_OK;
    case W4A16_FORMAT_GPTQ:
    case W4A16_FORMAT_GPTQ_V2:
        /* qweight [K/8, N] packed along K; qzeros [G', N/8] packed along N, sequential;
         * v1 stores z - 1 and readers add 1 back without masking. */
        W4A16_FAIL_IF(k % 8 != 0, W4A16_ERR_SHAPE, "gptq needs K a multiple of 8, got K=%lld",
                      (long long)k);
        W4A16_FAIL_IF(n % 8 != 0, W4A16_ERR_SHAPE,
                      "gptq needs N a multiple of 8 (qzeros pack 8 columns), got N=%lld",
                      (long long)n);
        out->qweight = make_layout(W4A16_PACKED_ALONG_K, 1, n, SEQUENTIAL_NIBBLE_OF, 0);
        out->qzeros = make_layout(W4A16_PACKED_ALONG_N, 1, n / 8, SEQUENTIAL_NIBBLE_OF,
                                  format == W4A16_FORMAT_GPTQ ? 1 : 0);
        set_shape(out->qweight_shape, k / 8, n);
        set_shape(out->qzeros_shape, groups, n / 8);
        set_shape(out->scales_shape, groups, n);
        out->scales_stride_n = 1;
        out->scales_stride_g = n;
        return W4A16_OK;
    case W4A16_FORMAT_CT:
        /* weight_packed [N, K/8] packed along K; weight_zero_point [ceil(N/8), G'] packed
         * along N (rows padded to 8); weight_scale [N, G']. */
        W4A16_FAIL_IF(k % 8 != 0, W4A16_ERR_SHAPE,
                      "compressed-tensors needs K a multiple of 8, got K=%lld", (long long)k);
        out->qweight = make_layout(W4A16_PACKED_ALONG_K, k / 8, 1, SEQUENTIAL_NIBBLE_OF, 0);
        out->qzeros = make_layout(W4A16_PACKED_ALONG_N, groups, 1, SEQUENTIAL_NIBBLE_OF, 0);
        set_shape(out->qweight_shape, n, k / 8);
        set_shape(out->qzeros_shape, (n + 7) / 8, groups);
        set_shape(out->scales_shape, n, groups);
        out->scales_stride_n = groups;
        out->scales_stride_g = 1;
        return W4A16_OK;
    default:
        return w4a16_fail(W4A16_ERR_ARG, "format %s has no 4-bit layout",
                          w4a16_format_name(format));
    }
}

void w4a16_qlayout_put(const w4a16_qlayout *layout, int32_t *words, int64_t n, int64_t k,
                       int32_t value) {
    int64_t word_n = layout->packed_axis == W4A16_PACKED_ALONG_N ? n >> 3 : n;
    int64_t word_k = layout->packed_axis == W4A16_PACKED_ALONG_K ? k >> 3 : k;
    int lane = (int)((layout->packed_axis == W4A16_PACKED_ALONG_N ? n : k) & 7);
    int shift = 4 * layout->nibble_of[lane];
    uint32_t *word = (uint32_t *)&words[word_n * layout->stride_n + word_k * layout->stride_k];
    uint32_t nibble = (uint32_t)(value - layout->offset) & 15u;
    *word = (*word & ~(15u << shift)) | (nibble << shift);
}

/* 1 when element j of a word lives in nibble j (GPTQ's qweight, compressed-tensors). */
static int is_sequential(const w4a16_qlayout *layout) {
    for (int j = 0; j < 8; j++)
        if (layout->nibble_of[j] != j) return 0;
    return 1;
}

#define EVERY_BYTE(b) ((uint64_t)(b) * UINT64_C(0x0101010101010101))

/* Eight bytes (loaded little-endian into v, as on every host we build for;
 * each 0..15) into a word, byte j in nibble j. */
static uint32_t gather_nibbles(uint64_t v) {
    v = (v | (v >> 4)) & UINT64_C(0x00ff00ff00ff00ff);
    v = (v | (v >> 8)) & UINT64_C(0x0000ffff0000ffff);
    return (uint32_t)(v | (v >> 16));
}

/* The inverse: nibble j of word into byte j. */
static uint64_t spread_nibbles(uint32_t word) {
    uint64_t v = word;
    v = (v | (v << 16)) & UINT64_C(0x0000ffff0000ffff);
    v = (v | (v << 8)) & UINT64_C(0x00ff00ff00ff00ff);
    return (v | (v << 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
}

/* The shift of each of a word's eight values: element j lives in nibble nibble_of[j]. */
static void shifts_of(const w4a16_qlayout *layout, int shifts[8]) {
    for (int j = 0; j < 8; j++) shifts[j] = 4 * layout->nibble_of[j];
}

/* Along K, the words of 16 rows are taken together, so that words next to
 * each other in memory are written one after the other: GPTQ's [K/8, N]
 * puts a row's words N apart, and a row at a time would touch a new cache
 * line for each. */
#define ROWS_TOGETHER 16

/* x[r] byte c becomes x[c] byte r: an 8 x 8 transpose of bytes, swapping
 * ever larger blocks across the diagonal. */
static inline void transpose_bytes(uint64_t x[8]) {
    for (int i = 0; i < 8; i += 2) {
        uint64_t t = ((x[i] >> 8) ^ x[i + 1]) & UINT64_C(0x00ff00ff00ff00ff);
        x[i + 1] ^= t;
        x[i] ^= t << 8;
    }
    static const int pairs_apart_2[4] = {0, 1, 4, 5};
    for (int p = 0; p < 4; p++) {
        int i = pairs_apart_2[p];
        uint64_t t = ((x[i] >> 16) ^ x[i + 2]) & UINT64_C(0x0000ffff0000ffff);
        x[i + 2] ^= t;
        x[i] ^= t << 16;
    }
    for (int i = 0; i < 4; i++) {
        uint64_t t = ((x[i] >> 32) ^ x[i + 4]) & UINT64_C(0x00000000ffffffff);
        x[i + 4] ^= t;
        x[i] ^= t << 32;
    }
}

/* Row n's value at c: values[n * stride + c], or the constant. */
static inline uint32_t value_at(const uint8_t *values, int64_t stride, uint8_t constant, int64_t n,
                                int64_t c) {
    return values ? values[n * stride + c] : constant;
}

void w4a16_qlayout_pack_rows(const w4a16_qlayout *layout, int32_t *words, const uint8_t *values,
                             int64_t values_stride, uint8_t constant, int64_t rows, int64_t cols,
                             int64_t row_begin, int64_t row_end) {
    int shifts[8];
    shifts_of(layout, shifts);
    uint32_t offset = (uint32_t)layout->offset;
    if (layout->packed_axis == W4A16_PACKED_ALONG_K) {
        /* Whole words of sequential nibbles: eight values at once. Adding
         * 16 - offset to each byte then masking is (value - offset) & 15
         * with no borrow between bytes. */
        int fast = values != NULL && is_sequential(layout);
        for (int64_t first = row_begin; first < row_end; first += ROWS_TOGETHER) {
            int64_t last = first + ROWS_TOGETHER < row_end ? first + ROWS_TOGETHER : row_end;
            for (int64_t c0 = 0; c0 < cols; c0 += 8)
                for (int64_t n = first; n < last; n++) {
                    uint32_t word = 0;
                    if (fast && c0 + 8 <= cols) {
                        uint64_t eight;
                        memcpy(&eight, values + n * values_stride + c0, 8);
                        word = gather_nibbles((eight + EVERY_BYTE(16 - offset)) & EVERY_BYTE(15));
                    } else {
                        for (int j = 0; j < 8 && c0 + j < cols; j++)
                            word |= ((value_at(values, values_stride, constant, n, c0 + j) - offset) & 15u)
                                    << shifts[j];
                    }
                    words[n * layout->stride_n + (c0 >> 3) * layout->stride_k] = (int32_t)word;
                }
        }
        return;
    }
    int fast = values != NULL;
    for (int64_t n0 = row_begin; n0 < row_end; n0 += 8) {
        int lanes = rows - n0 < 8 ? (int)(rows - n0) : 8;
        int32_t *out = words + (n0 >> 3) * layout->stride_n;
        int64_t c = 0;
        /* Eight columns at once: the 8 x 8 values transposed so that each
         * column's lie in the order of its word's nibbles. */
        for (; fast && c + 8 <= cols; c += 8) {
            uint64_t x[8] = {0};
            for (int j = 0; j < lanes; j++) {
                uint64_t eight;
                memcpy(&eight, values + (n0 + j) * values_stride + c, 8);
                x[layout->nibble_of[j]] = (eight + EVERY_BYTE(16 - offset)) & EVERY_BYTE(15);
            }
            transpose_bytes(x);
            for (int i = 0; i < 8; i++) out[(c + i) * layout->stride_k] = (int32_t)gather_nibbles(x[i]);
        }
        for (; c < cols; c++) {
            uint32_t word = 0;
            for (int j = 0; j < lanes; j++)
                word |= ((value_at(values, values_stride, constant, n0 + j, c) - offset) & 15u) << shifts[j];
            out[c * layout->stride_k] = (int32_t)word;
        }
    }
}

void w4a16_qlayout_unpack_rows(const w4a16_qlayout *layout, const int32_t *words, int64_t cols,
                               int64_t row_begin, int64_t row_end, uint8_t *out, int64_t out_stride) {
    int shifts[8];
    shifts_of(layout, shifts);
    int32_t offset = layout->offset;
    if (layout->packed_axis == W4A16_PACKED_ALONG_K) {
        int fast = is_sequential(layout);
        for (int64_t first = row_begin; first < row_end; first += ROWS_TOGETHER) {
            int64_t last = first + ROWS_TOGETHER < row_end ? first + ROWS_TOGETHER : row_end;
            for (int64_t c0 = 0; c0 < cols; c0 += 8)
                for (int64_t n = first; n < last; n++) {
                    uint32_t word = (uint32_t)words[n * layout->stride_n + (c0 >> 3) * layout->stride_k];
                    if (fast && c0 + 8 <= cols) {
                        uint64_t eight = spread_nibbles(word) + EVERY_BYTE(offset);
                        memcpy(out + n * out_stride + c0, &eight, 8);
                        continue;
                    }
                    for (int j = 0; j < 8 && c0 + j < cols; j++)
                        out[n * out_stride + c0 + j] = (uint8_t)(((word >> shifts[j]) & 15u) + offset);
                }
        }
        return;
    }
    /* Each word once for the rows of it in range: words hold 8 rows. */
    for (int64_t n0 = row_begin & ~(int64_t)7; n0 < row_end; n0 += 8) {
        const int32_t *in = words + (n0 >> 3) * layout->stride_n;
        int first = n0 < row_begin ? (int)(row_begin - n0) : 0;
        int last = row_end - n0 < 8 ? (int)(row_end - n0) : 8;
        int64_t c = 0;
        for (; c + 8 <= cols; c += 8) {
            uint64_t x[8];
            for (int i = 0; i < 8; i++) x[i] = spread_nibbles((uint32_t)in[(c + i) * layout->stride_k]);
            transpose_bytes(x); /* x[t]: nibble t of the eight columns */
            for (int j = first; j < last; j++) {
                uint64_t eight = x[layout->nibble_of[j]] + EVERY_BYTE(offset);
                memcpy(out + (n0 + j) * out_stride + c, &eight, 8);
            }
        }
        for (; c < cols; c++) {
            uint32_t word = (uint32_t)in[c * layout->stride_k];
            for (int j = first; j < last; j++)
                out[(n0 + j) * out_stride + c] = (uint8_t)(((word >> shifts[j]) & 15u) + offset);
        }
    }
}
