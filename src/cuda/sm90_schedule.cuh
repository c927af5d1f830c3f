// sm90_prefill's persistent schedule: which units (tiles, K-ranges, stream-K
// shares) a CTA works through, in the same order for its producer and its
// consumers. Private to sm90_prefill.cu.
#ifndef W4A16_CUDA_SM90_SCHEDULE_CUH
#define W4A16_CUDA_SM90_SCHEDULE_CUH

#include <stdint.h>

#include "cuda/sm90_layout.cuh"

namespace w4a16_sm90 {

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

// Stream-K counts k-blocks tile after tile: the dp_tiles of whole rounds
// first, then the rest, shared out. The first block of CTA c's share, and the
// CTA whose share holds block i (both counted after the whole rounds).
__device__ __forceinline__ int64_t share_start(const Sm90Params &p, int64_t c) {
    return c * p.total_blocks / gridDim.x;
}
__device__ __forceinline__ int share_owner(const Sm90Params &p, int64_t i) {
    return (int)(((i + 1) * gridDim.x - 1) / p.total_blocks);
}

// A CTA's units in order; the producer and the consumers walk the same list.
// Stream-K: the whole rounds' tiles c, c + grid, ... (all CTAs in step along
// K, so that A and W stay in L2), then the blocks [next, end) of its share.
struct Walk {
    int64_t next, end;
    int first_tile; // of the share: its part goes to slot 0
};

__device__ __forceinline__ Walk walk_begin(const Sm90Params &p) {
    Walk k;
    if (p.streamk) {
        const int64_t dp_blocks = (int64_t)p.dp_tiles * p.k_blocks;
        k.end = dp_blocks + share_start(p, blockIdx.x + 1);
        k.first_tile = (int)((dp_blocks + share_start(p, blockIdx.x)) / p.k_blocks);
        k.next = blockIdx.x < p.dp_tiles ? (int64_t)blockIdx.x * p.k_blocks
                                         : dp_blocks + share_start(p, blockIdx.x);
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
        w.split = 0;
        if (w.tile < p.dp_tiles) { // a whole round's tile; then the next round's, or the share
            w.kb_begin = 0;
            w.kb_end = p.k_blocks;
            w.slot = -1;
            k.next += (int64_t)gridDim.x * p.k_blocks;
            const int64_t dp_blocks = (int64_t)p.dp_tiles * p.k_blocks;
            if (k.next >= dp_blocks) k.next = dp_blocks + share_start(p, blockIdx.x);
        } else {
            w.kb_begin = (int)(k.next - (int64_t)w.tile * p.k_blocks);
            w.kb_end = (int)min((int64_t)p.k_blocks, w.kb_begin + (k.end - k.next));
            const bool whole = w.kb_begin == 0 && w.kb_end == p.k_blocks;
            w.slot = whole ? -1 : 2 * (int)blockIdx.x + (w.tile == k.first_tile ? 0 : 1);
            k.next += w.kb_end - w.kb_begin;
        }
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

} // namespace w4a16_sm90

#endif
