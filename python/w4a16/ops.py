"""The `w4a16::gemm` custom op: torch.compile traces it through its fake
implementation, CUDA graphs capture it (the library call allocates nothing
and never synchronizes), and autograd refuses it (inference only).

    out = torch.ops.w4a16.gemm(a, qweight, scales, zeros, perm, bias, header)

a        [..., K] float16 or bfloat16 (the dtype the weight was packed for), CUDA
qweight  uint8 [qweight_bytes]   } the packed buffers (packing.PackedWeight),
scales   uint8 [scales_bytes]    } on a's device
zeros    uint8 [zeros_bytes] or None (symmetric)
perm     uint8 [perm_bytes] or None (no act-order)
bias     [N] of a's dtype, or None
header   List[int]: packing.header_list(header)
returns  [..., N] of a's dtype, a new tensor (the op's only allocation, except
         a copy of `a` when its last dimension is not contiguous)

It runs on the current stream with this thread's ctx for a's device.
"""
from typing import List, Optional

import torch

from . import _capi
from ._library import lib
from ._torch_context import device_context
from .errors import argument_error, check, shape_error
from .packing import _TORCH_OF_CODE, header_dict, weight_view


def _check(a, qweight, scales, zeros, perm, bias, header):
    """Dtype, device and shape mistakes, named, before anything runs (shared
    by the real and the fake implementation)."""
    if len(header) != len(_capi.WEIGHT_HEADER):
        raise argument_error(f"header has {len(header)} values: expected "
                             f"{len(_capi.WEIGHT_HEADER)} ({', '.join(_capi.WEIGHT_HEADER)})")
    fields = header_dict(header)
    if fields["version"] != _capi.PACKED_VERSION:
        raise argument_error(f"packed layout version {fields['version']} is not "
                             f"{_capi.PACKED_VERSION}: repack the weight with this library")
    act_dtype = _TORCH_OF_CODE.get(fields["act_dtype"])
    if a.dtype != act_dtype:
        raise argument_error(f"a is {a.dtype}; this weight was packed for {act_dtype} "
                             f"activations")
    _check_in_features(a, fields["k"])
    for name, tensor in (("qweight", qweight), ("scales", scales), ("zeros", zeros),
                         ("perm", perm)):
        if tensor is None:
            if name in ("qweight", "scales"):
                raise argument_error(f"{name} is None")
            continue
        if tensor.dtype != torch.uint8 or tensor.dim() != 1:
            raise argument_error(f"{name} is {tensor.dtype} {list(tensor.shape)}: packed "
                                 f"buffers are 1-D torch.uint8")
        if tensor.device != a.device:
            raise argument_error(f"{name} is on {tensor.device} but a is on {a.device}")
    if bias is not None:
        if bias.dtype != a.dtype or list(bias.shape) != [fields["n"]]:
            raise argument_error(f"bias is {bias.dtype} {list(bias.shape)}: expected "
                                 f"{a.dtype} [{fields['n']}]")
        if bias.device != a.device:
            raise argument_error(f"bias is on {bias.device} but a is on {a.device}")
    return fields


def _check_in_features(a, k):
    """a's last dimension is the weight's K (the one check eager_gemm repeats)."""
    if a.dim() < 1 or a.shape[-1] != k:
        raise shape_error(f"a has shape {list(a.shape)}: its last dimension must be "
                          f"in_features K={k}")


def _current_stream(device):
    """The raw handle of the device's current stream (what the library takes)."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    return raw(device) if raw is not None else torch.cuda.current_stream(device).cuda_stream


def _launch(a, n, k, view, bias):
    """The library call into a new output on the current stream: the op's
    body, and W4A16Linear's eager path (eager_gemm) without the dispatcher."""
    out = a.new_empty((*a.shape[:-1], n))
    rows = a.reshape(-1, k)
    m = rows.shape[0]
    if m == 0:
        return out
    if rows.stride(1) != 1 or (m > 1 and rows.stride(0) < k):
        rows = rows.contiguous()
    lda = rows.stride(0) if m > 1 else k
    device = a.device.index
    switch = torch.cuda.current_device() != device
    if switch:
        previous = torch.cuda.current_device()
        torch.cuda.set_device(device)
    try:
        context = device_context(device)
        stream = _current_stream(device)
        context.prepare(view, m, stream)
        check(lib().w4a16_gemm(context.handle, view, rows.data_ptr(), lda, out.data_ptr(), n, m,
                               None if bias is None else bias.data_ptr(), stream))
    finally:
        if switch:
            torch.cuda.set_device(previous)
    return out


@torch.library.custom_op("w4a16::gemm", mutates_args=())
def gemm(a: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor,
         zeros: Optional[torch.Tensor], perm: Optional[torch.Tensor],
         bias: Optional[torch.Tensor], header: List[int]) -> torch.Tensor:
    fields = _check(a, qweight, scales, zeros, perm, bias, header)
    if not a.is_cuda:
        raise argument_error(f"a is on {a.device}: w4a16::gemm runs on CUDA devices")
    return _launch(a, fields["n"], fields["k"], weight_view(header, qweight, scales, zeros, perm),
                   bias)


# eager_gemm's checked calls: (header, a's device and dtype, the buffers'
# addresses and sizes) -> (n, k, view). A key is only made after _check passed.
_eager_calls = {}
_EAGER_CACHE_LIMIT = 4096


def eager_gemm(a, qweight, scales, zeros, perm, bias, header):
    """The op's result for W4A16Linear's eager calls, without the dispatcher's
    and the custom op's Python layers (with them, a Qwen3-4B prefill of 2048
    tokens was host-bound at 1.8x its kernels' time: bench/NOTES.md): the
    full checks the first time a (weight, device, dtype) is seen, then only
    a's shape.
    None when the call must go through the op instead: under torch.compile,
    for a tensor subclass (fake, functional), a tensor not on CUDA, or a call
    autograd records."""
    if (type(a) is not torch.Tensor or not a.is_cuda or torch.compiler.is_compiling() or
            (torch.is_grad_enabled() and (a.requires_grad or
                                          (bias is not None and bias.requires_grad)))):
        return None
    buffers = (qweight, scales, zeros, perm, bias)
    key = (tuple(header), a.device, a.dtype) + tuple(
        (t.data_ptr(), t.numel()) if t is not None else None for t in buffers)
    known = _eager_calls.get(key)
    if known is None:
        fields = _check(a, qweight, scales, zeros, perm, bias, header)
        if len(_eager_calls) >= _EAGER_CACHE_LIMIT:
            _eager_calls.clear()
        known = _eager_calls[key] = (fields["n"], fields["k"],
                                     weight_view(header, qweight, scales, zeros, perm))
    n, k, view = known
    _check_in_features(a, k)
    return _launch(a, n, k, view, bias)


@gemm.register_fake
def _gemm_fake(a, qweight, scales, zeros, perm, bias, header):
    fields = _check(a, qweight, scales, zeros, perm, bias, header)
    return a.new_empty((*a.shape[:-1], fields["n"]))


def _backward(ctx, grad):
    raise RuntimeError("w4a16::gemm is inference only: it has no backward (the 4-bit "
                       "weights are not trainable); run the model under torch.no_grad() "
                       "or torch.inference_mode()")


gemm.register_autograd(_backward, setup_context=lambda ctx, inputs, output: None)


def kernel_name(a_rows, qweight, scales, zeros, perm, header, device=None):
    """Which kernel a call of `a_rows` rows would run ("fallback",
    "sm90_prefill", "decode", "decode_v2", or "none" when it would fail)."""
    device = torch.cuda.current_device() if device is None else torch.device(device).index
    view = weight_view(header, qweight, scales, zeros, perm)
    name = lib().w4a16_gemm_kernel_name(device_context(device).handle, view, a_rows)
    return name.decode()
