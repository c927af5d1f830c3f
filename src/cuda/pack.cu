// The pack kernels: checkpoint sources (any format, through their layout
// descriptors) -> the packed layout, version 1 (src/packed/packed_layout.h).
//
// One thread writes one lane's 16 bytes of a tile (32 values, 4 words), so
// the stores are whole 512-byte tiles per warp. The reads are gathers
// through w4a16_qlayout_get: a tile's 512 source bytes are read by its 32
// threads, which the L1 serves. Napkin math for gate_up (19456 x 2560):
// 50M values, 25 MB read and written once; even at a tenth of copy speed
// that is ~0.1 ms, well under the 5 ms budget.
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda/kernels.h"
#include "packed/packed_layout.h"

namespace {

constexpr int kThreads = 256;

// The source holding packed row `row` (row < n). At most 8 sources: a scan.
__device__ const w4a16_pack_view &source_of(const w4a16_pack_args &a, int64_t row) {
    int i = 0;
    while (i + 1 < a.n_sources && row >= a.src[i].row_end) i++;
    return a.src[i];
}

__device__ int64_t source_group(const w4a16_pack_args &a, int64_t group) {
    return a.group_of != nullptr ? a.group_of[group] : a.group_base + group;
}

// One thread per lane of a tile: its 16 bytes.
__device__ void pack_qweight(const w4a16_pack_args &a, int64_t thread) {
    const int64_t tiles_n = a.n_padded / W4A16_TILE_ROWS;
    const int64_t tiles = tiles_n * (a.k_padded / W4A16_TILE_COLS);
    if (thread >= tiles * W4A16_TILE_LANES) return;
    const int64_t tile = thread / W4A16_TILE_LANES;
    const int lane = (int)(thread % W4A16_TILE_LANES);
    const int64_t tile_k = tile / tiles_n, tile_n = tile % tiles_n;

    // A lane's values come from two rows: row0 and row0 + 8.
    const w4a16_pack_view *src[2];
    int64_t src_row[2];
    bool row_real[2];
    for (int half = 0; half < 2; half++) {
        int64_t row = W4A16_TILE_ROWS * tile_n + w4a16_frag_row(lane, 2 * half);
        row_real[half] = row < a.n;
        src[half] = &source_of(a, row_real[half] ? row : 0);
        src_row[half] = row + src[half]->row_shift;
    }

    uint32_t words[W4A16_TILE_LANE_WORDS];
#pragma unroll
    for (int step = 0; step < W4A16_TILE_LANE_WORDS; step++) {
        uint32_t word = 0;
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const int half = (e >> 1) & 1;
            const int64_t col = W4A16_TILE_COLS * tile_k + 16 * step + w4a16_frag_col(lane, e);
            uint32_t q = W4A16_PAD_VALUE;
            if (row_real[half] && col < a.k) {
                const w4a16_pack_view &s = *src[half];
                int64_t src_col = a.k_begin + (a.perm != nullptr ? a.perm[col] : col);
                q = (uint32_t)w4a16_qlayout_get(&s.qweight_layout, s.qweight,
                                                src_row[half] - s.qweight_n0,
                                                src_col - s.qweight_k0);
            }
            word |= q << (4 * w4a16_frag_nibble(e));
        }
        words[step] = word;
    }
    uint4 *out = reinterpret_cast<uint4 *>(a.qweight) + tile * W4A16_TILE_LANES + lane;
    *out = make_uint4(words[0], words[1], words[2], words[3]);
}

// One thread per (group, row) of scales and zeros, rows fastest (coalesced stores).
__device__ void pack_scales(const w4a16_pack_args &a, int64_t index) {
    if (index >= a.groups_padded * a.n_padded) return;
    const int64_t group = index / a.n_padded, row = index % a.n_padded;
    uint32_t scale_bits = 0; // 0.0 in F16, BF16 and F32
    int zero = W4A16_PAD_VALUE;
    if (row < a.n && group < a.groups) {
        const w4a16_pack_view &s = source_of(a, row);
        const int64_t sr = row + s.row_shift, sg = source_group(a, group);
        const int64_t at = (sr - s.scales_n0) * s.scales_stride_n + (sg - s.scales_g0) * s.scales_stride_g;
        scale_bits = a.scale_bytes == 2 ? static_cast<const uint16_t *>(s.scales)[at]
                                        : static_cast<const uint32_t *>(s.scales)[at];
        if (s.qzeros != nullptr)
            zero = w4a16_qlayout_get(&s.qzeros_layout, s.qzeros, sr - s.qzeros_n0, sg - s.qzeros_g0);
    }
    if (a.scale_bytes == 2)
        static_cast<uint16_t *>(a.scales)[index] = (uint16_t)scale_bits;
    else
        static_cast<uint32_t *>(a.scales)[index] = scale_bits;
    if (a.zeros != nullptr) a.zeros[index] = (uint8_t)zero;
}

int64_t blocks_for(int64_t threads) { return (threads + kThreads - 1) / kThreads; }

// The blocks of one launch, in three runs: qweight tiles, then scales and
// zeros, then the act-order permutation. One launch is the only step that
// writes the output, so a failure leaves a caller's buffers untouched.
struct PackBlocks {
    int64_t qweight, scales, perm;
};

__global__ void __launch_bounds__(kThreads) pack_kernel(const __grid_constant__ w4a16_pack_args a,
                                                        const PackBlocks blocks) {
    int64_t block = blockIdx.x;
    if (block < blocks.qweight) {
        pack_qweight(a, block * kThreads + threadIdx.x);
        return;
    }
    block -= blocks.qweight;
    if (block < blocks.scales) {
        pack_scales(a, block * kThreads + threadIdx.x);
        return;
    }
    const int64_t j = (block - blocks.scales) * kThreads + threadIdx.x;
    if (j < a.k) a.perm_out[j] = a.perm[j];
}

} // namespace

extern "C" cudaError_t w4a16_launch_pack(const w4a16_pack_args *args, cudaStream_t stream) {
    const int64_t tiles = (args->n_padded / W4A16_TILE_ROWS) * (args->k_padded / W4A16_TILE_COLS);
    PackBlocks blocks;
    blocks.qweight = blocks_for(tiles * W4A16_TILE_LANES);
    blocks.scales = blocks_for(args->groups_padded * args->n_padded);
    blocks.perm = args->perm_out != nullptr ? blocks_for(args->k) : 0;
    const int64_t total = blocks.qweight + blocks.scales + blocks.perm;
    if (total > INT32_MAX) return cudaErrorInvalidConfiguration; // 2^31 blocks: past any packable shape
    pack_kernel<<<(unsigned)total, kThreads, 0, stream>>>(*args, blocks);
    return cudaGetLastError();
}
