// sm90_prefill's device code: the producer, the consumers' mainloop, the
// kernel and its launch at every token width. Included by the sm90_variant_*.cu
// files, each of which instantiates launch_width for one weight variant (in
// parallel: one translation unit of all 56 instances took 80 s to build), and
// declared for the host entry in sm90_prefill.cu.
#ifndef W4A16_CUDA_SM90_KERNEL_CUH
#define W4A16_CUDA_SM90_KERNEL_CUH

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/fragment_dequant.cuh"
#include "cuda/packed_scales.cuh"
#include "cuda/ptx/bulk_copy.cuh"
#include "cuda/ptx/grid_dependency.cuh"
#include "cuda/ptx/mbarrier.cuh"
#include "cuda/ptx/named_barrier.cuh"
#include "cuda/ptx/shared_load.cuh"
#include "cuda/ptx/wgmma.cuh"
#include "cuda/ptx/wgmma_rs.cuh"
#include "cuda/sm90_epilogue.cuh"
#include "cuda/sm90_layout.cuh"
#include "cuda/sm90_schedule.cuh"
#include "packed/packed_layout.h"

namespace w4a16_sm90 {

// The producer's one thread: every k-block of every unit of this CTA, in order.
// Launched programmatically (Sm90Params.pdl), the kernel may start while the
// one before it in the stream finishes: the first unit's first stages of
// weights and scales are only pulled into L2 before waiting for that kernel;
// every copy, and so everything the consumers write, comes after.
template <int kBM, class V>
__device__ void produce(const Sm90Params &p, const CUtensorMap *a_map, const Smem<kBM> &sm) {
    constexpr int kStages = Stages<kBM>::kCount;
    prefetch_tensor_map(a_map);
    Ring<kStages> ring;
    Walk walk = walk_begin(p);
    Unit w;
    if (p.pdl) { // launched ordinarily, the copies below would only race their own prefetch
        Walk first_walk = walk;
        if (walk_next(p, kBM, first_walk, w)) {
            const int rows = min(kRows, p.n_padded - w.n0);
            const int early = min(kStages, w.kb_end - w.kb_begin);
            for (int kb = w.kb_begin; kb < w.kb_begin + early; kb++) {
                prefetch_l2_bulk(p.qweight + ((int64_t)kb * p.tiles_n_all + w.n0 / W4A16_TILE_ROWS) *
                                                 W4A16_TILE_BYTES,
                                 (uint32_t)(rows / W4A16_TILE_ROWS) * W4A16_TILE_BYTES);
                const int64_t group = group_of(p, kb * kBlockK);
                prefetch_l2_bulk(p.scales + (group * p.n_padded + w.n0) * p.scale_bytes,
                                 (uint32_t)(rows * p.scale_bytes));
            }
        }
    }
    grid_dependency_wait();
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

// Dequantizes this part's k16 steps of block `kb` (stage s) into A fragments.
template <typename T, int kBM, class V>
__device__ __forceinline__ void load_fragments(const Sm90Params &p, const Smem<kBM> &sm, int s,
                                               int kb, const Lane &l,
                                               uint32_t (&frag)[Team<kBM>::kPartSteps][4]) {
    constexpr bool kScale16 = V::kScale16;
    constexpr int kN = Team<kBM>::kPartSteps;
    // Step j's 32-bit word of the lane's 16 bytes is word j (packed-layout.md).
    const uint32_t at = sm.weights_at(s) + l.tile * W4A16_TILE_BYTES + l.lane * 16;
    uint32_t words[kN];
    if constexpr (kN == 4) {
        const uint4 packed = ld_shared_u128(at);
        words[0] = packed.x, words[1] = packed.y, words[2] = packed.z, words[3] = packed.w;
    } else {
        static_assert(kN == 2, "two parts of two steps");
        const uint2 packed = ld_shared_u64(at + 4 * kN * l.part);
        words[0] = packed.x, words[1] = packed.y;
    }
    // G = 32: steps 0-1 are the first slot's group, 2-3 the second's; a part
    // of two steps needs one slot only. Else each step's group is computed.
    constexpr bool kStepPairs = V::kGroupCols == 32;
    constexpr bool kPartOneSlot = kStepPairs && kN == 2;
    constexpr int kLoadSlots = kPartOneSlot ? 1 : V::kSlots;
    constexpr int kLast = kLoadSlots - 1; // the slot of a k16 step in the second group
    const int first_group = V::kOneGroup || kStepPairs ? 0 : group_of(p, kb * kBlockK);
    FragmentZeros<T> zeros[kLoadSlots];
    uint32_t scale16[kLoadSlots][2];
    float scale32[kLoadSlots][2];
#pragma unroll
    for (int slot = 0; slot < kLoadSlots; slot++) {
        const int held = kPartOneSlot ? l.part : slot; // the stage's slot this one holds
        uint32_t z[2] = {W4A16_PAD_VALUE, W4A16_PAD_VALUE};
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int r = l.row + 8 * h;
            if (has_zeros<V>(p)) z[h] = ld_shared_u8(sm.zeros_at(s, held) + r);
            if (kScale16) {
                scale16[slot][h] = Pair16<T>::splat((uint16_t)ld_shared_u16(sm.scales_at(s, held) + 2 * r));
            } else {
                scale32[slot][h] = load_packed_scale(sm.scales(s, held), p.scale_kind, r);
            }
        }
        zeros[slot] = fragment_zeros<T>(z[0], z[1]);
    }
#pragma unroll
    for (int j = 0; j < kN; j++) {
        // Each k16 step lies inside one group (G is a multiple of 16). One
        // part: the step is known at compile time (no selects below).
        const int step = Team<kBM>::kParts == 1 ? j : kN * l.part + j;
        bool second = false;
        if constexpr (kStepPairs && !kPartOneSlot)
            second = step >= 2;
        else if constexpr (!V::kOneGroup && !kStepPairs)
            second = group_of(p, kb * kBlockK + 16 * step) != first_group;
        FragmentZeros<T> z = zeros[0]; // a select, not a run-time index (local memory)
        if (second) z = zeros[kLast];
        if (kScale16) {
            const uint32_t sc[2] = {second ? scale16[kLast][0] : scale16[0][0],
                                    second ? scale16[kLast][1] : scale16[0][1]};
            fragment_dequant16<T>(words[j], z, sc, frag[j]);
        } else {
            const float sc[2] = {second ? scale32[kLast][0] : scale32[0][0],
                                 second ? scale32[kLast][1] : scale32[0][1]};
            fragment_dequant32<T>(words[j], z, sc, frag[j]);
        }
    }
}

// This part's k16 steps of one block; `desc` points at the part's first step.
template <typename T, int kBM, int kN>
__device__ __forceinline__ void mma_block(float (&acc)[kBM / 2], const uint32_t (&frag)[kN][4],
                                          uint64_t desc) {
#pragma unroll
    for (int j = 0; j < kN; j++) {
        // One k16 step is 32 bytes along the 128-byte swizzled row.
        const uint64_t d = wgmma_desc_advance(desc, 32 * j);
        if constexpr (std::is_same<T, __half>::value)
            WgmmaRS<kBM>::mma_f16(acc, frag[j], d);
        else
            WgmmaRS<kBM>::mma_bf16(acc, frag[j], d);
    }
}

template <int N> __device__ __forceinline__ void hold_all(uint32_t (&frag)[N][4]) {
#pragma unroll
    for (int j = 0; j < N; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) wgmma_hold(frag[j][i]);
}

// Named barriers: 1 + half for a row half's epilogue (sm90_epilogue.cuh);
// the parts' exchange of row half h: free (part 0 has read the last pass)
// and full (part 1 has written this one).
constexpr int kExchangeFreeBarrier = 1 + kHalves;
constexpr int kExchangeFullBarrier = 1 + 2 * kHalves;

// The unit's end with two parts: part 1 hands its sums to part 0 through
// shared memory, in passes, and is done with the unit (returns false); part 0
// adds them and stores the tile (returns true). The same bits every run: the
// order of the addition is fixed.
template <int kBM>
__device__ __forceinline__ bool gather_parts(const Smem<kBM> &sm, const Lane &l,
                                             float (&acc)[kBM / 2]) {
    if constexpr (Team<kBM>::kParts == 1) {
        return true;
    } else {
        constexpr int kFloats = Team<kBM>::kExchangeFloats;
        const int thread = threadIdx.x % 128;
        float4 *slots = sm.exchange(l.half) + thread;
        const int free_id = kExchangeFreeBarrier + l.half, full_id = kExchangeFullBarrier + l.half;
#pragma unroll
        for (int pass = 0; pass < kBM / 2 / kFloats; pass++) {
            const int a0 = pass * kFloats;
            if (l.part == 1) {
                named_barrier_sync(free_id, 256);
#pragma unroll
                for (int q = 0; q < kFloats / 4; q++)
                    slots[q * 128] = make_float4(acc[a0 + 4 * q], acc[a0 + 4 * q + 1],
                                                 acc[a0 + 4 * q + 2], acc[a0 + 4 * q + 3]);
                named_barrier_arrive(full_id, 256);
            } else {
                named_barrier_arrive(free_id, 256);
                named_barrier_sync(full_id, 256);
#pragma unroll
                for (int q = 0; q < kFloats / 4; q++) {
                    const float4 v = slots[q * 128];
                    acc[a0 + 4 * q] += v.x;
                    acc[a0 + 4 * q + 1] += v.y;
                    acc[a0 + 4 * q + 2] += v.z;
                    acc[a0 + 4 * q + 3] += v.w;
                }
            }
        }
        return l.part == 0;
    }
}

template <typename T, int kBM, class V>
__device__ void consume(const Sm90Params &p, const Smem<kBM> &sm, int consumer,
                        const CUtensorMap *c_map) {
    constexpr int kStages = Stages<kBM>::kCount;
    constexpr int kN = Team<kBM>::kPartSteps;
    Lane l;
    const int warp = (threadIdx.x / 32) % 4;
    l.lane = threadIdx.x % 32;
    l.g = l.lane / 4;
    l.t = l.lane % 4;
    l.half = consumer % kHalves;
    l.part = consumer / kHalves;
    l.tile = 4 * l.half + warp;
    l.row = W4A16_TILE_ROWS * l.tile + l.g;
    // The part's first k16 step within a stage's 128-byte rows of A.
    const uint32_t a_part = 32u * kN * l.part;
    Ring<kStages> ring; // the next block to consume
    Walk walk = walk_begin(p);
    Unit w;
    while (walk_next(p, kBM, walk, w)) {
        const int blocks = w.kb_end - w.kb_begin;
        float acc[kBM / 2];
#pragma unroll
        for (int i = 0; i < kBM / 2; i++) acc[i] = 0.0f;
        uint32_t frag_a[kN][4], frag_b[kN][4];
        // Frees the stage of the block before the ring's current one.
        auto release_previous = [&]() {
            if (l.lane == 0) mbarrier_arrive_at(sm.empty_at(ring.s() == 0 ? kStages - 1 : ring.s() - 1));
        };
        // Block i is in `cur` (stage ring.s()): issue its wgmmas, wait for block
        // i - 1's, free that stage, and dequantize block i + 1 into `next`.
        auto step = [&](uint32_t (&cur)[kN][4], uint32_t (&next)[kN][4], int i) {
            wgmma_fence();
            mma_block<T, kBM, kN>(acc, cur, wgmma_desc_k_major_sw128_at(sm.a_at(ring.s()) + a_part));
            wgmma_commit();
            wgmma_wait<1>();
            hold_all(next); // block i - 1 read these until the wait above
            if (i > 0) release_previous();
            ring.advance();
            if (i + 1 < blocks) {
                mbarrier_wait_at(sm.full_at(ring.s()), ring.phase());
                load_fragments<T, kBM, V>(p, sm, ring.s(), w.kb_begin + i + 1, l, next);
            }
        };
        if (blocks > 0) {
            mbarrier_wait_at(sm.full_at(ring.s()), ring.phase());
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
        if (!gather_parts<kBM>(sm, l, acc)) continue;
        if ((w.slot >= 0 || p.splits > 1) && !finish_tile<kBM>(p, sm, w, l.half, acc)) continue;
        if (p.c_tma)
            store_unit_tma<T, kBM>(p, sm, w, l, l.half, acc, c_map);
        else
            store_unit<T, kBM>(p, w, l, acc);
    }
    // The shared memory must outlive the last store's reads.
    if (threadIdx.x % 128 == 0) bulk_wait_group_all();
}

template <typename T, int kBM, class V>
__global__ void __launch_bounds__(Team<kBM>::kThreads, Residency<kBM>::kCtas)
    sm90_prefill_kernel(const Sm90Params p, const __grid_constant__ CUtensorMap a_map,
                        const __grid_constant__ CUtensorMap c_map) {
    extern __shared__ uint8_t smem_raw[];
    Smem<kBM> sm;
    sm.base = smem_raw + ((1024 - (smem_address(smem_raw) & 1023)) & 1023);
    sm.base32 = smem_address(sm.base);
    constexpr int kStages = Stages<kBM>::kCount;
    // The next kernel in the stream, if launched programmatically, may start
    // as this grid's CTAs leave: it waits for this grid before its inputs.
    grid_dependency_launch_dependents();
    if (threadIdx.x == 0) {
        for (int s = 0; s < kStages; s++) {
            mbarrier_init(sm.full(s), 1);                  // the producer's expect_tx arrival
            mbarrier_init(sm.empty(s), Team<kBM>::kConsumers * 4); // one arrival per consumer warp
        }
        fence_barrier_init();
    }
    __syncthreads();
    // Broadcast from lane 0 so that the compiler knows it is the same across
    // the warp: the consumers' branch is then uniform, and their loop keeps
    // its stage arithmetic and wgmma descriptors in uniform registers.
    const int warpgroup = __shfl_sync(0xffffffffu, threadIdx.x / 128, 0);
    if (warpgroup == 0) {
        warpgroup_registers_lower<Residency<kBM>::kProducerRegisters>();
        if (threadIdx.x == 0) produce<kBM, V>(p, &a_map, sm);
    } else {
        warpgroup_registers_raise<Residency<kBM>::kConsumerRegisters>();
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
        // All of the SM's on-chip memory as shared memory, so that two CTAs fit.
        if (e == cudaSuccess)
            e = cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                     cudaSharedmemCarveoutMaxShared);
        if (e != cudaSuccess) return e;
        attribute_set = true;
    }
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3((unsigned)grid, 1, 1);
    config.blockDim = dim3(Team<kBM>::kThreads, 1, 1);
    config.dynamicSmemBytes = Stages<kBM>::kLaunchBytes;
    config.stream = stream;
    cudaLaunchAttribute pdl[1];
    pdl[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    pdl[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = pdl;
    config.numAttrs = p.pdl ? 1 : 0;
    const cudaError_t e = cudaLaunchKernelEx(&config, kernel, p, a_map, c_map);
    return e != cudaSuccess ? e : cudaGetLastError();
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

} // namespace w4a16_sm90

#endif
