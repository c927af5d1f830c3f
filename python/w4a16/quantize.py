"""Round-to-nearest 4-bit quantization with the library's quantizer
(w4a16_quantize; docs/DESIGN.md §4):

    symmetric:   z = 8,  s = max|w| / 7.5
    asymmetric:  lo = min(min w, 0), hi = max(max w, 0), s = (hi - lo) / 15,
                 z = rint(-lo / s)
    both:        q = clamp(rint(w / s) + z, 0, 15),  Ŵ = (q - z) * s

per group of `group_size` consecutive columns of a row, the scale rounded to
its stored dtype first (and nudged up where rounding would clamp an extreme),
so |W - Ŵ| <= s / 2 everywhere.
"""
import ctypes
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _capi, _dtypes
from ._library import lib
from .errors import argument_error, check


@dataclass
class QuantizedWeight:
    """A 4-bit weight W [n, k] held unpacked, one byte per value:

    q       uint8 [n, k], 0..15
    scales  float32 [n, groups], each exactly representable in scales_dtype
    zeros   uint8 [n, groups], 0..16; None when symmetric (z = 8 everywhere)
    g_idx   int32 [k], the group of each column (act-order); None: k // group_size

    groups = k / group_size, or 1 when group_size is -1 (per-channel), and
    W[n, k] = (q[n, k] - z[n, g]) * s[n, g] with g = g_idx[k] or k // group_size.
    """
    q: np.ndarray
    scales: np.ndarray
    zeros: Optional[np.ndarray]
    group_size: int
    scales_dtype: str
    g_idx: Optional[np.ndarray] = None

    @property
    def n(self):
        return self.q.shape[0]

    @property
    def k(self):
        return self.q.shape[1]

    @property
    def groups(self):
        return 1 if self.group_size < 0 else self.k // self.group_size

    @property
    def symmetric(self):
        return self.zeros is None

    def zero_points(self):
        """z as uint8 [n, groups] (8s when symmetric)."""
        if self.zeros is None:
            return np.full((self.n, self.groups), 8, dtype=np.uint8)
        return self.zeros

    def column_groups(self):
        """int64 [k]: the group of each column."""
        if self.g_idx is not None:
            return self.g_idx.astype(np.int64)
        size = self.k if self.group_size < 0 else self.group_size
        return np.arange(self.k, dtype=np.int64) // size

    def dequantize(self):
        """Ŵ as float64 [n, k], exactly."""
        groups = self.column_groups()
        zeros = self.zero_points().astype(np.float64)[:, groups]
        return (self.q.astype(np.float64) - zeros) * self.scales.astype(np.float64)[:, groups]


def quantize(weight, group_size=128, symmetric=True, scales_dtype="f16"):
    """Quantizes a dense weight with the library's RTN quantizer.

    weight        numpy float32 or float16 [n, k] (out_features, in_features)
    group_size    32, 64, 128, or -1 for per-channel; k must be a multiple of it
    symmetric     True: z = 8 (uint4b8); False: a zero point per group
    scales_dtype  "f16", "bf16" or "f32": the dtype the scales will be stored in

    Returns a QuantizedWeight. Raises ArgumentError / ShapeError with the
    library's message for a bad group size, shape, non-finite value, or a
    scale that overflows scales_dtype.
    """
    array = np.asarray(weight)
    if array.ndim != 2:
        raise argument_error(f"weight has shape {array.shape}: expected [n, k]")
    if array.dtype not in (np.float32, np.float16):
        raise argument_error(f"weight dtype {array.dtype} is not float32 or float16")
    array = np.ascontiguousarray(array)
    weight_dtype = _dtypes.dtype_code(array.dtype.name)
    scales_name = _dtypes.dtype_name(scales_dtype)
    n, k = array.shape
    out = _capi.Unpacked()
    check(lib().w4a16_quantize(array.ctypes.data_as(ctypes.c_void_p), weight_dtype, n, k,
                               int(group_size), 1 if symmetric else 0,
                               _capi.DTYPE[scales_name], ctypes.byref(out)))
    try:
        groups = 1 if out.group_size < 0 else k // out.group_size
        q = np.ctypeslib.as_array(out.q, shape=(n, k)).copy()
        scales = np.ctypeslib.as_array(out.scales, shape=(n, groups)).copy()
        zeros = None if out.symmetric else np.ctypeslib.as_array(out.zeros,
                                                                 shape=(n, groups)).copy()
    finally:
        lib().w4a16_unpacked_free(ctypes.byref(out))
    return QuantizedWeight(q=q, scales=scales, zeros=zeros, group_size=int(group_size),
                           scales_dtype=scales_name)
