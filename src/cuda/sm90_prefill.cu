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
#include "cuda/sm90_epilogue.cuh"
#include "cuda/sm90_layout.cuh"
#include "cuda/sm90_schedule.cuh"
#include "gpu/tensor_map.h"
#include "packed/packed_layout.h"

namespace {

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
