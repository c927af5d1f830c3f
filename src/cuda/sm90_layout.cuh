// sm90_prefill's compile-time shape (tiles, stages, shared-memory layout,
// weight variants), its launch parameters, and the lanes' roles. Private to
// sm90_prefill.cu (namespace w4a16_sm90).
#ifndef W4A16_CUDA_SM90_LAYOUT_CUH
#define W4A16_CUDA_SM90_LAYOUT_CUH

#include <stdint.h>

#include "kernel_plan/sm90_plan.h"
#include "packed/packed_layout.h"

namespace w4a16_sm90 {

constexpr int kRows = 128;             // weight rows per CTA: two halves of m64 (wgmma's M)
constexpr int kHalves = kRows / 64;
constexpr int kBlockK = 64;            // k per stage: one packed tile column, one 128-byte row of A
constexpr int kSteps = kBlockK / 16;   // wgmma k16 steps a block
constexpr int kWeightBytes = kRows * kBlockK / 2;   // 16 packed tiles of 512 bytes
constexpr int kGroupSlots = 2;         // a 64-wide k-block touches at most two groups (G >= 32)
constexpr int kScaleSlotBytes = kRows * 4;          // f32 scales at most
constexpr int kZeroSlotBytes = kRows;
constexpr int kRasterGroupM = 8;       // m-tiles walked together, so A and W stay in L2

// The token tile whose CTA splits each k-block between two consumer
// warpgroups per row half; 0: none. v9 ran it at 128 tokens (correct, GPU-
// tested) and measured it 7-14% slower than two warpgroups (bench/NOTES.md,
// v9), so it is off; kept for tiles where it may pay (a shorter loop).
constexpr int kKSplitBM = 0;

// The consumer warpgroups of one token width. Each row half has kParts of
// them, each on kSteps / kParts of a block's k16 steps with accumulators of
// its own, summed at the unit's end (part 0 keeps the sum). Wider tiles than
// 128 have no registers for it; the paired narrow ones have the second CTA.
template <int kBM> struct Team {
    static constexpr int kParts = kBM == kKSplitBM ? 2 : 1;
    static_assert(kParts == 1 || kBM <= 128, "two sets of accumulators fit up to 128 tokens");
    static constexpr int kConsumers = kHalves * kParts;
    static constexpr int kThreads = 128 * (1 + kConsumers);
    static constexpr int kPartSteps = kSteps / kParts;
    // The parts' sums cross shared memory in passes of this many floats a
    // thread: less memory than a whole accumulator, one more stage.
    static constexpr int kExchangeFloats = kBM / 4;
    static constexpr int kExchangeBytes = kParts == 2 ? kHalves * 128 * kExchangeFloats * 4 : 0;
};

// How the narrow tiles share an SM (w4a16_sm90_ctas_per_sm): two CTAs, each
// with half the SM's 228 KB of shared memory less the 1 KB the hardware keeps
// per CTA, and half its registers (the producer's 32 a thread leave the
// consumers 104; one CTA alone: 40 and 232, or with four consumer
// warpgroups 24 and 112).
template <int kBM> struct Residency {
    static constexpr int kCtas = kBM <= W4A16_SM90_PAIRED_MAX_BM ? 2 : 1;
    static constexpr int kSmemLimit = kCtas == 2 ? 113 * 1024 : 227 * 1024;
    static constexpr bool kFour = Team<kBM>::kConsumers == 4;
    static constexpr int kProducerRegisters = kCtas == 2 ? 32 : kFour ? 24 : 40;
    static constexpr int kConsumerRegisters = kCtas == 2 ? 104 : kFour ? 112 : 232;
    // The registers a thread gets at launch are 64K / (kCtas x threads),
    // rounded down to 8; what the producer gives back is what the consumers take.
    static constexpr int kLaunchRegisters = 65536 / (kCtas * Team<kBM>::kThreads) / 8 * 8;
    static_assert((kLaunchRegisters - kProducerRegisters) * 128 >=
                      (kConsumerRegisters - kLaunchRegisters) * 128 * Team<kBM>::kConsumers,
                  "the consumers take no more registers than the producer gives back");
};

static_assert(kWeightBytes == (kRows / W4A16_TILE_ROWS) * W4A16_TILE_BYTES, "whole tiles");

// Shared memory of one configuration: the stages' A boxes first (each
// 1024-byte aligned, as the 128-byte swizzle needs), then each row half's
// output tile for the TMA store (same swizzle), the parts' exchange, weights,
// scales, zeros and the barriers.
template <int kBM> struct Stages {
    static constexpr int kABytes = kBM * kBlockK * 2;
    static constexpr int kStageBytes =
        kABytes + kWeightBytes + kGroupSlots * (kScaleSlotBytes + kZeroSlotBytes);
    // A consumer stores its 64 rows x kBM tokens in one pass, or two above
    // 128 (a multiple of 16 tokens each: stmatrix goes 16 tokens at a time).
    static constexpr int kOutTokens = kBM <= 128 ? kBM : kBM / 2;
    static constexpr int kOutBytes = 64 * kOutTokens * 2;
    static constexpr int kFree = Residency<kBM>::kSmemLimit - 1024 - kHalves * kOutBytes -
                                 Team<kBM>::kExchangeBytes - 512;
    static constexpr int kCount = kFree / kStageBytes < 8 ? kFree / kStageBytes : 8;
    static constexpr int kOutOffset = kCount * kABytes;
    static constexpr int kExchangeOffset = kOutOffset + kHalves * kOutBytes;
    static constexpr int kWeightOffset = kExchangeOffset + Team<kBM>::kExchangeBytes;
    static constexpr int kScaleOffset = kWeightOffset + kCount * kWeightBytes;
    static constexpr int kZeroOffset = kScaleOffset + kCount * kGroupSlots * kScaleSlotBytes;
    static constexpr int kBarrierOffset = kZeroOffset + kCount * kGroupSlots * kZeroSlotBytes;
    static constexpr int kFlagOffset = kBarrierOffset + 2 * kCount * 8;
    static constexpr int kBytes = kFlagOffset + 16;
    static constexpr int kLaunchBytes = kBytes + 1024; // room to align the base to 1024
    static_assert(kABytes % 1024 == 0, "A boxes stay 1024-byte aligned");
    static_assert(kLaunchBytes <= Residency<kBM>::kSmemLimit, "fits in shared memory");
    static_assert(kCount >= 3, "a pipeline");
    static_assert(kBM % 16 == 0 && kOutTokens % 16 == 0 && kBM <= 256, "token tile");
};

// What the kernel knows at compile time about the weight's scales, groups and
// zeros, so that the common cases carry no run-time selects: scales in the
// activations' dtype (multiplied in 16 bits) or not (fp32); a 64-wide k-block
// inside one group (G a multiple of 64, or per-channel: one slot of scales
// and zeros a stage) or up to two (G = 32, 48, ...), with G itself known
// (kGroupCols 32: steps 0-1 in the first slot, 2-3 in the second) or not (0:
// each step's group computed); zero points none (symmetric: z = 8), present,
// or as the weight says (kZeros < 0).
template <bool kScale16_, bool kOneGroup_, int kZeros_, int kGroupCols_ = 0> struct Variant {
    static constexpr bool kScale16 = kScale16_;
    static constexpr bool kOneGroup = kOneGroup_;
    static constexpr int kZeros = kZeros_;
    static constexpr int kGroupCols = kGroupCols_;
    static constexpr int kSlots = kOneGroup ? 1 : kGroupSlots;
    static_assert(kGroupCols == 0 || (kGroupCols == 32 && !kOneGroup), "G = 32 is the known one");
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
    int c_tma;               // 1: C is written by TMA stores (16-byte aligned rows)
    int streamk;             // 1: CTA c takes tiles c, c + grid, ... below dp_tiles whole, then
                             // k-blocks [c T / grid, (c + 1) T / grid) of the T after them
    int dp_tiles;            // stream-K: the tiles of whole rounds (a multiple of the grid), or 0
    int64_t total_blocks;    // stream-K: (tiles - dp_tiles) x k_blocks
    float *parts;            // fp32 parts of tiles, slots of [2 halves][64 x BM]: split K's
                             // [tiles][splits], stream-K's [grid][2 ends]; else nullptr
    int32_t *counters;       // split K, stream-K: [tiles][2 halves] arrivals, 0 between launches
    int M, n, n_padded, tiles_n_all, k_blocks;
    int group_cols;          // G; per-channel: 2^30 (every column in group 0)
    uint32_t group_magic;    // column / G == umulhi(column, group_magic)
    int n_tiles, m_tiles, splits, units;
    int pdl;                 // launched programmatically (w4a16_sm90_args.pdl): only then the producer prefetches
};

__device__ __forceinline__ int group_of(const Sm90Params &p, int column) {
    return (int)__umulhi((uint32_t)column, p.group_magic);
}

template <int kBM> struct Smem {
    uint8_t *base;
    uint32_t base32; // base's shared-window address: the consumers' loop addresses by it

    // Where stage s's piece lies within its region (one multiply-add): the
    // generic pointers below and the consumers' shared-window addresses add
    // the same ones to the region's start.
    using S = Stages<kBM>;
    static __device__ int a_in(int s) { return s * S::kABytes; }
    static __device__ int weights_in(int s) { return s * kWeightBytes; }
    static __device__ int scales_in(int s, int slot) {
        return (s * kGroupSlots + slot) * kScaleSlotBytes;
    }
    static __device__ int zeros_in(int s, int slot) {
        return (s * kGroupSlots + slot) * kZeroSlotBytes;
    }

    __device__ uint32_t a_at(int s) const { return base32 + a_in(s); }
    __device__ uint32_t weights_at(int s) const {
        return base32 + S::kWeightOffset + weights_in(s);
    }
    __device__ uint32_t scales_at(int s, int slot) const {
        return base32 + S::kScaleOffset + scales_in(s, slot);
    }
    __device__ uint32_t zeros_at(int s, int slot) const {
        return base32 + S::kZeroOffset + zeros_in(s, slot);
    }
    __device__ uint32_t full_at(int s) const { return base32 + S::kBarrierOffset + 8 * s; }
    __device__ uint32_t empty_at(int s) const { return full_at(S::kCount + s); }

    __device__ uint8_t *a(int s) const { return base + a_in(s); }
    __device__ const uint8_t *weights(int s) const {
        return base + S::kWeightOffset + weights_in(s);
    }
    __device__ uint8_t *scales(int s, int slot) const {
        return base + S::kScaleOffset + scales_in(s, slot);
    }
    __device__ uint8_t *zeros(int s, int slot) const {
        return base + S::kZeroOffset + zeros_in(s, slot);
    }
    __device__ uint8_t *out(int half) const { return base + S::kOutOffset + half * S::kOutBytes; }
    // The parts' exchange of row half `half`: [kExchangeFloats / 4][128 threads] float4s.
    __device__ float4 *exchange(int half) const {
        return reinterpret_cast<float4 *>(base + S::kExchangeOffset) +
               half * 128 * (Team<kBM>::kExchangeFloats / 4);
    }
    // The barriers: full(s) then empty(s), 8 bytes each, as full_at / empty_at.
    __device__ uint64_t *full(int s) const {
        return reinterpret_cast<uint64_t *>(base + S::kBarrierOffset) + s;
    }
    __device__ uint64_t *empty(int s) const { return full(S::kCount + s); }
    // Split K, stream-K: whether this row half's warpgroup finishes the tile (one int each).
    __device__ int *last_flag(int half) const {
        return reinterpret_cast<int *>(base + S::kFlagOffset) + half;
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

// A consumer thread's rows in the CTA tile: g and g + 8 of its warp's 16.
struct Lane {
    int row;     // row g within the CTA's 128
    int tile;    // the warp's packed tile within the stage (16 rows each)
    int lane, g, t;
    int half;    // the warpgroup's 64 rows
    int part;    // its share of a block's k16 steps: [part x kPartSteps, + kPartSteps)
};

} // namespace w4a16_sm90

#endif
