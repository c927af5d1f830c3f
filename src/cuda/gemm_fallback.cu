// The fallback's kernels: dequantize packed tiles into a row-major 16-bit W
// chunk for cuBLAS, and permute A's columns (act-order).
//
// Dequantize napkin math: per value it reads 0.5 byte of qweight and writes 2
// bytes of W (scales and zeros add 1/G of that), so it is bound by memory:
// gate_up (19456 x 2560) moves 125 MB, ~50 us at 2.5 TB/s. A warp takes up to
// four 16 x 64 tiles: one 16-byte load per lane per tile, 32 values converted
// in fp32 ((q - z) exact, one multiply by the scale, one rounding to 16 bits),
// then through shared memory so that the stores are whole row segments.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/kernels.h"
#include "cuda/packed_scales.cuh"
#include "packed/packed_layout.h"

namespace {

constexpr int kWarps = 4;                  // warps per block
constexpr int kTilesPerWarp = 4;           // consecutive k-tiles per warp
constexpr int kSmemRowPad = 8;             // 16 bytes: lanes g = 0..7 of a column land in distinct banks
constexpr int kSmemRow = W4A16_TILE_COLS + kSmemRowPad;

template <typename T> struct pair_of;
template <> struct pair_of<__half> {
    static __device__ __half2 make(float lo, float hi) { return __floats2half2_rn(lo, hi); }
    using type = __half2;
};
template <> struct pair_of<__nv_bfloat16> {
    static __device__ __nv_bfloat162 make(float lo, float hi) { return __floats2bfloat162_rn(lo, hi); }
    using type = __nv_bfloat162;
};

struct DequantParams {
    const uint4 *qweight;   // tiles of 32 lanes x 16 bytes
    const void *scales;     // [groups_padded][n_padded]
    const uint8_t *zeros;   // same, or nullptr: z = 8
    int scale_kind;
    int n_padded;
    int group_cols;
    int tile_n_begin, tiles_n, tiles_k;
    void *out;              // [tiles_n * 16][ldo]
    int64_t ldo;
};

__device__ __forceinline__ float load_scale(const DequantParams &p, int64_t i) {
    return load_packed_scale(p.scales, p.scale_kind, i);
}

// Scale and biased zero of two rows (row0, row0 + 8) in one group. The zero is
// kept as 2^23 + z so that (q - z) is one OR and one subtraction, both exact.
struct GroupPair {
    float scale[2], zero_biased[2];
};

__device__ __forceinline__ GroupPair load_group(const DequantParams &p, int row0, int group) {
    GroupPair g;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t i = w4a16_packed_group_index(row0 + 8 * h, group, p.n_padded);
        g.scale[h] = load_scale(p, i);
        const int z = p.zeros != nullptr ? p.zeros[i] : W4A16_PAD_VALUE;
        g.zero_biased[h] = 8388608.0f + (float)z;
    }
    return g;
}

__device__ __forceinline__ float q_minus_z(uint32_t q, float zero_biased) {
    return __uint_as_float(0x4B000000u | q) - zero_biased;
}

// One 16 x 64 tile: a lane's 32 values into shared memory, then out as
// 16 rows of 128 bytes. kSpan: columns sharing a group come in aligned runs
// of kSpan (64: one group per tile, G = 64, 128, ...; 16: one per k16 step,
// G = 32, 48, ...; 2: per column pair, any even G -- the layout keeps a pair
// in one group).
template <typename T, int kSpan>
__device__ __forceinline__ void dequantize_tile(const DequantParams &p, uint4 packed, int tile_n,
                                                int tile_n_local, int tile_k,
                                                T (*smem)[kSmemRow], int lane) {
    typedef typename pair_of<T>::type Pair;
    const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
    const int g = lane / 4, t = lane % 4;
    const int row0 = W4A16_TILE_ROWS * tile_n + g;
    const int col_base = W4A16_TILE_COLS * tile_k + 2 * t;
    GroupPair group;
    if (kSpan == 64) group = load_group(p, row0, col_base / p.group_cols);
    __syncwarp(); // the previous tile's reads of smem are done
#pragma unroll
    for (int step = 0; step < 4; step++) {
        if (kSpan == 16) group = load_group(p, row0, (col_base + 16 * step) / p.group_cols);
#pragma unroll
        for (int col_half = 0; col_half < 2; col_half++) {
            const int col = 16 * step + 8 * col_half + 2 * t; // within the tile
            if (kSpan == 2) group = load_group(p, row0, (col_base + col - 2 * t) / p.group_cols);
#pragma unroll
            for (int h = 0; h < 2; h++) {
                // pair 2 * col_half + h: rows g + 8h, columns col, col + 1; nibbles (pair, pair + 4)
                const uint32_t v = (words[step] >> (4 * (2 * col_half + h))) & 0x000f000fu;
                const float lo = q_minus_z(v & 0xfu, group.zero_biased[h]) * group.scale[h];
                const float hi = q_minus_z(v >> 16, group.zero_biased[h]) * group.scale[h];
                *reinterpret_cast<Pair *>(&smem[g + 8 * h][col]) = pair_of<T>::make(lo, hi);
            }
        }
    }
    __syncwarp();
    T *out = static_cast<T *>(p.out) + (int64_t)W4A16_TILE_ROWS * tile_n_local * p.ldo +
             W4A16_TILE_COLS * tile_k;
    // 16 rows x 8 chunks of 16 bytes: 8 lanes write one row's 128 contiguous bytes.
#pragma unroll
    for (int i = 0; i < W4A16_TILE_ROWS * 8 / 32; i++) {
        const int idx = i * 32 + lane, r = idx / 8, chunk = idx % 8;
        *reinterpret_cast<uint4 *>(out + r * p.ldo + 8 * chunk) =
            *reinterpret_cast<const uint4 *>(&smem[r][8 * chunk]);
    }
}

// One warp takes kTilesPerWarp consecutive k-tiles of one 16-row block:
// their 16-byte loads are all in flight before the first conversion, the
// index math is done once, and each row gets a 512-byte contiguous segment.
template <typename T, int kSpan>
__global__ void __launch_bounds__(kWarps * 32) dequantize_kernel(const DequantParams p) {
    __shared__ __align__(16) T smem[kWarps][W4A16_TILE_ROWS][kSmemRow];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int k_blocks = (p.tiles_k + kTilesPerWarp - 1) / kTilesPerWarp;
    const int64_t task = (int64_t)blockIdx.x * kWarps + warp;
    if (task >= (int64_t)p.tiles_n * k_blocks) return; // whole warps leave; no block barrier below
    const int tile_n_local = (int)(task % p.tiles_n);
    const int tile_k0 = (int)(task / p.tiles_n) * kTilesPerWarp;
    const int tile_n = p.tile_n_begin + tile_n_local;
    const int tiles = min(kTilesPerWarp, p.tiles_k - tile_k0);
    const int64_t tiles_n_all = p.n_padded / W4A16_TILE_ROWS;
    uint4 packed[kTilesPerWarp];
#pragma unroll
    for (int i = 0; i < kTilesPerWarp; i++)
        if (i < tiles)
            packed[i] = __ldg(p.qweight + ((tile_k0 + i) * tiles_n_all + tile_n) * W4A16_TILE_LANES + lane);
#pragma unroll
    for (int i = 0; i < kTilesPerWarp; i++)
        if (i < tiles)
            dequantize_tile<T, kSpan>(p, packed[i], tile_n, tile_n_local, tile_k0 + i, smem[warp], lane);
}

// One thread gathers 8 columns of one row and stores them as 16 bytes.
__global__ void permute_columns_kernel(const uint16_t *A, int64_t lda, int64_t rows, int64_t k,
                                       const int32_t *perm, uint16_t *out, int64_t ldo) {
    const int64_t chunks = ldo / 8;
    const int64_t index = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= rows * chunks) return;
    const int64_t row = index / chunks, j0 = 8 * (index % chunks);
    uint16_t v[8];
#pragma unroll
    for (int e = 0; e < 8; e++) v[e] = j0 + e < k ? A[row * lda + perm[j0 + e]] : 0;
    uint4 packed;
    packed.x = v[0] | (uint32_t)v[1] << 16;
    packed.y = v[2] | (uint32_t)v[3] << 16;
    packed.z = v[4] | (uint32_t)v[5] << 16;
    packed.w = v[6] | (uint32_t)v[7] << 16;
    *reinterpret_cast<uint4 *>(out + row * ldo + j0) = packed;
}

template <typename T>
cudaError_t launch_dequantize_as(const DequantParams &p, cudaStream_t stream) {
    const int64_t tasks = (int64_t)p.tiles_n * ((p.tiles_k + kTilesPerWarp - 1) / kTilesPerWarp);
    const unsigned blocks = (unsigned)((tasks + kWarps - 1) / kWarps);
    if (p.group_cols % 64 == 0)
        dequantize_kernel<T, 64><<<blocks, kWarps * 32, 0, stream>>>(p);
    else if (p.group_cols % 16 == 0)
        dequantize_kernel<T, 16><<<blocks, kWarps * 32, 0, stream>>>(p);
    else
        dequantize_kernel<T, 2><<<blocks, kWarps * 32, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t w4a16_launch_dequantize(const w4a16_weight *w, int64_t row_begin,
                                               int64_t rows, void *out, int64_t ldo,
                                               cudaStream_t stream) {
    DequantParams p;
    p.qweight = static_cast<const uint4 *>(w->qweight);
    p.scales = w->scales;
    p.zeros = w->zeros;
    p.scale_kind = scale_kind_of(w->scales_dtype);
    p.n_padded = (int)w->n_padded;
    p.group_cols = (int)w4a16_group_cols(w->group_size, w->k);
    p.tile_n_begin = (int)(row_begin / W4A16_TILE_ROWS);
    p.tiles_n = (int)(rows / W4A16_TILE_ROWS);
    p.tiles_k = (int)(w->k_padded / W4A16_TILE_COLS);
    p.out = out;
    p.ldo = ldo;
    if (p.tiles_n == 0) return cudaSuccess;
    return w->act_dtype == W4A16_BF16 ? launch_dequantize_as<__nv_bfloat16>(p, stream)
                                      : launch_dequantize_as<__half>(p, stream);
}

extern "C" cudaError_t w4a16_launch_permute_columns(const void *A, int64_t lda, int64_t rows,
                                                    int64_t k, const int32_t *perm, void *out,
                                                    int64_t ldo, cudaStream_t stream) {
    const int64_t threads = rows * (ldo / 8);
    if (threads == 0) return cudaSuccess;
    permute_columns_kernel<<<(unsigned)((threads + 255) / 256), 256, 0, stream>>>(
        static_cast<const uint16_t *>(A), lda, rows, k, perm, static_cast<uint16_t *>(out), ldo);
    return cudaGetLastError();
}
