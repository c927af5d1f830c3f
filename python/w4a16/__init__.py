"""w4a16: 16-bit activations times 4-bit quantized weights on NVIDIA GPUs.

Pure Python over libw4a16 (ctypes). Without torch: checkpoint inspection
(`inspect`, `Checkpoint`), the RTN quantizer (`quantize`), the formats'
tensors (`formats.encode`) and a tensor-parallel rank's part of a layer
(`shard`). With torch: the `torch.ops.w4a16.gemm` custom op,
`W4A16Linear`, `W4A16MergedLinear` and `load_quantized`.
"""
try:  # before the library loads, so that it shares torch's CUDA runtime and cuBLAS
    import torch as _torch
except ImportError:
    _torch = None

from . import formats
from ._library import LIBRARY_ENV, LibraryNotFoundError, library_path
from ._library import lib as _lib
from .checkpoint import Checkpoint, Layer, Tensor, inspect
from .errors import (ArgumentError, CheckpointIOError, CudaError, FormatError, OutOfMemoryError,
                     ShapeError, UnsupportedError, W4A16Error)
from .quantize import QuantizedWeight, quantize
from .sharding import shard


if _torch is not None:  # the op registers itself on import
    from . import ops
    from .linear import W4A16Linear, dequantized_linear
    from .loading import load_quantized
    from .merged import W4A16LinearPart, W4A16MergedLinear
    from .packing import PackedWeight, pack


def version():
    """The library's version string ("0.1.0")."""
    return _lib().w4a16_version().decode()


def device_count():
    """CUDA devices the library sees; 0 without a GPU or driver."""
    import ctypes

    from .errors import check
    count = ctypes.c_int()
    check(_lib().w4a16_device_count(ctypes.byref(count)))
    return count.value


__all__ = ["ArgumentError", "Checkpoint", "CheckpointIOError", "CudaError", "FormatError",
           "LIBRARY_ENV", "Layer", "LibraryNotFoundError", "OutOfMemoryError", "QuantizedWeight",
           "ShapeError", "Tensor", "UnsupportedError", "W4A16Error", "device_count", "formats",
           "inspect", "library_path", "quantize", "shard", "version"]
if _torch is not None:
    __all__ += ["PackedWeight", "W4A16Linear", "W4A16LinearPart", "W4A16MergedLinear",
                "dequantized_linear", "load_quantized", "ops", "pack"]
