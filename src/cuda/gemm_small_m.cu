// The decode kernel, v2 (sm_80+; `decode_v2`): C[M, n] = A[M, k] · Wᵀ for
// M <= 16, reading each packed weight byte once (docs/packed-layout.md).
// Hopper runs v3 (sm90_decode.cu); this one stays for GPUs before Hopper and
// for A/B runs (W4A16_KERNEL=decode_v2). mma.sync m16n8k16 with W as the A
// operand (one packed 16 x 64 tile = one 16-byte load per lane = four k16
// steps) and the tokens as the n8 side (two n8 blocks when M > 8).
//
// W is dequantized exactly to (q - z) in 16 bits (OR into 1024 + q / 128 + q,
// subtract 1024 + z / 128 + z); the scale is applied in fp32 on a per-group
// accumulator when the group changes, so W is never rounded.
//
// A CTA owns one 16-row tile and splits K across its warps; their fp32
// fragments meet in shared memory and warp 0 sums them in warp order
// (deterministic, no atomics, no workspace).
//
// Napkin math: gate_up (19456 x 2560) is 24.9 MB of qweight + 0.8 MB of
// scales and zeros: ~10 us at 2.5 TB/s. cuBLAS fp16 reads 99.6 MB.
// Measured (H100, bench/NOTES.md "v2"): 31 us, 0.8 TB/s: latency-bound at
// 25% occupancy (registers), not yet bandwidth-bound.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/kernels.h"
#include "cuda/packed_scales.cuh"
#include "cuda/ptx/global_load.cuh"
#include "cuda/ptx/mma_sync.cuh"
#include "packed/packed_layout.h"

namespace {

// 8 warps of <= 128 registers: two CTAs per SM, so N = 2560 (160 tiles) is
// one wave on 132 SMs.
constexpr int kMaxWarps = 8;
// k-tiles per warp whose loads are in flight together: 4 x 16 bytes of W per
// lane at M <= 8; 2 at M <= 16, whose A fragments take twice the registers.
template <int kBlocks> struct Batch { static constexpr int value = kBlocks == 1 ? 4 : 2; };

struct DecodeParams {
    const uint4 *qweight;  // tiles [k_padded / 64][n_padded / 16] of 32 lanes x 16 bytes
    const void *scales;    // [groups_padded][n_padded]
    const uint8_t *zeros;  // same, or nullptr: z = 8
    int scale_kind;
    const uint16_t *A;     // [M][lda]
    int64_t lda;
    const int32_t *perm;   // act-order: packed column j is A's column perm[j]; or nullptr
    const uint16_t *bias;  // [n] or nullptr
    uint16_t *C;           // [M][ldc]
    int64_t ldc;
    int M, n, k, n_padded, tiles_n_all, tiles_k;
    int group_cols;        // G; per-channel: 2^30 (every column in group 0)
    uint32_t group_magic;  // column / G == umulhi(column, group_magic) for column < 2^32 / G
};

template <typename T> struct Act;
template <> struct Act<__half> {
    static constexpr uint32_t kMagic = 0x6400; // 1024.0: 1024 + q for q < 1024
    static __device__ float to_float(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }
    static __device__ uint16_t from_float(float x) { return __half_as_ushort(__float2half_rn(x)); }
    static __device__ uint32_t sub(uint32_t a, uint32_t b) {
        __half2 r = __hsub2(*reinterpret_cast<__half2 *>(&a), *reinterpret_cast<__half2 *>(&b));
        return *reinterpret_cast<uint32_t *>(&r);
    }
};
template <> struct Act<__nv_bfloat16> {
    static constexpr uint32_t kMagic = 0x4300; // 128.0: 128 + q for q < 128
    static __device__ float to_float(uint16_t bits) {
        return __bfloat162float(__ushort_as_bfloat16(bits));
    }
    static __device__ uint16_t from_float(float x) {
        return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    }
    static __device__ uint32_t sub(uint32_t a, uint32_t b) {
        __nv_bfloat162 r = __hsub2(*reinterpret_cast<__nv_bfloat162 *>(&a),
                                   *reinterpret_cast<__nv_bfloat162 *>(&b));
        return *reinterpret_cast<uint32_t *>(&r);
    }
};

__device__ __forceinline__ float load_scale(const DecodeParams &p, int64_t i) {
    return load_packed_scale(p.scales, p.scale_kind, i);
}

// One group's scales of the lane's rows (g, g + 8) and their biased zeros as
// 16-bit pairs (magic + z, magic + z), ready to subtract from magic + q.
struct GroupData {
    float scale[2];
    uint32_t zero_pair[2];
};

template <typename T>
__device__ __forceinline__ GroupData load_group(const DecodeParams &p, int row0, int group) {
    GroupData d;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int64_t i = w4a16_packed_group_index(row0 + 8 * h, group, p.n_padded);
        d.scale[h] = load_scale(p, i);
        const uint32_t z = p.zeros != nullptr ? __ldg(p.zeros + i) : (uint32_t)W4A16_PAD_VALUE;
        d.zero_pair[h] = (Act<T>::kMagic | z) * 0x00010001u;
    }
    return d;
}

__device__ __forceinline__ int group_of(const DecodeParams &p, int column) {
    return (int)__umulhi((uint32_t)column, p.group_magic);
}

// Two 16-bit values of row m of A at (packed) columns c, c + 1; 0 past k.
// kGather: through perm (act-order), or A not 4-byte aligned / lda odd.
template <bool kGather>
__device__ __forceinline__ uint32_t load_pair(const DecodeParams &p, const uint16_t *row, int c) {
    if (!kGather) {
        if (c + 1 < p.k) return __ldg(reinterpret_cast<const uint32_t *>(row + c));
        return c < p.k ? (uint32_t)__ldg(row + c) : 0u;
    }
    uint32_t lo = 0, hi = 0;
    if (c < p.k) lo = __ldg(row + (p.perm != nullptr ? __ldg(p.perm + c) : c));
    if (c + 1 < p.k) hi = __ldg(row + (p.perm != nullptr ? __ldg(p.perm + c + 1) : c + 1));
    return lo | hi << 16;
}

// kBlocks n8 token blocks (1: M <= 8, 2: M <= 16). kTwoGroups: a k-tile may
// span two groups (G a multiple of 16 but not of 64); else one per tile.
template <typename T, int kBlocks, bool kTwoGroups, bool kGather>
__global__ void __launch_bounds__(kMaxWarps * 32, 2) decode_kernel(const DecodeParams p) {
    constexpr int kBatch = Batch<kBlocks>::value;
    __shared__ float partial[kMaxWarps][kBlocks * 4][32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const int g = lane / 4, t = lane % 4;
    const int tile_n = blockIdx.x;
    const int row0 = W4A16_TILE_ROWS * tile_n + g;
    const int kt_begin = (int)((int64_t)p.tiles_k * warp / warps);
    const int kt_end = (int)((int64_t)p.tiles_k * (warp + 1) / warps);

    // This lane's token rows of A (one per n8 block), or nullptr past M.
    const uint16_t *a_row[kBlocks];
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
        a_row[b] = g + 8 * b < p.M ? p.A + (int64_t)(g + 8 * b) * p.lda : nullptr;

    float total[kBlocks][4], acc[kBlocks][4];
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
#pragma unroll
        for (int i = 0; i < 4; i++) total[b][i] = acc[b][i] = 0.0f;
    int cur_group = -1;
    float cur_scale[2] = {0.0f, 0.0f};

    for (int kt0 = kt_begin; kt0 < kt_end; kt0 += kBatch) {
        uint4 wq[kBatch];
        uint32_t bf[kBatch][4][kBlocks][2];
        GroupData gd[kBatch][kTwoGroups ? 2 : 1];
        // Issue every load of the batch before the first use.
#pragma unroll
        for (int i = 0; i < kBatch; i++) {
            const int kt = kt0 + i;
            if (kt < kt_end) {
                wq[i] = load_streamed_16(p.qweight + ((int64_t)kt * p.tiles_n_all + tile_n) *
                                                     W4A16_TILE_LANES + lane);
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int b = 0; b < kBlocks; b++) {
                        const int c = W4A16_TILE_COLS * kt + 16 * j + 2 * t;
                        bf[i][j][b][0] = a_row[b] != nullptr ? load_pair<kGather>(p, a_row[b], c) : 0u;
                        bf[i][j][b][1] = a_row[b] != nullptr ? load_pair<kGather>(p, a_row[b], c + 8) : 0u;
                    }
                gd[i][0] = load_group<T>(p, row0, group_of(p, W4A16_TILE_COLS * kt));
                if (kTwoGroups)
                    gd[i][kTwoGroups ? 1 : 0] =
                        load_group<T>(p, row0, group_of(p, W4A16_TILE_COLS * kt + 48));
            }
        }
#pragma unroll
        for (int i = 0; i < kBatch; i++) {
            const int kt = kt0 + i;
            if (kt >= kt_end) break;
            const uint32_t words[4] = {wq[i].x, wq[i].y, wq[i].z, wq[i].w};
            const int first_group = group_of(p, W4A16_TILE_COLS * kt);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int group = kTwoGroups ? group_of(p, W4A16_TILE_COLS * kt + 16 * j) : first_group;
                GroupData d = gd[i][0]; // a select, not a run-time index (local memory)
                if (kTwoGroups && group != first_group) d = gd[i][kTwoGroups ? 1 : 0];
                if (group != cur_group) {
                    // The group ends: its sum, scaled in fp32, joins the total.
#pragma unroll
                    for (int b = 0; b < kBlocks; b++)
#pragma unroll
                        for (int r = 0; r < 4; r++) {
                            total[b][r] = fmaf(acc[b][r], cur_scale[r / 2], total[b][r]);
                            acc[b][r] = 0.0f;
                        }
                    cur_group = group;
                    cur_scale[0] = d.scale[0];
                    cur_scale[1] = d.scale[1];
                }
                // Pair q of the word: register q of the A fragment (rows g, g+8, g, g+8).
                uint32_t a[4];
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const uint32_t biased = ((words[j] >> (4 * q)) & 0x000f000fu) |
                                            (Act<T>::kMagic * 0x00010001u);
                    a[q] = Act<T>::sub(biased, d.zero_pair[q % 2]);
                }
#pragma unroll
                for (int b = 0; b < kBlocks; b++)
                    MmaSync<T>::run(acc[b], a, bf[i][j][b][0], bf[i][j][b][1]);
            }
        }
    }
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            total[b][r] = fmaf(acc[b][r], cur_scale[r / 2], total[b][r]);
            partial[warp][4 * b + r][lane] = total[b][r];
        }
    __syncthreads();
    if (warp != 0) return;
    // Warp 0: the fixed-order sum, bias in fp32, one rounding, only real rows and tokens.
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            float sum = partial[0][4 * b + r][lane];
            for (int w = 1; w < warps; w++) sum += partial[w][4 * b + r][lane];
            const int n = row0 + 8 * (r / 2), m = 8 * b + 2 * t + r % 2;
            if (n >= p.n || m >= p.M) continue;
            if (p.bias != nullptr) sum += Act<T>::to_float(p.bias[n]);
            p.C[(int64_t)m * p.ldc + n] = Act<T>::from_float(sum);
        }
}

template <typename T, int kBlocks, bool kTwoGroups>
void launch_as(const DecodeParams &p, bool gather, unsigned blocks, unsigned threads,
               cudaStream_t stream) {
    if (gather)
        decode_kernel<T, kBlocks, kTwoGroups, true><<<blocks, threads, 0, stream>>>(p);
    else
        decode_kernel<T, kBlocks, kTwoGroups, false><<<blocks, threads, 0, stream>>>(p);
}

template <typename T>
void launch_dtype(const DecodeParams &p, bool two_groups, bool gather, unsigned blocks,
                  unsigned threads, cudaStream_t stream) {
    if (p.M <= 8) {
        if (two_groups) launch_as<T, 1, true>(p, gather, blocks, threads, stream);
        else launch_as<T, 1, false>(p, gather, blocks, threads, stream);
    } else {
        if (two_groups) launch_as<T, 2, true>(p, gather, blocks, threads, stream);
        else launch_as<T, 2, false>(p, gather, blocks, threads, stream);
    }
}

} // namespace

extern "C" cudaError_t w4a16_launch_decode_v2(const w4a16_weight *w, const void *A, int64_t lda,
                                              void *C, int64_t ldc, int64_t M,
                                              const void *bias, cudaStream_t stream) {
    DecodeParams p;
    p.qweight = static_cast<const uint4 *>(w->qweight);
    p.scales = w->scales;
    p.zeros = w->zeros;
    p.scale_kind = scale_kind_of(w->scales_dtype);
    p.A = static_cast<const uint16_t *>(A);
    p.lda = lda;
    p.perm = w->perm;
    p.bias = static_cast<const uint16_t *>(bias);
    p.C = static_cast<uint16_t *>(C);
    p.ldc = ldc;
    p.M = (int)M;
    p.n = (int)w->n;
    p.k = (int)w->k;
    p.n_padded = (int)w->n_padded;
    p.tiles_n_all = (int)(w->n_padded / W4A16_TILE_ROWS);
    p.tiles_k = (int)(w->k_padded / W4A16_TILE_COLS);
    p.group_cols = w->group_size < 0 ? (1 << 30) : (int)w->group_size;
    p.group_magic = (uint32_t)(0xffffffffu / (uint32_t)p.group_cols + 1u);
    const bool two_groups = p.group_cols % W4A16_TILE_COLS != 0;
    const bool gather = w->perm != nullptr || (uintptr_t)A % 4 != 0 || lda % 2 != 0;
    // Enough warps that each has about one batch of k-tiles; at most kMaxWarps.
    const int batch = p.M <= 8 ? Batch<1>::value : Batch<2>::value;
    int warps = (p.tiles_k + batch - 1) / batch;
    warps = warps < 1 ? 1 : warps > kMaxWarps ? kMaxWarps : warps;
    const unsigned blocks = (unsigned)((w->n + W4A16_TILE_ROWS - 1) / W4A16_TILE_ROWS);
    if (w->act_dtype == W4A16_BF16)
        launch_dtype<__nv_bfloat16>(p, two_groups, gather, blocks, 32u * warps, stream);
    else
        launch_dtype<__half>(p, two_groups, gather, blocks, 32u * warps, stream);
    return cudaGetLastError();
}
