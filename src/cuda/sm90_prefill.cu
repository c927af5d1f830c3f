// The Hopper GEMM (sm_90a): C = A · Wᵀ computed as Cᵀ = W · Aᵀ, so that the
// 4-bit weights, dequantized in registers, are wgmma's register-sourced A
// operand (m64, straight from packed layout v1's lane fragments) and the
// activations, copied by TMA into shared memory, are its B operand: the token
// count is wgmma's N (32, 64, then 128 to 256 in steps of 32), one kernel family
// for mid-size M and prefill; the in-between widths fit a call's tiles to the
// SMs (o_proj at M = 1024: 120 tiles of 192 tokens instead of 80 of 256).
//
// A CTA is a producer warpgroup whose one thread issues the copies of each
// 64-wide k-block (A's box through a tensor map, the weight tiles, scales
// and zeros as contiguous bulk copies) into a ring of stages guarded by
// full/empty mbarriers, and two consumer warpgroups, each owning 64 weight
// rows of the CTA's 128, that dequantize block i+1 while the wgmmas of block
// i run. (A tile width may instead give each row half two consumer
// warpgroups on two k16 steps each: sm90_layout.cuh, Team; off since v9
// measured it slower.)
// The grid is persistent: CTA c takes units c, c + grid, ...; a unit is one
// (128-row, BM-token) tile, or one K-range of it when K is split. Or
// stream-K: CTA c takes an equal share of all tiles' k-blocks. A tile made of
// parts (K-ranges, or shares cut at a share's end) is finished by the
// warpgroup that brings its last part, which sums them from the workspace in
// a fixed order (finish_parts): one launch, the same bits every run, nothing
// to reset between calls.
//
// Numerics: W = (q - z) * s with (q - z) exact in 16 bits and one rounding of
// the product (in 16 bits when the scales have the activations' dtype, else in
// fp32): the weight cuBLAS would see rounded to the activations' dtype. fp32
// accumulation; bias added in fp32; one rounding of the output.
//
// Napkin math (128 x 256 tile, one k-block): 4 wgmma m64n256k16 per consumer,
// ~1,000 cycles of tensor work for the CTA, against ~60 instructions a
// consumer thread to dequantize its 32 weights.
//
// This file is the host entry (the tensor maps, the parameters, the weight's
// variant); the device code is in sm90_kernel.cuh, compiled per variant in
// sm90_variant_*.cu, its parts in sm90_layout.cuh, sm90_schedule.cuh and
// sm90_epilogue.cuh.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/kernels.h"
#include "cuda/packed_scales.cuh"
#include "cuda/sm90_layout.cuh"
#include "gpu/tensor_map.h"
#include "packed/packed_layout.h"

namespace w4a16_sm90 {

// Defined in sm90_kernel.cuh, instantiated in sm90_variant_*.cu.
template <typename T, class V>
cudaError_t launch_width(const Sm90Params &p, const CUtensorMap &a_map, const CUtensorMap &c_map,
                         int bm, int grid, cudaStream_t stream);

// The variant for the weight: the common cases (16-bit scales, groups a
// multiple of 64 or per-channel, and G = 32, each with or without zeros)
// compiled on their own; the rest decided in the kernel.
template <typename T>
cudaError_t launch_variant(const Sm90Params &p, const w4a16_weight *w, const CUtensorMap &a_map,
                           const CUtensorMap &c_map, int bm, int grid, cudaStream_t stream) {
    const bool scale16 = w->scales_dtype == w->act_dtype;
    const bool one_group = w->group_size < 0 || w->group_size % kBlockK == 0;
    if (!scale16) return launch_width<T, Variant<false, false, -1>>(p, a_map, c_map, bm, grid, stream);
    if (!one_group && w->group_size == 32 && w->zeros != nullptr)
        return launch_width<T, Variant<true, false, 1, 32>>(p, a_map, c_map, bm, grid, stream);
    if (!one_group && w->group_size == 32)
        return launch_width<T, Variant<true, false, 0, 32>>(p, a_map, c_map, bm, grid, stream);
    if (!one_group) return launch_width<T, Variant<true, false, -1>>(p, a_map, c_map, bm, grid, stream);
    if (w->zeros != nullptr)
        return launch_width<T, Variant<true, true, 1>>(p, a_map, c_map, bm, grid, stream);
    return launch_width<T, Variant<true, true, 0>>(p, a_map, c_map, bm, grid, stream);
}

} // namespace w4a16_sm90

using namespace w4a16_sm90;

extern "C" cudaError_t w4a16_launch_sm90_prefill(const w4a16_sm90_args *a, cudaStream_t stream) {
    const w4a16_weight *w = a->w;
    CUtensorMap a_map, c_map;
    cudaError_t e = w4a16_sm90_encode_tile_map(&a_map, a->A, w->act_dtype, w->k, a->M, a->lda,
                                                a->block_m);
    if (e != cudaSuccess) return e;
    // C through TMA stores when its rows are 16-byte aligned and N is a
    // multiple of 8: the copy engine clips a store at the tensor's end in
    // 16-byte steps (measured: N = 13 wrote columns 13-15), so a row's end
    // must fall on one. Else plain stores.
    const bool split = a->splits > 1 && !a->streamk;
    const int c_tma = (uintptr_t)a->C % 16 == 0 && a->ldc % 8 == 0 && w->n % 8 == 0;
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
    p.c_tma = c_tma;
    p.streamk = a->streamk;
    p.parts = split || a->streamk ? a->partials : nullptr;
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
    p.dp_tiles = a->streamk ? a->dp_tiles : 0;
    p.total_blocks = ((int64_t)p.n_tiles * p.m_tiles - p.dp_tiles) * p.k_blocks;
    p.pdl = a->pdl;
    const int grid = a->grid;
    if (w->act_dtype == W4A16_BF16) return launch_variant<__nv_bfloat16>(p, w, a_map, c_map, a->block_m, grid, stream);
    return launch_variant<__half>(p, w, a_map, c_map, a->block_m, grid, stream);
}
