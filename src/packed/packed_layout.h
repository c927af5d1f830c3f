/* The packed weight layout, version 1 (docs/packed-layout.md): the one place
 * that knows where element (n, k) of a packed weight lives. The pack kernel,
 * the fallback's dequantize kernel, the fast kernels and the host unpacker
 * used by the tests all go through these inlines, so the layout is written
 * down once.
 *
 * qweight is a sequence of tiles of 16 rows (n) x 64 columns (k), 512 bytes
 * each, ordered [k / 64][n / 16]: for one 64-wide k-block the tiles of all
 * rows are contiguous, so a CTA's stage of BN rows is one BN * 32-byte copy.
 * Inside a tile: lane 0..31, then 4 words (k16 step j = 0..3), so each lane
 * loads its whole share of a tile with one 16-byte load.
 *
 * Word (lane, j) holds the 8 elements a0..a7 of the mma.sync m16n8k16 A
 * fragment of that lane (also a warp's share of wgmma's register A operand):
 * with g = lane / 4, t = lane % 4, row0 = 16 * tile_n + g,
 * k0 = 64 * tile_k + 16 * j + 2 * t:
 *   a0 = (row0, k0)     a1 = (row0, k0 + 1)     a2 = (row0 + 8, k0)     a3 = (row0 + 8, k0 + 1)
 *   a4 = (row0, k0 + 8) a5 = (row0, k0 + 9)     a6 = (row0 + 8, k0 + 8) a7 = (row0 + 8, k0 + 9)
 * Element a lives in nibble (a >> 1) + 4 * (a & 1), i.e. nibbles 0..7 hold
 * a0 a2 a4 a6 a1 a3 a5 a7, so pair p = (a[2p], a[2p+1]) -- one row, two
 * neighbouring columns, one zero and one scale -- is (word >> 4p) & 0x000f000f:
 * OR 0x64006400 gives the fp16 pair 1024 + q, OR 0x43004300 bf16 128 + q.
 *
 * Rows are padded to n_padded = round_up(n, 64), columns to k_padded =
 * round_up(k, 64). scales and zeros are [groups_padded][n_padded] with
 * groups_padded = ceil(k_padded / G): every packed column j, padding
 * included, has a group j / G inside the arrays. Padding rows, padding
 * columns and padding groups hold q = 8, z = 8, scale 0, so they dequantize
 * to exactly 0. */
#ifndef W4A16_PACKED_LAYOUT_H
#define W4A16_PACKED_LAYOUT_H

#include <stdint.h>

#include "w4a16.h"

#ifdef __cplusplus
#define W4A16_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define W4A16_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

enum {
    W4A16_TILE_ROWS = 16,     /* n: the m16 side of mma.sync m16n8k16 */
    W4A16_TILE_COLS = 64,     /* k: four k16 steps; one 128-byte row of 64 fp16 A values */
    W4A16_TILE_LANES = 32,    /* one warp */
    W4A16_TILE_LANE_WORDS = 4, /* one 32-bit word per k16 step: a 16-byte load */
    W4A16_TILE_WORDS = W4A16_TILE_LANES * W4A16_TILE_LANE_WORDS,
    W4A16_TILE_BYTES = W4A16_TILE_WORDS * 4,
    W4A16_ROW_PAD = 64,       /* n_padded multiple: the prefill kernel's smallest N tile */
    W4A16_COL_PAD = 64,       /* k_padded multiple: one tile */
    W4A16_PAD_VALUE = 8,      /* q and z of padding: (8 - 8) * 0 = 0 */
};

W4A16_STATIC_ASSERT(W4A16_TILE_ROWS * W4A16_TILE_COLS / 2 == W4A16_TILE_BYTES,
                    "a tile is 16 x 64 four-bit values");
W4A16_STATIC_ASSERT(W4A16_TILE_BYTES == 512, "one 16-byte load per lane per tile");
W4A16_STATIC_ASSERT(W4A16_ROW_PAD % W4A16_TILE_ROWS == 0 && W4A16_COL_PAD % W4A16_TILE_COLS == 0,
                    "padding covers whole tiles");

static inline W4A16_HD int64_t w4a16_round_up(int64_t x, int64_t multiple) {
    return (x + multiple - 1) / multiple * multiple;
}

/* Columns per group: G, or k for per-channel weights (group_size -1). */
static inline W4A16_HD int64_t w4a16_group_cols(int64_t group_size, int64_t k) {
    return group_size < 0 ? k : group_size;
}

/* Rows of the scales and zeros arrays: enough groups for every padded column. */
static inline W4A16_HD int64_t w4a16_packed_groups(int64_t group_size, int64_t k) {
    int64_t cols = w4a16_group_cols(group_size, k);
    return (w4a16_round_up(k, W4A16_COL_PAD) + cols - 1) / cols;
}

/* Fragment element a (0..7) of a lane: its row within the tile (0..15), its
 * column within the k16 step (0..15), and the nibble of the word holding it. */
static inline W4A16_HD int w4a16_frag_row(int lane, int a) { return lane / 4 + 8 * ((a >> 1) & 1); }
static inline W4A16_HD int w4a16_frag_col(int lane, int a) {
    return 2 * (lane % 4) + (a & 1) + 8 * (a >> 2);
}
static inline W4A16_HD int w4a16_frag_nibble(int a) { return (a >> 1) + 4 * (a & 1); }

/* Where element (n, k) of a packed qweight lives: the 32-bit word (counted
 * from the start of qweight) and the bit shift of its nibble. */
typedef struct {
    int64_t word;
    int shift;
} w4a16_packed_pos;

static inline W4A16_HD w4a16_packed_pos w4a16_packed_locate(int64_t n, int64_t k,
                                                            int64_t n_padded) {
    int64_t tile = (k / W4A16_TILE_COLS) * (n_padded / W4A16_TILE_ROWS) + n / W4A16_TILE_ROWS;
    int row = (int)(n % W4A16_TILE_ROWS);
    int col = (int)(k % W4A16_TILE_COLS);
    int step = col / 16, step_col = col % 16;
    int lane = 4 * (row % 8) + (step_col % 8) / 2;
    int a = (step_col & 1) + 2 * (row / 8) + 4 * (step_col / 8);
    w4a16_packed_pos pos;
    pos.word = tile * W4A16_TILE_WORDS + lane * W4A16_TILE_LANE_WORDS + step;
    pos.shift = 4 * w4a16_frag_nibble(a);
    return pos;
}

/* Index into scales / zeros ([groups_padded][n_padded]) of (n, group). */
static inline W4A16_HD int64_t w4a16_packed_group_index(int64_t n, int64_t group,
                                                        int64_t n_padded) {
    return group * n_padded + n;
}

#endif
