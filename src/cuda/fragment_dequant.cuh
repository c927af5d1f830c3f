// Dequantizing one packed fragment word (docs/packed-layout.md) into the four
// 16-bit register pairs of an mma.sync m16n8k16 / wgmma m64k16 A fragment.
// Shared by every kernel that reads packed layout v1 on the tensor cores.
//
// Word (lane, j) holds a0..a7 in nibbles 0 4 1 5 2 6 3 7; register p of the
// fragment is the pair (a[2p], a[2p+1]): rows g (p = 0, 2) or g + 8 (p = 1, 3)
// of the lane, two neighbouring columns, so one zero and one scale per pair.
//
// The zero is subtracted exactly (docs/DESIGN.md §1): q and z are small
// integers, exact in fp16 and bf16, so (q - z) is exact; the scale is then
// applied with one rounding, in 16 bits when the scales have the activations'
// dtype, else in fp32.
#ifndef W4A16_CUDA_FRAGMENT_DEQUANT_CUH
#define W4A16_CUDA_FRAGMENT_DEQUANT_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

// 16-bit arithmetic on register pairs, per activation type.
template <typename T> struct Pair16;

template <> struct Pair16<__half> {
    static constexpr uint32_t kMagic = 0x64006400u; // (1024, 1024): OR q in to get 1024 + q
    static __device__ __forceinline__ __half2 h(uint32_t x) { return *reinterpret_cast<__half2 *>(&x); }
    static __device__ __forceinline__ uint32_t u(__half2 x) { return *reinterpret_cast<uint32_t *>(&x); }
    static __device__ __forceinline__ uint32_t sub(uint32_t a, uint32_t b) { return u(__hsub2(h(a), h(b))); }
    static __device__ __forceinline__ uint32_t mul(uint32_t a, uint32_t b) { return u(__hmul2(h(a), h(b))); }
    static __device__ __forceinline__ uint32_t fma(uint32_t a, uint32_t b, uint32_t c) {
        return u(__hfma2(h(a), h(b), h(c)));
    }
    static __device__ __forceinline__ float2 to_float2(uint32_t a) { return __half22float2(h(a)); }
    static __device__ __forceinline__ uint32_t from_float2(float lo, float hi) {
        return u(__floats2half2_rn(lo, hi));
    }
    static __device__ __forceinline__ uint32_t splat(uint16_t bits) { return bits * 0x00010001u; }
    static __device__ __forceinline__ uint16_t bits_of(float x) { return __half_as_ushort(__float2half_rn(x)); }
    static __device__ __forceinline__ float value_of(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }
};

template <> struct Pair16<__nv_bfloat16> {
    static constexpr uint32_t kMagic = 0x43004300u; // (128, 128): OR q in to get 128 + q
    static __device__ __forceinline__ __nv_bfloat162 h(uint32_t x) {
        return *reinterpret_cast<__nv_bfloat162 *>(&x);
    }
    static __device__ __forceinline__ uint32_t u(__nv_bfloat162 x) { return *reinterpret_cast<uint32_t *>(&x); }
    static __device__ __forceinline__ uint32_t sub(uint32_t a, uint32_t b) { return u(__hsub2(h(a), h(b))); }
    static __device__ __forceinline__ uint32_t mul(uint32_t a, uint32_t b) { return u(__hmul2(h(a), h(b))); }
    static __device__ __forceinline__ uint32_t fma(uint32_t a, uint32_t b, uint32_t c) {
        return u(__hfma2(h(a), h(b), h(c)));
    }
    static __device__ __forceinline__ float2 to_float2(uint32_t a) {
        return make_float2(__uint_as_float(a << 16), __uint_as_float(a & 0xffff0000u));
    }
    static __device__ __forceinline__ uint32_t from_float2(float lo, float hi) {
        return u(__floats2bfloat162_rn(lo, hi));
    }
    static __device__ __forceinline__ uint32_t splat(uint16_t bits) { return bits * 0x00010001u; }
    static __device__ __forceinline__ uint16_t bits_of(float x) {
        return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    }
    static __device__ __forceinline__ float value_of(uint16_t bits) {
        return __bfloat162float(__ushort_as_bfloat16(bits));
    }
};

// The zero point of a lane's two rows (g, g + 8) in the forms the
// subtractions below take.
template <typename T> struct FragmentZeros {
    uint32_t biased[2];   // (magic + z) pair, per row
    uint32_t sixteenth[2]; // fp16 only: -(64 + z) pair, for nibbles read as 1024 + 16 q
};

template <typename T>
__device__ __forceinline__ FragmentZeros<T> fragment_zeros(uint32_t z_row_g, uint32_t z_row_g8) {
    FragmentZeros<T> f;
    f.biased[0] = ((Pair16<T>::kMagic & 0xffffu) | z_row_g) * 0x00010001u;
    f.biased[1] = ((Pair16<T>::kMagic & 0xffffu) | z_row_g8) * 0x00010001u;
    // -(64 + z) in fp16: 64 is 0x5400 and steps of 1 there are 16 ulps; 0x8000 is the sign.
    f.sixteenth[0] = (0xD400u + 16u * z_row_g) * 0x00010001u;
    f.sixteenth[1] = (0xD400u + 16u * z_row_g8) * 0x00010001u;
    return f;
}

// (a & mask) | bits in one lop3, the mask an immediate and `bits` a register:
// left to itself the compiler splits it into an AND and an OR, both with
// immediates (a LOP3 takes one), which costs the dequantization 16
// instructions a k-block.
template <uint32_t kMask> __device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t bits) {
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "n"(kMask), "r"(bits));
    return d;
}

// Exact (q - z) of the four pairs of one word.
// fp16: nibbles 0/4 and 2/6 (mask 0x000f000f of the word and of word >> 8)
// become 1024 + q; nibbles 1/5 and 3/7 (mask 0x00f000f0) become 1024 + 16 q,
// which one fma by 1/16 with -(64 + z) turns into q - z, exactly. One shift
// a word. bf16 has 7 mantissa bits, so 128 + 16 q does not fit: one shift per
// pair instead.
template <typename T>
__device__ __forceinline__ void fragment_q_minus_z(uint32_t word, const FragmentZeros<T> &zeros,
                                                   uint32_t (&out)[4]);

template <>
__device__ __forceinline__ void fragment_q_minus_z<__half>(uint32_t word,
                                                          const FragmentZeros<__half> &zeros,
                                                          uint32_t (&out)[4]) {
    typedef Pair16<__half> P;
    const uint32_t sixteenth = 0x2C002C00u; // (1/16, 1/16) in fp16
    const uint32_t high = word >> 8;
    out[0] = P::sub(and_or<0x000f000fu>(word, P::kMagic), zeros.biased[0]);
    out[1] = P::fma(and_or<0x00f000f0u>(word, P::kMagic), sixteenth, zeros.sixteenth[1]);
    out[2] = P::sub(and_or<0x000f000fu>(high, P::kMagic), zeros.biased[0]);
    out[3] = P::fma(and_or<0x00f000f0u>(high, P::kMagic), sixteenth, zeros.sixteenth[1]);
}

template <>
__device__ __forceinline__ void fragment_q_minus_z<__nv_bfloat16>(
    uint32_t word, const FragmentZeros<__nv_bfloat16> &zeros, uint32_t (&out)[4]) {
    typedef Pair16<__nv_bfloat16> P;
#pragma unroll
    for (int p = 0; p < 4; p++)
        out[p] = P::sub(and_or<0x000f000fu>(word >> (4 * p), P::kMagic), zeros.biased[p & 1]);
}

// W of the four pairs, scaled in 16 bits: `scale_pair[h]` is the scale of row
// g + 8h in the activations' dtype, splat to both halves. (q - z) * s with one
// rounding, which is W rounded to T.
template <typename T>
__device__ __forceinline__ void fragment_dequant16(uint32_t word, const FragmentZeros<T> &zeros,
                                                   const uint32_t (&scale_pair)[2],
                                                   uint32_t (&out)[4]) {
    fragment_q_minus_z<T>(word, zeros, out);
#pragma unroll
    for (int p = 0; p < 4; p++) out[p] = Pair16<T>::mul(out[p], scale_pair[p & 1]);
}

// The same with the scales in fp32 (stored in another dtype than the
// activations): (q - z) * s in fp32, then one rounding to T.
template <typename T>
__device__ __forceinline__ void fragment_dequant32(uint32_t word, const FragmentZeros<T> &zeros,
                                                   const float (&scale)[2], uint32_t (&out)[4]) {
    fragment_q_minus_z<T>(word, zeros, out);
#pragma unroll
    for (int p = 0; p < 4; p++) {
        const float2 v = Pair16<T>::to_float2(out[p]);
        out[p] = Pair16<T>::from_float2(v.x * scale[p & 1], v.y * scale[p & 1]);
    }
}

#endif
