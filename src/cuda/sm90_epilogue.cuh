// sm90_prefill's epilogue: a unit's accumulators to C (through shared memory
// and a TMA store, or plain stores), summed first with the other parts of
// its tile when K is split or shared out (stream-K). Private to
// sm90_prefill.cu.
#ifndef W4A16_CUDA_SM90_EPILOGUE_CUH
#define W4A16_CUDA_SM90_EPILOGUE_CUH

#include <cuda.h>
#include <stdint.h>

#include "cuda/fragment_dequant.cuh"
#include "cuda/ptx/bulk_copy.cuh"
#include "cuda/ptx/named_barrier.cuh"
#include "cuda/ptx/stmatrix.cuh"
#include "cuda/sm90_layout.cuh"
#include "cuda/sm90_schedule.cuh"

namespace w4a16_sm90 {

// The unit's tile out through shared memory and a TMA store (C 16-byte
// aligned): each 8 x 8 block of accumulators (rows of W x tokens) goes
// transposed by stmatrix into the row half's 128-byte-swizzled buffer of
// [tokens][64 rows], which one thread then stores as a box of C; the store
// runs while the consumers go on to the next unit. Rows past n and tokens
// past M fall outside the tensor map and are not written.
template <typename T, int kBM>
__device__ __forceinline__ void store_unit_tma(const Sm90Params &p, const Smem<kBM> &sm,
                                               const Unit &w, const Lane &l, int half,
                                               const float (&acc)[kBM / 2],
                                               const CUtensorMap *c_map) {
    constexpr int kPass = Stages<kBM>::kOutTokens;
    const int thread = threadIdx.x % 128, warp = thread / 32;
    const int n = w.n0 + l.row;
    float bias[2] = {0.0f, 0.0f};
#pragma unroll
    for (int h = 0; h < 2; h++)
        if (p.bias != nullptr && n + 8 * h < p.n) bias[h] = Pair16<T>::value_of(p.bias[n + 8 * h]);
    uint8_t *buffer = sm.out(half);
    // This lane addresses row j of matrix i of each stmatrix: token 8 (c + i / 2) + j
    // of the pass, rows 16 warp + 8 (i % 2) .. + 7, the 16-byte chunk 2 warp + i % 2
    // of the token's 128-byte row, swizzled by the token's row in its 8-row atom.
    const int i = l.lane / 8, j = l.lane % 8;
    const uint32_t lane_address =
        smem_address(buffer) + (8 * (i / 2) + j) * 128 + (((2 * warp + i % 2) ^ j) << 4);
#pragma unroll
    for (int pass = 0; pass < kBM / kPass; pass++) {
        if (thread == 0) bulk_wait_group_read_all(); // the last store has read the buffer
        named_barrier_sync(1 + half, 128);
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
        named_barrier_sync(1 + half, 128);
        if (thread == 0) {
            store_tensor_2d(c_map, w.n0 + 64 * half, w.m0 + pass * kPass, buffer);
            bulk_commit_group();
        }
    }
}

// The unit's accumulators out: rows g, g + 8 of the warp; tokens 8c + 2t (+1).
template <typename T, int kBM>
__device__ __forceinline__ void store_unit(const Sm90Params &p, const Unit &w, const Lane &l,
                                           const float (&acc)[kBM / 2]) {
    const int n = w.n0 + l.row, m = w.m0 + 2 * l.t;
    const bool row_ok[2] = {n < p.n, n + 8 < p.n};
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

// A tile computed in parts (split K's K-ranges, stream-K's shares): this
// part goes to its slot of the workspace; the row half's warpgroup that
// brings the tile's last part sums every part in part order (the same bits
// whoever is last) into acc, resets the tile's counter for the next launch
// and returns true: it then stores the tile. `slot_of(i)` is part i's slot,
// i < parts. Slots are in register order, so each thread moves float4s:
// [kBM / 8][128 threads][4].
template <int kBM, class SlotOf>
__device__ __forceinline__ bool finish_parts(const Sm90Params &p, const Smem<kBM> &sm, int tile,
                                             int half, int my_slot, int parts, SlotOf slot_of,
                                             float (&acc)[kBM / 2]) {
    constexpr int kSlotFloats = 64 * kBM; // one row half's 64 rows x kBM tokens
    const int thread = threadIdx.x % 128;
    float4 *mine = reinterpret_cast<float4 *>(
        p.parts + ((int64_t)my_slot * kHalves + half) * kSlotFloats);
#pragma unroll
    for (int q = 0; q < kBM / 8; q++)
        __stcg(mine + q * 128 + thread,
               make_float4(acc[4 * q], acc[4 * q + 1], acc[4 * q + 2], acc[4 * q + 3]));
    __threadfence();
    named_barrier_sync(1 + half, 128);
    if (thread == 0) {
        int32_t *counter = p.counters + 2 * tile + half;
        const int arrived = atomicAdd(counter, 1);
        const int last = arrived == parts - 1;
        if (last) *counter = 0; // every part has arrived: nothing else touches it this launch
        *sm.last_flag(half) = last;
    }
    named_barrier_sync(1 + half, 128);
    if (!*sm.last_flag(half)) return false;
    __threadfence();
#pragma unroll
    for (int i = 0; i < kBM / 2; i++) acc[i] = 0.0f;
    // In passes over the parts where two CTAs share the registers: fewer
    // loads in flight at once, no spills.
    constexpr int kPasses = Residency<kBM>::kCtas == 2 ? 2 : 1;
    constexpr int kPerPass = kBM / 8 / kPasses;
#pragma unroll
    for (int pass = 0; pass < kPasses; pass++) {
        for (int i = 0; i < parts; i++) {
            const float4 *part = reinterpret_cast<const float4 *>(
                p.parts + ((int64_t)slot_of(i) * kHalves + half) * kSlotFloats);
#pragma unroll
            for (int q = pass * kPerPass; q < (pass + 1) * kPerPass; q++) {
                const float4 v = __ldcg(part + q * 128 + thread);
                acc[4 * q] += v.x;
                acc[4 * q + 1] += v.y;
                acc[4 * q + 2] += v.z;
                acc[4 * q + 3] += v.w;
            }
        }
    }
    return true;
}

// The parts of the unit's tile. Split K: K-range s of tile t in slot
// t x splits + s. Stream-K: the shares of CTAs first_cta .. last_cta, each
// in the slot of its first tile (0) or its last (1).
template <int kBM>
__device__ __forceinline__ bool finish_tile(const Sm90Params &p, const Smem<kBM> &sm,
                                            const Unit &w, int half, float (&acc)[kBM / 2]) {
    if (!p.streamk) {
        const int first = w.tile * p.splits;
        auto slot_of = [&](int i) { return first + i; };
        return finish_parts<kBM>(p, sm, w.tile, half, first + w.split, p.splits, slot_of, acc);
    }
    const int64_t first_block = (int64_t)(w.tile - p.dp_tiles) * p.k_blocks;
    const int first_cta = share_owner(p, first_block);
    const int last_cta = share_owner(p, first_block + p.k_blocks - 1);
    auto slot_of = [&](int i) {
        const int c = first_cta + i;
        const int first_tile_of_c = p.dp_tiles + (int)(share_start(p, c) / p.k_blocks);
        return 2 * c + (w.tile == first_tile_of_c ? 0 : 1);
    };
    return finish_parts<kBM>(p, sm, w.tile, half, w.slot, last_cta - first_cta + 1, slot_of, acc);
}

} // namespace w4a16_sm90

#endif
