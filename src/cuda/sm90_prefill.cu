// The Hopper GEMM (sm_90a): C = A · Wᵀ computed as Cᵀ = W · Aᵀ, so that the
// 4-bit weights, dequantized in registers, are wgmma's register-sourced A
// operand (m64, straight from packed layout v1's lane fragments) and the
// activations, copied by TMA into shared memory, are its B operand: the token
// count is wgmma's N (32, 64, then 128 to 256 in steps of 32), one kernel family
// for mid-size M and prefill; the in-between widths fit a call's tiles to the
// SMs (o_proj at M = 1024: 120 tiles of 192 tokens instead of 80 of 256).
//
// A CTA is three warpgroups: a producer whose one thread issues the copies of
// each 64-wide k-block (A's box through a tensor map, the weight tiles,
// scales and zeros as contiguous bulk copies) into a ring of stages guarded
// by full/empty mbarriers, and two consumers that each own 64 weight rows of
// the CTA's 128: they dequantize block i+1 while the wgmmas of block i run.
// The grid is persistent: CTA c takes units c, c + grid, ...; a unit is one
// (128-row, BM-token) tile, or one K-range of it when K is split, whose fp32
// partials go to the workspace for the reduction kernel (splitk_reduce.cu).
// Or stream-K: CTA c takes an equal share of all tiles' k-blocks, and a tile
// cut at a share's end is finished by the consumer warpgroup that brings its
// last part (finish_share). Both sum in a fixed order and leave nothing to
// reset between calls.
//
// Numerics: W = (q - z) * s with (q - z) exact in 16 bits and one rounding of
// the product (in 16 bits when the scales have the activations' dtype, else in
// fp32): the weight cuBLAS would see rounded to the activations' dtype. fp32
// accumulation; bias added in fp32; one rounding of the output.
//
// Napkin math (128 x 256 tile, one k-block): 4 wgmma m64n256k16 per consumer,
// ~1,000 cycles of tensor work for the CTA, against ~60 instructions a
// consumer thread to dequantize its 32 weights.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/fragment_dequant.cuh"
#include "cuda/kernels.h"
#include "cuda/packed_scales.cuh"
#include "cuda/ptx/bulk_copy.cuh"
#include "cuda/ptx/mbarrier.cuh"
#include "cuda/ptx/named_barrier.cuh"
#include "cuda/ptx/stmatrix.cuh"
#include "cuda/ptx/wgmma.cuh"
#include "cuda/ptx/wgmma_rs.cuh"
#include "gpu/tensor_map.h"
#include "packed/packed_layout.h"

namespace {

constexpr int kRows = 128;             // weight rows per CTA: two consumer warpgroups of m64
constexpr int kBlockK = 64;            // k per stage: one packed tile column, one 128-byte row of A
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kWeightBytes = kRows * kBlockK / 2;   // 16 packed tiles of 512 bytes
constexpr int kGroupSlots = 2;         // a 64-wide k-block touches at most two groups (G >= 32)
constexpr int kScaleSlotBytes = kRows * 4;          // f32 scales at most
constexpr int kZeroSlotBytes = kRows;
constexpr int kRasterGroupM = 8;       // m-tiles walked together, so A and W stay in L2
constexpr int kSmemLimit = 227 * 1024;

static_assert(kWeightBytes == (kRows / W4A16_TILE_ROWS) * W4A16_TILE_BYTES, "whole tiles");

// Shared memory of one configuration: the stages' A boxes first (each
// 1024-byte aligned, as the 128-byte swizzle needs), then each consumer's
// output tile for the TMA store (same swizzle), weights, scales, zeros and
// the barriers.
template <int kBM> struct Stages {
    static constexpr int kABytes = kBM * kBlockK * 2;
    static constexpr int kStageBytes =
        kABytes + kWeightBytes + kGroupSlots * (kScaleSlotBytes + kZeroSlotBytes);
    // A consumer stores its 64 rows x kBM tokens in one pass, or two above
    // 128 (a multiple of 16 tokens each: stmatrix goes 16 tokens at a time).
    static constexpr int kOutTokens = kBM <= 128 ? kBM : kBM / 2;
    static constexpr int kOutBytes = 64 * kOutTokens * 2;
    static constexpr int kFree = kSmemLimit - 1024 - kConsumers * kOutBytes - 512;
    static constexpr int kCount = kFree / kStageBytes < 8 ? kFree / kStageBytes : 8;
    static constexpr int kOutOffset = kCount * kABytes;
    static constexpr int kWeightOffset = kOutOffset + kConsumers * kOutBytes;
    static constexpr int kScaleOffset = kWeightOffset + kCount * kWeightBytes;
    static constexpr int kZeroOffset = kScaleOffset + kCount * kGroupSlots * kScaleSlotBytes;
    static constexpr int kBarrierOffset = kZeroOffset + kCount * kGroupSlots * kZeroSlotBytes;
    static constexpr int kFlagOffset = kBarrierOffset + 2 * kCount * 8;
    static constexpr int kBytes = kFlagOffset + 16;
    static constexpr int kLaunchBytes = kBytes + 1024; // room to align the base to 1024
    static_assert(kABytes % 1024 == 0, "A boxes stay 1024-byte aligned");
    static_assert(kLaunchBytes <= kSmemLimit, "fits in shared memory");
    static_assert(kCount >= 3, "a pipeline");
    static_assert(kBM % 16 == 0 && kOutTokens % 16 == 0 && kBM <= 256, "token tile");
};

// What the kernel knows at compile time about the weight's scales, groups and
// zeros, so that the common cases carry no run-time selects: scales in the
// activations' dtype (multiplied in 16 bits) or not (fp32); a 64-wide k-block
// inside one group (G a multiple of 64, or per-channel: one slot of scales
// and zeros a stage) or up to two (G = 32, 48, ...); zero points none
// (symmetric: z = 8), present, or as the weight says (kZeros < 0).
template <bool kScale16_, bool kOneGroup_, int kZeros_> struct Variant {
    static constexpr bool kScale16 = kScale16_;
    static constexpr bool kOneGroup = kOneGroup_;
    static constexpr int kZeros = kZeros_;
    static constexpr int kSlots = kOneGroup ? 1 : kGroupSlots;
};

struct Sm90Params {
    const uint8_t *qweight;
    const uint8_t *scales;   // [groups_padded][n_padded] of scale_bytes
    const uint8_t *zeros;    // same, u8; nullptr: z = 8
    int scale_bytes;         // 2 or 4
    int scale_kind;          // ScaleKind of packed_scales.cuh, for the fp32 path
    const uint16_t *bias;    // [n] or nullptr
    uint16_t *C;
    int64_t ldc;
    float *partials;         // split K: [splits][M][n_padded]; nullptr when splits == 1
    int c_tma;               // 1: C is written by TMA stores (16-byte aligned rows)
    int streamk;             // 1: CTA c takes k-blocks [c T / grid, (c + 1) T / grid) of all T
    int64_t total_blocks;    // stream-K: tiles x k_blocks
    float *shares;           // stream-K: [grid][2 ends][2 consumers][64 x BM] partial tiles
    int32_t *counters;       // stream-K: [tiles][2 consumers] arrivals, 0 between launches
    int M, n, n_padded, tiles_n_all, k_blocks;
    int group_cols;          // G; per-channel: 2^30 (every column in group 0)
    uint32_t group_magic;    // column / G == umulhi(column, group_magic)
    int n_tiles, m_tiles, splits, units;
};

__device__ __forceinline__ int group_of(const Sm90Params &p, int column) {
    return (int)__umulhi((uint32_t)column, p.group_magic);
}

// Which tile and K-range a unit of work is. slot >= 0: a stream-K share's
// part of a tile, written there for the warpgroup that finishes the tile.
struct Unit {
    int tile, n0, m0, split, kb_begin, kb_end, slot;
};

// Where tile t lies: walking groups of kRasterGroupM m-tiles, M fastest, so
// that the CTAs running at once share their A rows and W tiles in L2.
__device__ __forceinline__ void place_tile(const Sm90Params &p, int kBM, Unit &w) {
    const int per_group = kRasterGroupM * p.n_tiles;
    const int group = w.tile / per_group, first_m = group * kRasterGroupM;
    const int group_m = min(p.m_tiles - first_m, kRasterGroupM);
    const int local = w.tile - group * per_group;
    w.m0 = (first_m + local % group_m) * kBM;
    w.n0 = (local / group_m) * kRows;
}

// Stream-K: the first k-block of CTA c's share, and the CTA whose share holds block i.
__device__ __forceinline__ int64_t share_start(const Sm90Params &p, int64_t c) {
    return c * p.total_blocks / gridDim.x;
}
__device__ __forceinline__ int share_owner(const Sm90Params &p, int64_t i) {
    return (int)(((i + 1) * gridDim.x - 1) / p.total_blocks);
}

// A CTA's units in order; the producer and the consumers walk the same list.
struct Walk {
    int64_t next, end;
    int first_tile;
};

__device__ __forceinline__ Walk walk_begin(const Sm90Params &p) {
    Walk k;
    if (p.streamk) {
        k.next = share_start(p, blockIdx.x);
        k.end = share_start(p, blockIdx.x + 1);
        k.first_tile = (int)(k.next / p.k_blocks);
    } else {
        k.next = blockIdx.x;
        k.end = p.units;
        k.first_tile = 0;
    }
    return k;
}

__device__ __forceinline__ bool walk_next(const Sm90Params &p, int kBM, Walk &k, Unit &w) {
    if (k.next >= k.end) return false;
    if (p.streamk) {
        w.tile = (int)(k.next / p.k_blocks);
        w.kb_begin = (int)(k.next - (int64_t)w.tile * p.k_blocks);
        w.kb_end = (int)min((int64_t)p.k_blocks, w.kb_begin + (k.end - k.next));
        w.split = 0;
        const bool whole = w.kb_begin == 0 && w.kb_end == p.k_blocks;
        w.slot = whole ? -1 : 2 * (int)blockIdx.x + (w.tile == k.first_tile ? 0 : 1);
        k.next += w.kb_end - w.kb_begin;
    } else {
        const int u = (int)k.next;
        w.tile = u / p.splits;
        w.split = u - w.tile * p.splits;
        w.kb_begin = (int)((int64_t)p.k_blocks * w.split / p.splits);
        w.kb_end = (int)((int64_t)p.k_blocks * (w.split + 1) / p.splits);
        w.slot = -1;
        k.next += gridDim.x;
    }
    place_tile(p, kBM, w);
    return true;
}

template <int kBM> struct Smem {
    uint8_t *base;
    __device__ uint8_t *a(int s) const { return base + s * Stages<kBM>::kABytes; }
    __device__ const uint8_t *weights(int s) const {
        return base + Stages<kBM>::kWeightOffset + s * kWeightBytes;
    }
    __device__ uint8_t *scales(int s, int slot) const {
        return base + Stages<kBM>::kScaleOffset + (s * kGroupSlots + slot) * kScaleSlotBytes;
    }
    __device__ uint8_t *zeros(int s, int slot) const {
        return base + Stages<kBM>::kZeroOffset + (s * kGroupSlots + slot) * kZeroSlotBytes;
    }
    __device__ uint8_t *out(int consumer) const {
        return base + Stages<kBM>::kOutOffset + consumer * Stages<kBM>::kOutBytes;
    }
    __device__ uint64_t *full(int s) const {
        return reinterpret_cast<uint64_t *>(base + Stages<kBM>::kBarrierOffset) + s;
    }
    __device__ uint64_t *empty(int s) const { return full(Stages<kBM>::kCount + s); }
    // Stream-K: whether this consumer warpgroup finishes the tile (one int each).
    __device__ int *last_flag(int consumer) const {
        return reinterpret_cast<int *>(base + Stages<kBM>::kFlagOffset) + consumer;
    }
};

// Whether the weight has zero points, as the variant knows or the call says.
template <class V> __device__ __forceinline__ bool has_zeros(const Sm90Params &p) {
    return V::kZeros > 0 || (V::kZeros < 0 && p.zeros != nullptr);
}

// The ring's position: stage s and the parity of its current use, packed in
// one register (bits 0-3 and bit 4; the consumers have none to spare at 256
// tokens), advanced without a division.
template <int kStages> struct Ring {
    static_assert(kStages <= 15, "four bits of stage");
    uint32_t packed = 0;
    __device__ __forceinline__ int s() const { return (int)(packed & 15u); }
    __device__ __forceinline__ uint32_t phase() const { return packed >> 4; }
    __device__ __forceinline__ void advance() {
        packed++;
        if ((packed & 15u) == (uint32_t)kStages) packed = (packed & 16u) ^ 16u;
    }
};

// The producer's one thread: every k-block of every unit of this CTA, in order.
template <int kBM, class V>
__device__ void produce(const Sm90Params &p, const CUtensorMap *a_map, const Smem<kBM> &sm) {
    constexpr int kStages = Stages<kBM>::kCount;
    prefetch_tensor_map(a_map);
    Ring<kStages> ring;
    Walk walk = walk_begin(p);
    Unit w;
    while (walk_next(p, kBM, walk, w)) {
        const int rows = min(kRows, p.n_padded - w.n0); // the last tile may hold 64 rows
        const uint32_t weight_bytes = (uint32_t)(rows / W4A16_TILE_ROWS) * W4A16_TILE_BYTES;
        const uint32_t scale_bytes = (uint32_t)(rows * p.scale_bytes);
        const uint32_t zero_bytes = has_zeros<V>(p) ? (uint32_t)rows : 0u;
        const uint32_t stage_bytes = Stages<kBM>::kABytes + weight_bytes +
                                     V::kSlots * (scale_bytes + zero_bytes);
        for (int kb = w.kb_begin; kb < w.kb_end; kb++, ring.advance()) {
            const int s = ring.s();
            mbarrier_wait(sm.empty(s), ring.phase() ^ 1);
            uint64_t *bar = sm.full(s);
            mbarrier_arrive_expect_tx(bar, stage_bytes);
            copy_tensor_2d(sm.a(s), a_map, kb * kBlockK, w.m0, bar);
            copy_bulk((void *)sm.weights(s),
                      p.qweight + ((int64_t)kb * p.tiles_n_all + w.n0 / W4A16_TILE_ROWS) *
                                      W4A16_TILE_BYTES,
                      weight_bytes, bar);
            // Slot 0: the group of the block's first column; slot 1: of its last.
#pragma unroll
            for (int slot = 0; slot < V::kSlots; slot++) {
                const int64_t group = group_of(p, kb * kBlockK + slot * (kBlockK - 1));
                const int64_t at = group * p.n_padded + w.n0;
                copy_bulk(sm.scales(s, slot), p.scales + at * p.scale_bytes, scale_bytes, bar);
                if (has_zeros<V>(p)) copy_bulk(sm.zeros(s, slot), p.zeros + at, zero_bytes, bar);
            }
        }
    }
}

// A consumer thread's rows in the CTA tile: g and g + 8 of its warp's 16.
struct Lane {
    int row;     // row g within the CTA's 128
    int tile;    // the warp's packed tile within the stage (16 rows each)
    int lane, g, t;
};

// Dequantizes block `kb` from stage s into the four k16 steps' A fragments.
template <typename T, int kBM, class V>
__device__ __forceinline__ void load_fragments(const Sm90Params &p, const Smem<kBM> &sm, int s,
                                               int kb, const Lane &l, uint32_t (&frag)[4][4]) {
    constexpr bool kScale16 = V::kScale16;
    const uint4 packed =
        *reinterpret_cast<const uint4 *>(sm.weights(s) + l.tile * W4A16_TILE_BYTES + l.lane * 16);
    const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
    const int first_group = V::kOneGroup ? 0 : group_of(p, kb * kBlockK);
    FragmentZeros<T> zeros[kGroupSlots];
    uint32_t scale16[kGroupSlots][2];
    float scale32[kGroupSlots][2];
#pragma unroll
    for (int slot = 0; slot < V::kSlots; slot++) {
        uint32_t z[2] = {W4A16_PAD_VALUE, W4A16_PAD_VALUE};
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int r = l.row + 8 * h;
            if (has_zeros<V>(p)) z[h] = sm.zeros(s, slot)[r];
            if (kScale16) {
                scale16[slot][h] = Pair16<T>::splat(reinterpret_cast<const uint16_t *>(sm.scales(s, slot))[r]);
            } else {
                scale32[slot][h] = load_packed_scale(sm.scales(s, slot), p.scale_kind, r);
            }
        }
        zeros[slot] = fragment_zeros<T>(z[0], z[1]);
    }
    if (V::kSlots == 1) { // slot 1 is never selected; keep it defined
        zeros[1] = zeros[0];
#pragma unroll
        for (int h = 0; h < 2; h++) {
            if (kScale16)
                scale16[1][h] = scale16[0][h];
            else
                scale32[1][h] = scale32[0][h];
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        // Each k16 step lies inside one group (G is a multiple of 16).
        const bool second = !V::kOneGroup && group_of(p, kb * kBlockK + 16 * j) != first_group;
        FragmentZeros<T> z = zeros[0]; // a select, not a run-time index (local memory)
        if (second) z = zeros[1];
        if (kScale16) {
            const uint32_t sc[2] = {second ? scale16[1][0] : scale16[0][0],
                                    second ? scale16[1][1] : scale16[0][1]};
            fragment_dequant16<T>(words[j], z, sc, frag[j]);
        } else {
            const float sc[2] = {second ? scale32[1][0] : scale32[0][0],
                                 second ? scale32[1][1] : scale32[0][1]};
            fragment_dequant32<T>(words[j], z, sc, frag[j]);
        }
    }
}

template <typename T, int kBM>
__device__ __forceinline__ void mma_block(float (&acc)[kBM / 2], const uint32_t (&frag)[4][4],
                                          uint64_t desc) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
        // One k16 step is 32 bytes along the 128-byte swizzled row.
        const uint64_t d = wgmma_desc_advance(desc, 32 * j);
        if constexpr (std::is_same<T, __half>::value)
            WgmmaRS<kBM>::mma_f16(acc, frag[j], d);
        else
            WgmmaRS<kBM>::mma_bf16(acc, frag[j], d);
    }
}

template <int N> __device__ __forceinline__ void hold_all(uint32_t (&frag)[4][N]) {
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int i = 0; i < N; i++) wgmma_hold(frag[j][i]);
}

// The unit's tile out through shared memory and a TMA store (C 16-byte
// aligned): each 8 x 8 block of accumulators (rows of W x tokens) goes
// transposed by stmatrix into the consumer's 128-byte-swizzled buffer of
// [tokens][64 rows], which one thread then stores as a box of C; the store
// runs while the consumers go on to the next unit. Rows past n and tokens
// past M fall outside the tensor map and are not written.
template <typename T, int kBM>
__device__ __forceinline__ void store_unit_tma(const Sm90Params &p, const Smem<kBM> &sm,
                                               const Unit &w, const Lane &l, int consumer,
                                               const float (&acc)[kBM / 2],
                                               const CUtensorMap *c_map) {
    constexpr int kPass = Stages<kBM>::kOutTokens;
    const int thread = threadIdx.x % 128, warp = thread / 32;
    const int n = w.n0 + l.row;
    float bias[2] = {0.0f, 0.0f};
#pragma unroll
    for (int h = 0; h < 2; h++)
        if (p.bias != nullptr && n + 8 * h < p.n) bias[h] = Pair16<T>::value_of(p.bias[n + 8 * h]);
    uint8_t *buffer = sm.out(consumer);
    // This lane addresses row j of matrix i of each stmatrix: token 8 (c + i / 2) + j
    // of the pass, rows 16 warp + 8 (i % 2) .. + 7, the 16-byte chunk 2 warp + i % 2
    // of the token's 128-byte row, swizzled by the token's row in its 8-row atom.
    const int i = l.lane / 8, j = l.lane % 8;
    const uint32_t lane_address =
        smem_address(buffer) + (8 * (i / 2) + j) * 128 + (((2 * warp + i % 2) ^ j) << 4);
#pragma unroll
    for (int pass = 0; pass < kBM / kPass; pass++) {
        if (thread == 0) bulk_wait_group_read_all(); // the last store has read the buffer
        named_barrier_sync(1 + consumer, 128);
#pragma unroll
        for (int c = 0; c < kPass / 8; c += 2) {
            const int a = 4 * (pass * kPass / 8 + c);
            const uint32_t v[4] = {
                Pair16<T>::from_float2(acc[a] + bias[0], acc[a + 1] + bias[0]),
                Pair16<T>::from_float2(acc[a + 2] + bias[1], acc[a + 3] + bias[1]),
                Pair16<T>::from_float2(acc[a + 4] + bias[0], acc[a + 5] + bias[0]),
                Pair16<T>::from_float2(acc[a + 6] + bias[1], acc[a + 7] + bias[1])};
            stmatrix_x4_trans(lane_address + c * 8 * 128, v);
        }
        fence_async_shared();
        named_barrier_sync(1 + consumer, 128);
        if (thread == 0) {
            store_tensor_2d(c_map, w.n0 + 64 * consumer, w.m0 + pass * kPass, buffer);
            bulk_commit_group();
        }
    }
}

// The unit's accumulators out: rows g, g + 8 of the warp; tokens 8c + 2t (+1).
// Split K: fp32 partials [split][M][n_padded] for the reduction kernel.
template <typename T, int kBM>
__device__ __forceinline__ void store_unit(const Sm90Params &p, const Unit &w, const Lane &l,
                                           const float (&acc)[kBM / 2]) {
    const int n = w.n0 + l.row, m = w.m0 + 2 * l.t;
    const bool row_ok[2] = {n < p.n, n + 8 < p.n};
    if (p.partials != nullptr) {
        float *out = p.partials + ((int64_t)w.split * p.M + m) * p.n_padded + n;
#pragma unroll
        for (int c = 0; c < kBM / 8; c++, out += 8 * (int64_t)p.n_padded)
#pragma unroll
            for (int r = 0; r < 4; r++)
                if (row_ok[r >> 1] && m + 8 * c + (r & 1) < p.M)
                    out[(r & 1) * (int64_t)p.n_padded + 8 * (r >> 1)] = acc[4 * c + r];
        return;
    }
    float bias[2] = {0.0f, 0.0f};
#pragma unroll
    for (int h = 0; h < 2; h++)
        if (p.bias != nullptr && row_ok[h]) bias[h] = Pair16<T>::value_of(p.bias[n + 8 * h]);
    uint16_t *out = p.C + (int64_t)m * p.ldc + n;
#pragma unroll
    for (int c = 0; c < kBM / 8; c++, out += 8 * p.ldc)
#pragma unroll
        for (int r = 0; r < 4; r++)
            if (row_ok[r >> 1] && m + 8 * c + (r & 1) < p.M)
                out[(r & 1) * p.ldc + 8 * (r >> 1)] = Pair16<T>::bits_of(acc[4 * c + r] + bias[r >> 1]);
}

// Stream-K: this share's part of the tile goes to its slot; the consumer
// warpgroup that brings a tile's last part sums every part in share order
// (the same bits whoever is last) into acc, resets the tile's counter for the
// next launch and returns true: it then stores the tile. Slots are in
// register order, so each thread moves float4s: [kBM / 8][128 threads][4].
template <int kBM>
__device__ __forceinline__ bool finish_share(const Sm90Params &p, const Smem<kBM> &sm,
                                             const Unit &w, int consumer,
                                             float (&acc)[kBM / 2]) {
    constexpr int kSlotFloats = 64 * kBM; // one consumer's 64 rows x kBM tokens
    const int thread = threadIdx.x % 128;
    float4 *mine = reinterpret_cast<float4 *>(
        p.shares + ((int64_t)w.slot * kConsumers + consumer) * kSlotFloats);
#pragma unroll
    for (int q = 0; q < kBM / 8; q++)
        __stcg(mine + q * 128 + thread,
               make_float4(acc[4 * q], acc[4 * q + 1], acc[4 * q + 2], acc[4 * q + 3]));
    __threadfence();
    named_barrier_sync(1 + consumer, 128);
    const int64_t first_block = (int64_t)w.tile * p.k_blocks;
    const int first_cta = share_owner(p, first_block);
    const int last_cta = share_owner(p, first_block + p.k_blocks - 1);
    if (thread == 0) {
        int32_t *counter = p.counters + 2 * w.tile + consumer;
        const int arrived = atomicAdd(counter, 1);
        const int last = arrived == last_cta - first_cta;
        if (last) *counter = 0; // every part has arrived: nothing else touches it this launch
        *sm.last_flag(consumer) = last;
    }
    named_barrier_sync(1 + consumer, 128);
    if (!*sm.last_flag(consumer)) return false;
    __threadfence();
#pragma unroll
    for (int i = 0; i < kBM / 2; i++) acc[i] = 0.0f;
    for (int c = first_cta; c <= last_cta; c++) {
        const int first_tile_of_c = (int)(share_start(p, c) / p.k_blocks);
        const int slot = 2 * c + (w.tile == first_tile_of_c ? 0 : 1);
        const float4 *part = reinterpret_cast<const float4 *>(
            p.shares + ((int64_t)slot * kConsumers + consumer) * kSlotFloats);
#pragma unroll
        for (int q = 0; q < kBM / 8; q++) {
            const float4 v = __ldcg(part + q * 128 + thread);
            acc[4 * q] += v.x;
            acc[4 * q + 1] += v.y;
            acc[4 * q + 2] += v.z;
            acc[4 * q + 3] += v.w;
        }
    }
    return true;
}

template <typename T, int kBM, class V>
__device__ void consume(const Sm90Params &p, const Smem<kBM> &sm, int consumer,
                        const CUtensorMap *c_map) {
    constexpr int kStages = Stages<kBM>::kCount;
    Lane l;
    const int warp = (threadIdx.x / 32) % 4;
    l.lane = threadIdx.x % 32;
    l.g = l.lane / 4;
    l.t = l.lane % 4;
    l.tile = 4 * consumer + warp;
    l.row = W4A16_TILE_ROWS * l.tile + l.g;
    Ring<kStages> ring; // the next block to consume
    Walk walk = walk_begin(p);
    Unit w;
    while (walk_next(p, kBM, walk, w)) {
        const int blocks = w.kb_end - w.kb_begin;
        float acc[kBM / 2];
#pragma unroll
        for (int i = 0; i < kBM / 2; i++) acc[i] = 0.0f;
        uint32_t frag_a[4][4], frag_b[4][4];
        // Frees the stage of the block before the ring's current one.
        auto release_previous = [&]() {
            if (l.lane == 0) mbarrier_arrive(sm.empty(ring.s() == 0 ? kStages - 1 : ring.s() - 1));
        };
        // Block i is in `cur` (stage ring.s()): issue its wgmmas, wait for block
        // i - 1's, free that stage, and dequantize block i + 1 into `next`.
        auto step = [&](uint32_t (&cur)[4][4], uint32_t (&next)[4][4], int i) {
            wgmma_fence();
            mma_block<T, kBM>(acc, cur, wgmma_desc_k_major_sw128(sm.a(ring.s())));
            wgmma_commit();
            wgmma_wait<1>();
            hold_all(next); // block i - 1 read these until the wait above
            if (i > 0) release_previous();
            ring.advance();
            if (i + 1 < blocks) {
                mbarrier_wait(sm.full(ring.s()), ring.phase());
                load_fragments<T, kBM, V>(p, sm, ring.s(), w.kb_begin + i + 1, l, next);
            }
        };
        if (blocks > 0) {
            mbarrier_wait(sm.full(ring.s()), ring.phase());
            load_fragments<T, kBM, V>(p, sm, ring.s(), w.kb_begin, l, frag_a);
            for (int i = 0; i < blocks; i += 2) {
                step(frag_a, frag_b, i);
                if (i + 1 < blocks) step(frag_b, frag_a, i + 1);
            }
            wgmma_wait<0>();
            hold_all(frag_a);
            hold_all(frag_b);
            release_previous();
        }
        if (w.slot >= 0 && !finish_share<kBM>(p, sm, w, consumer, acc)) continue;
        if (p.c_tma && p.partials == nullptr)
            store_unit_tma<T, kBM>(p, sm, w, l, consumer, acc, c_map);
        else
            store_unit<T, kBM>(p, w, l, acc);
    }
    // The shared memory must outlive the last store's reads.
    if (threadIdx.x % 128 == 0) bulk_wait_group_all();
}

template <typename T, int kBM, class V>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_prefill_kernel(const Sm90Params p, const __grid_constant__ CUtensorMap a_map,
                        const __grid_constant__ CUtensorMap c_map) {
    extern __shared__ uint8_t smem_raw[];
    Smem<kBM> sm;
    sm.base = smem_raw + ((1024 - (smem_address(smem_raw) & 1023)) & 1023);
    constexpr int kStages = Stages<kBM>::kCount;
    if (threadIdx.x == 0) {
        for (int s = 0; s < kStages; s++) {
            mbarrier_init(sm.full(s), 1);                  // the producer's expect_tx arrival
            mbarrier_init(sm.empty(s), kConsumers * 4);    // one arrival per consumer warp
        }
        fence_barrier_init();
    }
    __syncthreads();
    const int warpgroup = threadIdx.x / 128;
    if (warpgroup == 0) {
        warpgroup_registers_lower<40>();
        if (threadIdx.x == 0) produce<kBM, V>(p, &a_map, sm);
    } else {
        warpgroup_registers_raise<232>();
        consume<T, kBM, V>(p, sm, warpgroup - 1, &c_map);
    }
}

template <typename T, int kBM, class V>
cudaError_t launch_as(const Sm90Params &p, const CUtensorMap &a_map, const CUtensorMap &c_map,
                      int grid, cudaStream_t stream) {
    auto kernel = sm90_prefill_kernel<T, kBM, V>;
    // Once per instantiation (and harmless if two threads race to it).
    static bool attribute_set = false;
    if (!attribute_set) {
        cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             Stages<kBM>::kLaunchBytes);
        if (e != cudaSuccess) return e;
        attribute_set = true;
    }
    kernel<<<grid, kThreads, Stages<kBM>::kLaunchBytes, stream>>>(p, a_map, c_map);
    return cudaGetLastError();
}

template <typename T, class V>
cudaError_t launch_width(const Sm90Params &p, const CUtensorMap &a_map, const CUtensorMap &c_map,
                         int bm, int grid, cudaStream_t stream) {
    switch (bm) {
    case 32: return launch_as<T, 32, V>(p, a_map, c_map, grid, stream);
    case 64: return launch_as<T, 64, V>(p, a_map, c_map, grid, stream);
    case 128: return launch_as<T, 128, V>(p, a_map, c_map, grid, stream);
    case 160: return launch_as<T, 160, V>(p, a_map, c_map, grid, stream);
    case 192: return launch_as<T, 192, V>(p, a_map, c_map, grid, stream);
    case 224: return launch_as<T, 224, V>(p, a_map, c_map, grid, stream);
    case 256: return launch_as<T, 256, V>(p, a_map, c_map, grid, stream);
    default: return cudaErrorInvalidValue; // the plan offers only the widths above
    }
}

// The variant for the weight: the common cases (16-bit scales, groups a
// multiple of 64 or per-channel, with or without zeros) compiled on their
// own; the rest decided in the kernel.
template <typename T>
cudaError_t launch_variant(const Sm90Params &p, const w4a16_weight *w, const CUtensorMap &a_map,
                           const CUtensorMap &c_map, int bm, int grid, cudaStream_t stream) {
    const bool scale16 = w->scales_dtype == w->act_dtype;
    const bool one_group = w->group_size < 0 || w->group_size % kBlockK == 0;
    if (!scale16) return launch_width<T, Variant<false, false, -1>>(p, a_map, c_map, bm, grid, stream);
    if (!one_group) return launch_width<T, Variant<true, false, -1>>(p, a_map, c_map, bm, grid, stream);
    if (w->zeros != nullptr)
        return launch_width<T, Variant<true, true, 1>>(p, a_map, c_map, bm, grid, stream);
    return launch_width<T, Variant<true, true, 0>>(p, a_map, c_map, bm, grid, stream);
}

} // namespace

extern "C" cudaError_t w4a16_launch_sm90_prefill(const w4a16_sm90_args *a, cudaStream_t stream) {
    const w4a16_weight *w = a->w;
    CUtensorMap a_map, c_map;
    cudaError_t e = w4a16_sm90_encode_tile_map(&a_map, a->A, w->act_dtype, w->k, a->M, a->lda,
                                                a->block_m);
    if (e != cudaSuccess) return e;
    // C through TMA stores when the kernel writes it, its rows are 16-byte
    // aligned and N is a multiple of 8: the copy engine clips a store at the
    // tensor's end in 16-byte steps (measured: N = 13 wrote columns 13-15),
    // so a row's end must fall on one. Else (split K too) plain stores.
    const bool split = a->splits > 1 && !a->streamk;
    const int c_tma = !split && (uintptr_t)a->C % 16 == 0 && a->ldc % 8 == 0 && w->n % 8 == 0;
    if (c_tma) {
        e = w4a16_sm90_encode_tile_map(&c_map, a->C, w->act_dtype, w->n, a->M, a->ldc,
                                       a->block_m <= 128 ? a->block_m : a->block_m / 2);
        if (e != cudaSuccess) return e;
    } else {
        c_map = a_map; // unused
    }
    Sm90Params p;
    p.qweight = static_cast<const uint8_t *>(w->qweight);
    p.scales = static_cast<const uint8_t *>(w->scales);
    p.zeros = w->zeros;
    p.scale_bytes = w->scales_dtype == W4A16_F32 ? 4 : 2;
    p.scale_kind = scale_kind_of(w->scales_dtype);
    p.bias = static_cast<const uint16_t *>(a->bias);
    p.C = static_cast<uint16_t *>(a->C);
    p.ldc = a->ldc;
    p.partials = split ? a->partials : nullptr;
    p.c_tma = c_tma;
    p.streamk = a->streamk;
    p.shares = a->streamk ? a->partials : nullptr;
    p.counters = a->counters;
    p.M = (int)a->M;
    p.n = (int)w->n;
    p.n_padded = (int)w->n_padded;
    p.tiles_n_all = (int)(w->n_padded / W4A16_TILE_ROWS);
    p.k_blocks = (int)(w->k_padded / kBlockK);
    p.group_cols = w->group_size < 0 ? (1 << 30) : (int)w->group_size;
    p.group_magic = (uint32_t)(0xffffffffu / (uint32_t)p.group_cols + 1u);
    p.n_tiles = (int)((w->n_padded + kRows - 1) / kRows);
    p.m_tiles = (int)((a->M + a->block_m - 1) / a->block_m);
    p.splits = a->streamk ? 1 : a->splits;
    p.units = p.n_tiles * p.m_tiles * p.splits;
    p.total_blocks = (int64_t)p.n_tiles * p.m_tiles * p.k_blocks;
    const int grid = a->streamk ? a->grid : p.units < a->sm_count ? p.units : a->sm_count;
    if (w->act_dtype == W4A16_BF16) return launch_variant<__nv_bfloat16>(p, w, a_map, c_map, a->block_m, grid, stream);
    return launch_variant<__half>(p, w, a_map, c_map, a->block_m, grid, stream);
}
