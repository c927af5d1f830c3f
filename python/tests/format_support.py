"""Shared pieces of the format tests: random quantized weights, a format's
tensors as a w4a16_source, Ŵ as the library reads it (the fp64 reference
times the identity: one non-zero product per output, so exact), and a
tensor-parallel rank's slice of it."""
import numpy as np

import w4a16
from w4a16 import formats
from w4a16.reference import reference_gemm
from w4a16.sharding import rank_range


def quantized(n, k, group_size, symmetric, scales_dtype="F16", seed=0):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    weight[0] = np.abs(weight[0]) + 0.01  # lo > 0: an asymmetric zero of 0
    return w4a16.quantize(weight, group_size, symmetric, scales_dtype)


def exact_weight(source):
    """Ŵ [n, k] as the library reads it from a host source."""
    return reference_gemm(source, np.eye(source.k, dtype=np.float16)).T


def python_source(format, weight, tensors):
    """The source of `format`'s tensors of weight (act-order when weight has a g_idx)."""
    names = formats.TENSOR_NAMES[format]
    address = lambda role: tensors[names[role]].ctypes.data if names[role] in tensors else None
    scales_dtype = weight.scales_dtype if format == "ct" else "F16"
    return formats.source(format, weight.n, weight.k, weight.group_size, address("qweight"),
                          address("scales"), scales_dtype,
                          qzeros=None if weight.symmetric else address("qzeros"),
                          g_idx=address("g_idx") if weight.g_idx is not None else None)


def rank_slice(weight_hat, rank, world, parallel):
    """A tensor-parallel rank's rows ("column") or columns ("row") of Ŵ [n, k]."""
    n, k = weight_hat.shape
    if parallel == "column":
        return weight_hat[slice(*rank_range(n, rank, world))]
    return weight_hat[:, slice(*rank_range(k, rank, world))]
