// The decode kernel, v3 (sm_90a): C[M, n] = A[M, k] · Wᵀ (+ bias) for
// M <= 16, streaming each packed weight byte once (docs/packed-layout.md) with
// as many 16-byte loads in flight as the memory needs (bench/NOTES.md "v3").
//
// A CTA is 8 warps on 8 neighbouring n-tiles (16 rows each) and one K-range.
// Each warp keeps a ring of 8 weight tiles in registers (one 16-byte load per
// lane per tile), so ~64 KB per SM are in flight at 16 warps per SM. Before
// the first tile is used, the CTA stages in shared memory, once, what every
// warp reads: its K-range of A (compact rows, read back with ldmatrix as the
// B fragments of mma.sync m16n8k16, tokens as the n8 side) and its rows'
// scales and zeros for the groups that range touches.
//
// Where N alone cannot fill the GPU, K is split over a cluster of up to 8
// CTAs (same n-tiles, one K-range each; blockIdx.x is the cluster rank). Each
// leaves its fp32 sums in its own shared memory; after a cluster barrier the
// sums of a tile are added in rank order over distributed shared memory:
// deterministic, one launch, no workspace, nothing to reset between calls.
// src/kernel_plan/decode_plan.c chooses the split and lays out the memory.
//
// Numerics (docs/DESIGN.md §1): W is dequantized exactly to (q - z) in 16 bits
// (fragment_dequant.cuh); the scale is applied in fp32 on a per-group
// accumulator when the group changes, so W is never rounded; bias in fp32, one
// rounding of the output.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/fragment_dequant.cuh"
#include "cuda/kernels.h"
#include "cuda/packed_scales.cuh"
#include "cuda/ptx/async_copy.cuh"
#include "cuda/ptx/cluster.cuh"
#include "cuda/ptx/global_load.cuh"
#include "cuda/ptx/grid_dependency.cuh"
#include "cuda/ptx/ldmatrix.cuh"
#include "cuda/ptx/mbarrier.cuh"
#include "cuda/ptx/mma_sync.cuh"
#include "kernel_plan/decode_plan.h"
#include "packed/packed_layout.h"

namespace {

constexpr int kWarps = W4A16_DECODE_WARPS;
constexpr int kThreads = 32 * kWarps;
constexpr int kRows = W4A16_DECODE_ROWS;       // weight rows per CTA; scale rows in shared memory
constexpr int kDepth = W4A16_DECODE_DEPTH;     // the ring: weight tiles in flight per warp
constexpr int kGatherBatch = 32;               // element loads in flight per thread (gathered A)
constexpr int kTileBytesA = W4A16_TILE_COLS * 2; // one row of A per k-tile

static_assert(kRows == kWarps * W4A16_TILE_ROWS, "one n-tile per warp");
static_assert(kRows <= 128, "prefetch_groups: a group's scales in at most 4 lines, zeros in 1");
static_assert(W4A16_DECODE_CTAS_BY_REGISTERS * kThreads * 128 <= 65536,
              "the register bound the plan assumes");

struct DecodeParams {
    const uint4 *qweight;   // tiles [tiles_k][tiles_n] of 32 lanes x 16 bytes
    const uint8_t *scales;  // [groups_padded][n_padded] of scale_bytes
    const uint8_t *zeros;   // same, u8; nullptr: z = 8
    int scale_kind, scale_bytes;
    const uint16_t *A;      // [M][lda]
    int64_t lda;
    const int32_t *perm;    // act-order: packed column j is A's column perm[j]; or nullptr
    const uint16_t *bias;   // [n] or nullptr
    uint16_t *C;            // [M][ldc]
    int64_t ldc;
    int M, n, k, n_padded, tiles_n, tiles_k, splits;
    uint32_t group_magic;   // column / G == umulhi(column, group_magic); per-channel: 0
    int a_pitch, scale_offset, zero_offset, perm_offset; // shared memory (decode_plan.h)
    int a_async;            // A 16-byte aligned, lda % 8 == 0, no perm: 16-byte async copies
};

__device__ __forceinline__ int group_of(const DecodeParams &p, int column) {
    return (int)__umulhi((uint32_t)column, p.group_magic);
}

// A's columns [col0, col0 + 8 * chunks) of every token, 16 bytes at a time,
// zeros past k (A's rows are 16-byte aligned).
__device__ void stage_a_async(const DecodeParams &p, uint8_t *smem, int col0, int chunks) {
    for (int m = 0; m < p.M; m++) {
        const uint16_t *row = p.A + (int64_t)m * p.lda;
        for (int c = threadIdx.x; c < chunks; c += kThreads) {
            const int col = col0 + 8 * c, left = p.k - col;
            const uint32_t bytes = left >= 8 ? 16u : left > 0 ? 2u * left : 0u;
            async_copy_16(smem + m * p.a_pitch + 16 * c, bytes > 0 ? row + col : p.A, bytes);
        }
    }
}

// Pulls act-order's perm for those columns into L2, one 128-byte line a
// thread: it is part of the weight, so this may run before the wait for the
// kernel before (a prefetch cannot see a stale value; a load could).
__device__ void prefetch_perm(const DecodeParams &p, int col0, int cols) {
    const int lines = (cols + 31) / 32;
    for (int i = threadIdx.x; i < lines; i += kThreads)
        if (col0 + 32 * i < p.k) prefetch_l2(p.perm + col0 + 32 * i);
}

// Pulls the scales (and zeros) that stage_groups copies into L2, one 128-byte
// line a thread, before the wait for the kernel before (weight, like perm):
// staging then waits on L2, not on DRAM behind the weight stream.
__device__ void prefetch_groups(const DecodeParams &p, int row0, int first_group, int groups) {
    const int rows = p.n_padded - row0 < kRows ? p.n_padded - row0 : kRows;
    const int scale_bytes = rows * p.scale_bytes; // a group's: at most 4 lines (fp32 scales)
    const int c = threadIdx.x % 4;
    for (int g = threadIdx.x / 4; g < groups; g += kThreads / 4)
        if (128 * c < scale_bytes)
            prefetch_l2(p.scales + ((int64_t)(first_group + g) * p.n_padded + row0) * p.scale_bytes +
                        128 * c);
    if (p.zeros == nullptr) return;
    for (int g = threadIdx.x; g < groups; g += kThreads) // a group's zeros: one line
        prefetch_l2(p.zeros + (int64_t)(first_group + g) * p.n_padded + row0);
}

// act-order's perm for the same columns (0 past k), for the gather below.
__device__ void stage_perm(const DecodeParams &p, uint8_t *smem, int col0, int cols) {
    int32_t *perm = reinterpret_cast<int32_t *>(smem + p.perm_offset);
    for (int c = threadIdx.x; c < cols; c += kThreads) {
        const bool inside = col0 + c < p.k;
        async_copy_4(perm + c, inside ? p.perm + col0 + c : p.perm, inside ? 4u : 0u);
    }
}

// The same columns of A element by element: through perm (act-order), or A
// not 16-byte aligned. Element e = m * cols + c of the CTA's rows; a thread
// takes every kThreads-th, kGatherBatch loads in flight before their stores
// (A is in L2: each batch costs one L2 round trip).
__device__ void stage_a_gather(const DecodeParams &p, uint8_t *smem, int col0, int cols) {
    const int32_t *perm = p.perm != nullptr ? reinterpret_cast<const int32_t *>(smem + p.perm_offset)
                                            : nullptr;
    int m = 0, c = threadIdx.x;
    while (c >= cols) c -= cols, m++;
    while (m < p.M) {
        const int batch_m = m, batch_c = c;
        uint16_t value[kGatherBatch];
#pragma unroll
        for (int u = 0; u < kGatherBatch; u++) {
            const int col = col0 + c;
            value[u] = 0;
            if (m < p.M && col < p.k)
                value[u] = __ldg(p.A + (int64_t)m * p.lda + (perm != nullptr ? perm[c] : col));
            c += kThreads;
            while (c >= cols) c -= cols, m++;
        }
        m = batch_m;
        c = batch_c;
#pragma unroll
        for (int u = 0; u < kGatherBatch; u++) {
            if (m < p.M) *reinterpret_cast<uint16_t *>(smem + m * p.a_pitch + 2 * c) = value[u];
            c += kThreads;
            while (c >= cols) c -= cols, m++;
        }
    }
}

// Scales (and zeros) of rows [row0, row0 + kRows) for `groups` groups from
// first_group, as [group][kRows] in shared memory. Rows past n_padded are not
// copied (their warps have no tile). 16-byte copies: n_padded and row0 are
// multiples of 64, the arrays 16-byte aligned (w4a16_gemm checks every weight).
__device__ void stage_groups(const DecodeParams &p, uint8_t *smem, int row0, int first_group,
                             int groups) {
    const int rows = p.n_padded - row0 < kRows ? p.n_padded - row0 : kRows;
    const int scale_chunks = rows * p.scale_bytes / 16;
    for (int i = threadIdx.x; i < groups * scale_chunks; i += kThreads) {
        const int g = i / scale_chunks, c = i - g * scale_chunks;
        const int64_t src = ((int64_t)(first_group + g) * p.n_padded + row0) * p.scale_bytes;
        async_copy_16(smem + p.scale_offset + g * kRows * p.scale_bytes + 16 * c,
                      p.scales + src + 16 * c, 16);
    }
    if (p.zeros == nullptr) return;
    const int zero_chunks = rows / 16;
    for (int i = threadIdx.x; i < groups * zero_chunks; i += kThreads) {
        const int g = i / zero_chunks, c = i - g * zero_chunks;
        const int64_t src = (int64_t)(first_group + g) * p.n_padded + row0;
        async_copy_16(smem + p.zero_offset + g * kRows + 16 * c, p.zeros + src + 16 * c, 16);
    }
}

// One group's scale of the lane's rows (g, g + 8) and their zeros in the form
// the dequantizer subtracts.
template <typename T> struct GroupState {
    float scale[2];
    FragmentZeros<T> zeros;
};

template <typename T>
__device__ __forceinline__ void load_group(const DecodeParams &p, const uint8_t *smem, int group,
                                           int row, GroupState<T> &state) {
    const int base = group * kRows + row;
    state.scale[0] = load_packed_scale(smem + p.scale_offset, p.scale_kind, base);
    state.scale[1] = load_packed_scale(smem + p.scale_offset, p.scale_kind, base + 8);
    if (p.zeros != nullptr)
        state.zeros = fragment_zeros<T>(smem[p.zero_offset + base], smem[p.zero_offset + base + 8]);
}

// C for the lane's sums of one n-tile: row 16 * tile_n + g (+ 8), tokens
// 8 b + 2 t (+ 1); bias in fp32; only real rows and tokens.
template <typename T, int kBlocks>
__device__ __forceinline__ void store_tile(const DecodeParams &p, int tile_n, int lane,
                                           const float (&sum)[kBlocks][4]) {
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int n = W4A16_TILE_ROWS * tile_n + lane / 4 + 8 * (r / 2);
            const int m = 8 * b + 2 * (lane % 4) + r % 2;
            if (n >= p.n || m >= p.M) continue;
            float v = sum[b][r];
            if (p.bias != nullptr) v += Pair16<T>::value_of(p.bias[n]);
            p.C[(int64_t)m * p.ldc + n] = Pair16<T>::bits_of(v);
        }
}

// kBlocks n8 token blocks (1: M <= 8, 2: M <= 16). kStepGroups: G is not a
// multiple of 64, so a k-tile may hold two groups (G >= 32): test the group
// per k16 step, else once per tile.
template <typename T, int kBlocks, bool kStepGroups>
__global__ void __launch_bounds__(kThreads, W4A16_DECODE_CTAS_BY_REGISTERS)
    decode_kernel(const DecodeParams p) {
    extern __shared__ __align__(16) uint8_t smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int split = blockIdx.x; // the cluster rank: the cluster spans gridDim.x
    const int tile_n = blockIdx.y * kWarps + warp;
    const bool has_tile = tile_n < p.tiles_n;
    const int kt_begin = (int)((int64_t)p.tiles_k * split / p.splits);
    const int count = (int)((int64_t)p.tiles_k * (split + 1) / p.splits) - kt_begin;
    const int col0 = W4A16_TILE_COLS * kt_begin;
    const int first_group = group_of(p, col0);

    // 1. Launched programmatically (w4a16_decode_args.pdl), this kernel may
    // start while the one before it in the stream finishes: the ring's first
    // tiles, the scales and zeros (and perm) are only pulled into L2 before
    // waiting for it, then loaded. The next kernel may start as soon as every
    // CTA here has, and do the same during this one's tail.
    grid_dependency_launch_dependents();
    const int64_t stride = (int64_t)p.tiles_n * W4A16_TILE_LANES; // uint4s per k-tile
    const uint4 *next = p.qweight + ((int64_t)kt_begin * p.tiles_n + tile_n) * W4A16_TILE_LANES + lane;
    if (has_tile)
#pragma unroll
        for (int i = 0; i < kDepth; i++)
            if (i < count) prefetch_l2(next + i * stride);
    const int last_group = group_of(p, col0 + W4A16_TILE_COLS * count - 1);
    prefetch_groups(p, blockIdx.y * kRows, first_group, last_group - first_group + 1);
    if (p.perm != nullptr) prefetch_perm(p, col0, count * W4A16_TILE_COLS);
    grid_dependency_wait();
    // act-order: perm first, ahead of the weight stream, since the gather of A
    // waits for it (one group of copies of its own).
    if (p.perm != nullptr) {
        stage_perm(p, smem, col0, count * W4A16_TILE_COLS);
        async_copy_commit();
    }
    uint4 ring[kDepth];
#pragma unroll
    for (int i = 0; i < kDepth; i++) {
        ring[i] = make_uint4(0, 0, 0, 0);
        if (has_tile && i < count) ring[i] = load_streamed_16_after_wait(next);
        next += stride;
    }

    // 2. Stage A's columns of this K-range and the rows' scales and zeros.
    stage_groups(p, smem, blockIdx.y * kRows, first_group, last_group - first_group + 1);
    if (p.a_async) stage_a_async(p, smem, col0, count * W4A16_TILE_COLS / 8);
    if (p.perm != nullptr) { // gather A as soon as perm has landed, while the scales travel
        async_copy_commit();
        async_copy_wait_pending<1>();
    } else {
        async_copy_wait_all();
    }
    __syncthreads();
    if (!p.a_async) {
        stage_a_gather(p, smem, col0, count * W4A16_TILE_COLS);
        async_copy_wait_all();
        __syncthreads();
    }

    // 3. The ring: dequantize tile i, MMA it against A's fragments, refill.
    float total[kBlocks][4], acc[kBlocks][4];
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
#pragma unroll
        for (int r = 0; r < 4; r++) total[b][r] = acc[b][r] = 0.0f;
    GroupState<T> group = {{0.0f, 0.0f}, fragment_zeros<T>(W4A16_PAD_VALUE, W4A16_PAD_VALUE)};
    int cur_group = -1;
    // This lane's ldmatrix row: token 8 b + lane % 8 (the last real one past
    // M: its B column only feeds outputs that are not stored), 8 columns per
    // matrix lane / 8.
    uint32_t a_row[kBlocks];
#pragma unroll
    for (int b = 0; b < kBlocks; b++) {
        const int token = 8 * b + lane % 8 < p.M ? 8 * b + lane % 8 : p.M - 1;
        a_row[b] = smem_address(smem) + token * p.a_pitch + 16 * (lane / 8);
    }
    const int group_row = W4A16_TILE_ROWS * warp + lane / 4;
    if (has_tile) {
        for (int kt0 = 0; kt0 < count; kt0 += kDepth) {
#pragma unroll
            for (int i = 0; i < kDepth; i++) {
                const int kt = kt0 + i;
                if (kt >= count) break;
                const uint32_t words[4] = {ring[i].x, ring[i].y, ring[i].z, ring[i].w};
                uint32_t b_frag[kBlocks][4];
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    if (j == 0 || kStepGroups) {
                        const int g = group_of(p, col0 + W4A16_TILE_COLS * kt + 16 * j);
                        if (g != cur_group) {
                            // The group ends: its sum, scaled in fp32, joins the total.
#pragma unroll
                            for (int b = 0; b < kBlocks; b++)
#pragma unroll
                                for (int r = 0; r < 4; r++) {
                                    total[b][r] = fmaf(acc[b][r], group.scale[r / 2], total[b][r]);
                                    acc[b][r] = 0.0f;
                                }
                            load_group<T>(p, smem, g - first_group, group_row, group);
                            cur_group = g;
                        }
                    }
                    // B fragments of k16 steps j and j + 1: one ldmatrix.x4 per token block.
                    if (j % 2 == 0)
#pragma unroll
                        for (int b = 0; b < kBlocks; b++)
                            ldmatrix_x4(b_frag[b], a_row[b] + kTileBytesA * kt + 32 * j);
                    uint32_t a[4];
                    fragment_q_minus_z<T>(words[j], group.zeros, a);
#pragma unroll
                    for (int b = 0; b < kBlocks; b++)
                        MmaSync<T>::run(acc[b], a, b_frag[b][2 * (j % 2)], b_frag[b][2 * (j % 2) + 1]);
                }
                if (kt + kDepth < count) ring[i] = load_streamed_16(next);
                next += stride;
            }
        }
#pragma unroll
        for (int b = 0; b < kBlocks; b++)
#pragma unroll
            for (int r = 0; r < 4; r++) total[b][r] = fmaf(acc[b][r], group.scale[r / 2], total[b][r]);
    }

    // 4. One K-range: store. Split: the cluster sums each tile's ranges in rank order.
    if (p.splits == 1) {
        if (has_tile) store_tile<T, kBlocks>(p, tile_n, lane, total);
        return;
    }
    __syncthreads(); // every warp is done with A: its shared memory takes the sums
    float4 *partial = reinterpret_cast<float4 *>(smem);
#pragma unroll
    for (int b = 0; b < kBlocks; b++)
        partial[(warp * kBlocks + b) * 32 + lane] =
            make_float4(total[b][0], total[b][1], total[b][2], total[b][3]);
    cluster_sync();
    if (has_tile && warp % p.splits == split) {
        float sum[kBlocks][4];
#pragma unroll
        for (int b = 0; b < kBlocks; b++) {
            const uint32_t mine = smem_address(&partial[(warp * kBlocks + b) * 32 + lane]);
            float4 v = cluster_load_float4(cluster_map_shared(mine, 0));
            for (int s = 1; s < p.splits; s++) {
                const float4 u = cluster_load_float4(cluster_map_shared(mine, (uint32_t)s));
                v = make_float4(v.x + u.x, v.y + u.y, v.z + u.z, v.w + u.w);
            }
            sum[b][0] = v.x;
            sum[b][1] = v.y;
            sum[b][2] = v.z;
            sum[b][3] = v.w;
        }
        store_tile<T, kBlocks>(p, tile_n, lane, sum);
    }
    cluster_sync_relaxed(); // no CTA leaves while another reads its shared memory
}

// Once per instantiation (and harmless if two threads race to it): allow the
// device's whole opt-in shared memory; each launch asks for its plan's.
template <typename T, int kBlocks, bool kStepGroups>
cudaError_t allow_shared_memory(int64_t smem_limit) {
    static bool attribute_set = false;
    if (attribute_set) return cudaSuccess;
    const cudaError_t e = cudaFuncSetAttribute(decode_kernel<T, kBlocks, kStepGroups>,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               (int)smem_limit);
    if (e == cudaSuccess) attribute_set = true;
    return e;
}

template <typename T, int kBlocks, bool kStepGroups>
cudaError_t launch_as(const DecodeParams &p, const w4a16_decode_args *a, cudaStream_t stream) {
    auto kernel = decode_kernel<T, kBlocks, kStepGroups>;
    cudaError_t e = allow_shared_memory<T, kBlocks, kStepGroups>(a->smem_limit);
    if (e != cudaSuccess) return e;
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3((unsigned)p.splits, (unsigned)((p.tiles_n + kWarps - 1) / kWarps), 1);
    config.blockDim = dim3(kThreads, 1, 1);
    config.dynamicSmemBytes = (size_t)a->smem.bytes;
    config.stream = stream;
    cudaLaunchAttribute attrs[2];
    unsigned n_attrs = 0;
    if (p.splits > 1) {
        attrs[n_attrs].id = cudaLaunchAttributeClusterDimension;
        attrs[n_attrs].val.clusterDim.x = (unsigned)p.splits;
        attrs[n_attrs].val.clusterDim.y = 1;
        attrs[n_attrs].val.clusterDim.z = 1;
        n_attrs++;
    }
    if (a->pdl) {
        attrs[n_attrs].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attrs[n_attrs].val.programmaticStreamSerializationAllowed = 1;
        n_attrs++;
    }
    config.attrs = attrs;
    config.numAttrs = n_attrs;
    e = cudaLaunchKernelEx(&config, kernel, p);
    return e != cudaSuccess ? e : cudaGetLastError();
}

template <typename T>
cudaError_t launch_dtype(const DecodeParams &p, bool step_groups, const w4a16_decode_args *a,
                         cudaStream_t stream) {
    if (p.M <= 8)
        return step_groups ? launch_as<T, 1, true>(p, a, stream) : launch_as<T, 1, false>(p, a, stream);
    return step_groups ? launch_as<T, 2, true>(p, a, stream) : launch_as<T, 2, false>(p, a, stream);
}

} // namespace

extern "C" cudaError_t w4a16_launch_decode(const w4a16_decode_args *a, cudaStream_t stream) {
    const w4a16_weight *w = a->w;
    DecodeParams p;
    p.qweight = static_cast<const uint4 *>(w->qweight);
    p.scales = static_cast<const uint8_t *>(w->scales);
    p.zeros = w->zeros;
    p.scale_kind = scale_kind_of(w->scales_dtype);
    p.scale_bytes = w->scales_dtype == W4A16_F32 ? 4 : 2;
    p.A = static_cast<const uint16_t *>(a->A);
    p.lda = a->lda;
    p.perm = w->perm;
    p.bias = static_cast<const uint16_t *>(a->bias);
    p.C = static_cast<uint16_t *>(a->C);
    p.ldc = a->ldc;
    p.M = (int)a->M;
    p.n = (int)w->n;
    p.k = (int)w->k;
    p.n_padded = (int)w->n_padded;
    p.tiles_n = (int)(w->n_padded / W4A16_TILE_ROWS);
    p.tiles_k = (int)(w->k_padded / W4A16_TILE_COLS);
    p.splits = a->splits;
    // Per-channel: every column in group 0 (the padding columns too: q = z there).
    p.group_magic = w->group_size < 0 ? 0u : (uint32_t)(0xffffffffu / (uint32_t)w->group_size + 1u);
    p.a_pitch = (int)a->smem.a_pitch;
    p.scale_offset = (int)a->smem.scale_offset;
    p.zero_offset = (int)a->smem.zero_offset;
    p.perm_offset = (int)a->smem.perm_offset;
    p.a_async = w->perm == nullptr && (uintptr_t)a->A % 16 == 0 && a->lda % 8 == 0;
    const bool step_groups = w->group_size > 0 && w->group_size % W4A16_TILE_COLS != 0;
    if (w->act_dtype == W4A16_BF16) return launch_dtype<__nv_bfloat16>(p, step_groups, a, stream);
    return launch_dtype<__half>(p, step_groups, a, stream);
}

extern "C" cudaError_t w4a16_decode_max_clusters(int splits, int64_t smem_bytes, int64_t smem_limit,
                                                 int *clusters) {
    // Every instantiation has the same launch bounds and no static shared
    // memory, so one stands for all.
    cudaError_t e = allow_shared_memory<__half, 1, false>(smem_limit);
    if (e != cudaSuccess) return e;
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3((unsigned)splits, 1, 1);
    config.blockDim = dim3(kThreads, 1, 1);
    config.dynamicSmemBytes = (size_t)smem_bytes;
    cudaLaunchAttribute cluster;
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = (unsigned)splits;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = 1;
    config.attrs = &cluster;
    config.numAttrs = 1;
    return cudaOccupancyMaxActiveClusters(clusters, decode_kernel<__half, 1, false>, &config);
}
