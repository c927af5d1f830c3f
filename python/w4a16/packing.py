"""Packing layers into torch tensors that PyTorch's caching allocator owns
(docs/DESIGN.md §3): w4a16_pack_size says how many bytes each buffer needs,
torch allocates them on the device, and w4a16_pack writes into them on the
current stream. A packed weight is those tensors plus its header (shape,
padding, group size, dtypes, layout version).
"""
import ctypes
from dataclasses import dataclass
from typing import Optional

import torch

from . import _capi
from ._library import lib
from ._torch_context import device_context
from .errors import argument_error, check

ACT_DTYPES = {torch.float16: "F16", torch.bfloat16: "BF16"}
_TORCH_OF_CODE = {_capi.DTYPE[name]: dtype for dtype, name in ACT_DTYPES.items()}


@dataclass
class PackedWeight:
    """A packed weight: header {version, n, k, n_padded, k_padded, group_size,
    groups, groups_padded, act_dtype, scales_dtype} (ints, w4a16_weight's
    fields) and its device buffers as uint8 tensors: qweight, scales, zeros
    (None when symmetric) and perm (None without act-order)."""
    header: dict
    qweight: torch.Tensor
    scales: torch.Tensor
    zeros: Optional[torch.Tensor]
    perm: Optional[torch.Tensor]

    @property
    def act_dtype(self):
        return _TORCH_OF_CODE[self.header["act_dtype"]]

    def nbytes(self):
        return sum(t.numel() for t in (self.qweight, self.scales, self.zeros, self.perm)
                   if t is not None)


def header_list(header):
    """The header as the op's List[int] argument, in w4a16_weight's field order."""
    return [int(header[name]) for name in _capi.WEIGHT_HEADER]


def header_dict(values):
    return dict(zip(_capi.WEIGHT_HEADER, (int(v) for v in values)))


def act_dtype_code(dtype):
    if dtype not in ACT_DTYPES:
        raise argument_error(f"activation dtype {dtype} is not torch.float16 or torch.bfloat16")
    return _capi.DTYPE[ACT_DTYPES[dtype]]


_views = {}
_VIEW_CACHE_LIMIT = 4096


def weight_view(header, qweight, scales, zeros, perm):
    """The w4a16_weight a call passes: header values and the buffers' addresses
    and sizes. Cached by all of those, so a view is built once per weight (it
    is a pure function of the key)."""
    buffers = (qweight, scales, zeros, perm)
    key = (tuple(header),) + tuple((t.data_ptr(), t.numel()) if t is not None else (0, 0)
                                   for t in buffers)
    view = _views.get(key)
    if view is None:
        if len(_views) >= _VIEW_CACHE_LIMIT:
            _views.clear()
        view = _capi.Weight()
        lib().w4a16_weight_init(ctypes.byref(view))
        for name, value in zip(_capi.WEIGHT_HEADER, header):
            setattr(view, name, value)
        for name, (address, nbytes) in zip(_capi.WEIGHT_BUFFERS, key[1:]):
            setattr(view, name, address or None)
            setattr(view, name + "_bytes", nbytes)
        _views[key] = view
    return view


def cuda_device(device):
    """A torch.device of type cuda with its index (None: the current device)."""
    device = torch.device("cuda") if device is None else torch.device(device)
    if device.type != "cuda":
        raise argument_error(f"device {device} is not a CUDA device")
    return device if device.index is not None else torch.device("cuda",
                                                                torch.cuda.current_device())


def pack(sources, act_dtype, device=None, slice=None, context=None):
    """Packs one or more w4a16_sources, concatenated along N (merged q|k|v or
    gate|up), for activations of act_dtype (torch.float16 or torch.bfloat16)
    on a CUDA device (default: the current one). slice: (n_begin, n_end,
    k_begin, k_end) of the concatenated weight, or None for all of it.
    `context` names the layer in error messages. Returns a PackedWeight."""
    device = cuda_device(device)
    sources = list(sources)
    if not 1 <= len(sources) <= _capi.PACK_MAX_SOURCES:
        raise argument_error(f"{len(sources)} sources: pack takes 1 to {_capi.PACK_MAX_SOURCES}")
    array = (_capi.Source * len(sources))(*sources)
    slice_struct = None if slice is None else ctypes.byref(_capi.Slice(*slice))
    sizes = _capi.PackSizes()
    check(lib().w4a16_pack_size(array, len(sources), slice_struct, ctypes.byref(sizes)), context)
    buffers = {name: torch.empty(getattr(sizes, name + "_bytes"), dtype=torch.uint8, device=device)
               if getattr(sizes, name + "_bytes") else None for name in _capi.WEIGHT_BUFFERS}
    view = _capi.Weight()
    lib().w4a16_weight_init(ctypes.byref(view))
    for name, tensor in buffers.items():
        if tensor is not None:
            setattr(view, name, tensor.data_ptr())
            setattr(view, name + "_bytes", tensor.numel())
    with torch.cuda.device(device):
        stream = torch.cuda.current_stream(device)
        check(lib().w4a16_pack(device_context(device.index).handle, array, len(sources),
                               slice_struct, act_dtype_code(act_dtype), ctypes.byref(view), None,
                               stream.cuda_stream), context)
    header = {name: getattr(view, name) for name in _capi.WEIGHT_HEADER}
    for name in _capi.WEIGHT_BUFFERS:  # a buffer the result does not need comes back NULL
        if not getattr(view, name):
            buffers[name] = None
    return PackedWeight(header=header, **buffers)
