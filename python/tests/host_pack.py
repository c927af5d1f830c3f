"""A stand-in for the GPU in the loader's tests: `host_pack` replaces
packing.pack (its header, host buffers of the right kind, no GPU) and keeps
each packed weight's Ŵ (the library's fp64 reference, exact), and
`dense_forward` replaces W4A16Linear.forward with y = x · Ŵᵀ (+ bias) in
float64, rounded to x's dtype. With both, load_quantized runs on the CPU:
what it builds (modules, biases, state_dict) and how a merged model's parts
share one call are checked without a GPU; the kernels are not."""
import numpy as np
import torch

from w4a16 import _capi
from w4a16.packing import PackedWeight, act_dtype_code
from w4a16.reference import reference_gemm

# Ŵ [n, k] float64 of each stand-in packed weight, by the tag in its qweight.
W_HAT = {}


def host_pack(sources, act_dtype, device=None, slice=None, context=None):
    """packing.pack's stand-in: sources concatenated along N, on the CPU."""
    sources = list(sources)
    assert slice is None, "the stand-in packs whole layers"
    n, k, group_size = sum(s.n for s in sources), sources[0].k, sources[0].group_size
    groups = 1 if group_size < 0 else k // group_size
    header = {"version": _capi.PACKED_VERSION, "n": n, "k": k, "n_padded": n, "k_padded": k,
              "group_size": group_size, "groups": groups, "groups_padded": groups,
              "act_dtype": act_dtype_code(act_dtype), "scales_dtype": sources[0].scales_dtype}
    qweight = torch.zeros(n * k // 2, dtype=torch.uint8)
    tag = len(W_HAT)  # in qweight's first bytes, so a state_dict loaded back finds Ŵ too
    qweight[:8] = torch.tensor(list(tag.to_bytes(8, "little")), dtype=torch.uint8)
    scales = torch.zeros(groups * n * 2, dtype=torch.uint8)
    zeros = (torch.zeros(groups * n, dtype=torch.uint8)
             if any(s.qzeros for s in sources) else None)
    identity = np.eye(k, dtype=np.float16)
    W_HAT[tag] = torch.from_numpy(
        np.concatenate([reference_gemm(s, identity).T for s in sources]))
    return PackedWeight(header, qweight, scales, zeros, None)


def dense_forward(self, x):
    """W4A16Linear.forward's stand-in: x · Ŵᵀ (+ bias) in float64."""
    y = x.double() @ W_HAT[int.from_bytes(bytes(self.qweight[:8].tolist()), "little")].T
    if self.bias is not None:
        y = y + self.bias.double()
    return y.to(x.dtype)


def on_the_cpu(monkeypatch, w4a16):
    """load_quantized packs with host_pack onto the CPU, W4A16Linear runs
    dense_forward."""
    monkeypatch.setattr(w4a16.linear, "pack", host_pack)
    monkeypatch.setattr(w4a16.loading, "cuda_device", lambda device: torch.device("cpu"))
    monkeypatch.setattr(w4a16.W4A16Linear, "forward", dense_forward)
