"""An independent numpy round-to-nearest quantizer, written from the rules in
docs/DESIGN.md §4, to check the library's w4a16_quantize against:

    symmetric:   s = max|w| / 7.5, z = 8
    asymmetric:  lo = min(min w, 0), hi = max(max w, 0), s = (hi - lo) / 15,
                 z = clamp(rint(-lo / s), 0, 15)
    q = clamp(rint(w / s) + z, 0, 15)

with s rounded to its stored dtype first (float64 -> float32 -> dtype) and
moved up one step of that dtype at a time while a group's extremes would land
more than s / 2 away (at most 8 steps); an all-zero group gets s = 1.
"""
import numpy as np

MAX_NUDGES = 8


def round_to_dtype(values, dtype):
    """float64 values rounded to float32, then to dtype ("F16", "BF16", "F32")."""
    f32 = np.asarray(values, dtype=np.float64).astype(np.float32)
    if dtype == "F16":
        return f32.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = f32.view(np.uint32)
        bits = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) \
            & np.uint32(0xFFFF0000)
        return bits.view(np.float32)
    return f32


def next_up(scales, dtype):
    """The next value of dtype above each (positive, finite) scale."""
    if dtype == "F16":
        half = scales.astype(np.float16)
        return (half.view(np.uint16) + np.uint16(1)).view(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = scales.astype(np.float32).view(np.uint32) + np.uint32(1 << 16)
        return bits.view(np.float32)
    return np.nextafter(scales.astype(np.float32), np.float32(np.inf))


def quantize_values(w, scale, zero):
    return np.clip(np.rint(w / scale) + zero, 0, 15)


def reference_quantize(weight, group_size, symmetric, scales_dtype):
    """(q uint8 [n, k], scales float32 [n, groups], zeros uint8 [n, groups] or None)."""
    w = np.asarray(weight, dtype=np.float64)
    n, k = w.shape
    size = k if group_size < 0 else group_size
    grouped = w.reshape(n, k // size, size)
    lo, hi = grouped.min(axis=2), grouped.max(axis=2)  # the extremes checked below
    if symmetric:
        ideal = np.maximum(np.abs(lo), np.abs(hi)) / 7.5
    else:
        ideal = (np.maximum(hi, 0.0) - np.minimum(lo, 0.0)) / 15.0
    ideal = np.where(ideal == 0, 1.0, ideal)
    scales = round_to_dtype(ideal, scales_dtype)

    def zeros_for(s):
        if symmetric:
            return np.full(s.shape, 8.0)
        return np.clip(np.rint(-np.minimum(lo, 0.0) / s.astype(np.float64)), 0, 15)

    for _ in range(MAX_NUDGES + 1):
        s64 = scales.astype(np.float64)
        zeros = zeros_for(scales)
        fits = np.ones(scales.shape, dtype=bool)
        for extreme in (lo, hi):
            q = quantize_values(extreme, s64, zeros)
            fits &= np.abs(extreme - (q - zeros) * s64) <= s64 / 2
        if fits.all():
            break
        scales = np.where(fits, scales, next_up(scales, scales_dtype))
    assert fits.all(), "the reference found no scale within 8 steps"
    s64 = scales.astype(np.float64)[:, :, None]
    zeros = zeros_for(scales)
    q = quantize_values(grouped, s64, zeros[:, :, None]).reshape(n, k).astype(np.uint8)
    return q, scales.astype(np.float32), None if symmetric else zeros.astype(np.uint8)
