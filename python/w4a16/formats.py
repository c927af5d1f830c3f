"""The checkpoint formats' tensors (docs/DESIGN.md §2), for weights that
come from Python rather than from a file: `encode` writes a QuantizedWeight
as the tensors AWQ, GPTQ or compressed-tensors store, and `source` describes
such tensors (host arrays or device tensors) to the library as a w4a16_source
for packing. The layout rows mirror src/checkpoint/layouts.c, the C side's
one table.

    tensors = encode(quantize(w), "awq")   # {"qweight", "qzeros", "scales"}
"""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _capi, _dtypes
from .errors import argument_error, shape_error

FORMATS = ("awq", "gptq", "gptq_v2", "ct")

# Element j of a word's eight lives in nibble NIBBLE_OF[j]: AWQ interleaves
# (nibble i holds column [0,2,4,6,1,3,5,7][i]), the others are sequential.
AWQ_NIBBLE_OF = (0, 4, 1, 5, 2, 6, 3, 7)
SEQUENTIAL_NIBBLE_OF = tuple(range(8))

# Per format: the names of its q, zeros, scales and g_idx tensors.
TENSOR_NAMES = {
    "awq": {"qweight": "qweight", "qzeros": "qzeros", "scales": "scales", "g_idx": None},
    "gptq": {"qweight": "qweight", "qzeros": "qzeros", "scales": "scales", "g_idx": "g_idx"},
    "gptq_v2": {"qweight": "qweight", "qzeros": "qzeros", "scales": "scales", "g_idx": "g_idx"},
    "ct": {"qweight": "weight_packed", "qzeros": "weight_zero_point", "scales": "weight_scale",
           "g_idx": "weight_g_idx"},
}


@dataclass(frozen=True)
class FormatLayout:
    """Where a format keeps an [n, k] weight with `groups` groups along K."""
    qweight: _capi.QLayout
    qzeros: _capi.QLayout
    qweight_shape: tuple
    qzeros_shape: tuple
    scales_shape: tuple
    scales_stride_n: int
    scales_stride_g: int


def _qlayout(axis, stride_n, stride_k, nibble_of, offset=0):
    return _capi.QLayout(axis, stride_n, stride_k, (ctypes.c_uint8 * 8)(*nibble_of), offset)


def check_format(format):
    if format not in FORMATS:
        raise argument_error(f"format {format!r} is not one of {', '.join(FORMATS)}")
    return format


def layout(format, n, k, groups):
    """The FormatLayout of `format` for an [n, k] weight; ShapeError naming the
    rule when the format cannot hold the shape."""
    check_format(format)
    if format == "awq":
        if n % 8:
            raise shape_error(f"awq needs N a multiple of 8, got N={n}")
        along_n = _qlayout(_capi.PACKED_ALONG_N, 1, n // 8, AWQ_NIBBLE_OF)
        return FormatLayout(along_n, along_n, (k, n // 8), (groups, n // 8), (groups, n), 1, n)
    if k % 8:
        raise shape_error(f"{format} needs K a multiple of 8, got K={k}")
    if format in ("gptq", "gptq_v2"):
        if n % 8:
            raise shape_error(f"{format} needs N a multiple of 8 (qzeros pack 8 columns), "
                                 f"got N={n}")
        return FormatLayout(
            _qlayout(_capi.PACKED_ALONG_K, 1, n, SEQUENTIAL_NIBBLE_OF),
            _qlayout(_capi.PACKED_ALONG_N, 1, n // 8, SEQUENTIAL_NIBBLE_OF,
                     1 if format == "gptq" else 0),
            (k // 8, n), (groups, n // 8), (groups, n), 1, n)
    return FormatLayout(  # ct
        _qlayout(_capi.PACKED_ALONG_K, k // 8, 1, SEQUENTIAL_NIBBLE_OF),
        _qlayout(_capi.PACKED_ALONG_N, groups, 1, SEQUENTIAL_NIBBLE_OF),
        (n, k // 8), ((n + 7) // 8, groups), (n, groups), groups, 1)


def _pack_rows(values, nibble_of):
    """uint8 [rows, 8 * c] of 0..15 -> int32 [rows, c], element j of each eight
    in nibble nibble_of[j]."""
    rows, cols = values.shape
    eights = values.reshape(rows, cols // 8, 8).astype(np.uint32)
    words = np.zeros((rows, cols // 8), dtype=np.uint32)
    for j, nibble in enumerate(nibble_of):
        words |= eights[:, :, j] << np.uint32(4 * nibble)
    return words.view(np.int32)


def _stored_zeros(weight, format):
    """z as the format stores it, uint8 [n, groups]: z - 1 for GPTQ v1."""
    zeros = weight.zero_points().astype(np.int32)
    low, high = (1, 16) if format == "gptq" else (0, 15)
    if zeros.min() < low or zeros.max() > high:
        bad = zeros.min() if zeros.min() < low else zeros.max()
        hint = (" (GPTQ v1 stores z - 1: use gptq_v2 or a symmetric weight)"
                if format == "gptq" else "")
        raise argument_error(f"{format} cannot store a zero point of {bad}{hint}")
    return (zeros - (1 if format == "gptq" else 0)).astype(np.uint8) & np.uint8(15)


def _format_scales(weight, format):
    """The scales in the format's dtype (F16 for AWQ and GPTQ), checked exact."""
    name = weight.scales_dtype if format == "ct" else "F16"
    stored = _dtypes.store_as(weight.scales, name)
    if not np.array_equal(_dtypes.load_as_float32(stored, name), weight.scales):
        raise argument_error(f"{format} stores scales as {name}, and these {weight.scales_dtype} "
                             f"scales are not all exact in it")
    return stored


def encode(weight, format):
    """A QuantizedWeight as the tensors `format` stores for one layer (names
    without the layer prefix), as numpy arrays:

    awq      qweight int32 [K, N/8], qzeros int32 [G', N/8] (8s when symmetric),
             scales float16 [G', N]
    gptq     qweight int32 [K/8, N], qzeros int32 [G', N/8] holding z - 1,
             scales float16 [G', N], g_idx int32 [K]   (gptq_v2: qzeros hold z)
    ct       weight_packed int32 [N, K/8], weight_scale [N, G'] in the weight's
             scales dtype (BF16 as uint16 bits), weight_shape int64 [2],
             weight_zero_point int32 [ceil(N/8), G'] (asymmetric only),
             weight_g_idx int32 [K] (act-order only)

    G' = K / group_size, or 1 per-channel.
    """
    layout(format, weight.n, weight.k, weight.groups)  # the shape rules
    if weight.g_idx is not None and format == "awq":
        raise argument_error("awq cannot store an act-order (g_idx) weight")
    scales = _format_scales(weight, format)
    zeros = _stored_zeros(weight, format)
    if format == "awq":
        return {"qweight": _pack_rows(np.ascontiguousarray(weight.q.T), AWQ_NIBBLE_OF),
                "qzeros": _pack_rows(np.ascontiguousarray(zeros.T), AWQ_NIBBLE_OF),
                "scales": np.ascontiguousarray(scales.T)}
    if format in ("gptq", "gptq_v2"):
        return {"qweight": np.ascontiguousarray(_pack_rows(weight.q, SEQUENTIAL_NIBBLE_OF).T),
                "qzeros": _pack_rows(np.ascontiguousarray(zeros.T), SEQUENTIAL_NIBBLE_OF),
                "scales": np.ascontiguousarray(scales.T),
                "g_idx": weight.column_groups().astype(np.int32)}
    tensors = {"weight_packed": _pack_rows(weight.q, SEQUENTIAL_NIBBLE_OF),
               "weight_scale": np.ascontiguousarray(scales),
               "weight_shape": np.array([weight.n, weight.k], dtype=np.int64)}
    if not weight.symmetric:
        padded = np.zeros(((weight.n + 7) // 8 * 8, weight.groups), dtype=np.uint8)
        padded[: weight.n] = zeros
        tensors["weight_zero_point"] = np.ascontiguousarray(
            _pack_rows(np.ascontiguousarray(padded.T), SEQUENTIAL_NIBBLE_OF).T)
    if weight.g_idx is not None:
        tensors["weight_g_idx"] = weight.g_idx.astype(np.int32)
    return tensors


def source(format, n, k, group_size, qweight, scales, scales_dtype, qzeros=None, g_idx=None,
           on_device=False):
    """A w4a16_source for one layer's tensors in `format`, given as addresses
    (ints: numpy `.ctypes.data`, torch `.data_ptr()`); qzeros None means
    symmetric (z = 8), g_idx None means g = k // group_size. The memory must
    outlive the source; on_device says it is device memory."""
    groups = 1 if group_size < 0 else k // group_size
    where = layout(format, n, k, groups)
    def as_words(address):
        return ctypes.cast(address, ctypes.POINTER(ctypes.c_int32)) if address else None

    return _capi.Source(
        n=n, k=k, group_size=group_size,
        qweight=as_words(qweight), qweight_layout=where.qweight,
        qzeros=as_words(qzeros), qzeros_layout=where.qzeros,
        scales=scales, scales_dtype=_dtypes.dtype_code(scales_dtype),
        scales_stride_n=where.scales_stride_n, scales_stride_g=where.scales_stride_g,
        g_idx=as_words(g_idx), on_device=1 if on_device else 0)


def trivial_g_idx(g_idx, k, group_size):
    """Whether a g_idx is just k // group_size (no act-order)."""
    size = k if group_size < 0 else group_size
    return np.array_equal(np.asarray(g_idx), np.arange(k) // size)
