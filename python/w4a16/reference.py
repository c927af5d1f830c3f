"""The library's fp64 CPU reference GEMM (w4a16_ref_gemm) from Python."""
import ctypes

import numpy as np

from . import _capi, _dtypes
from ._library import lib
from .errors import argument_error, check


def reference_gemm(source, a, a_dtype="f16", bias=None):
    """C = A · Ŵᵀ (+ bias) in float64, Ŵ computed exactly from a host source.

    source   a w4a16_source (Checkpoint.source, formats.source) over host memory
    a        [M, K]: numpy float16, or uint16 bfloat16 bit patterns with a_dtype="bf16"
    bias     [N] of the same dtype as a, or None
    Returns numpy float64 [M, N].
    """
    name = _dtypes.dtype_name(a_dtype)
    if name not in ("F16", "BF16"):
        raise argument_error(f"a_dtype {a_dtype!r} is not f16 or bf16")
    a = np.ascontiguousarray(a, dtype=_dtypes.numpy_storage(name))
    if a.ndim != 2 or a.shape[1] != source.k:
        raise argument_error(f"a has shape {a.shape}: expected [M, {source.k}]")
    bias_pointer = None
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=_dtypes.numpy_storage(name))
        if bias.shape != (source.n,):
            raise argument_error(f"bias has shape {bias.shape}: expected [{source.n}]")
        bias_pointer = bias.ctypes.data_as(ctypes.c_void_p)
    out = np.empty((a.shape[0], source.n), dtype=np.float64)
    check(lib().w4a16_ref_gemm(ctypes.byref(source), a.ctypes.data_as(ctypes.c_void_p),
                               _capi.DTYPE[name], a.shape[1], None, a.shape[0], bias_pointer,
                               out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
    return out
