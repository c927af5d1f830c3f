"""W4A16Linear: an nn.Linear whose weight is packed 4-bit, run by the
w4a16::gemm op. Its buffers (qweight, scales, zeros, perm: uint8 tensors;
bias) are what `state_dict()` saves, with the header as the module's extra
state, so a saved model loads back without packing again."""
import numpy as np
import torch
from torch import nn

from . import formats, ops
from .checkpoint import Checkpoint
from .errors import argument_error, shape_error
from .packing import PackedWeight, header_dict, header_list, pack
from .quantize import quantize
from .sharding import shard, shard_bias


class W4A16Linear(nn.Module):
    """y = x · Ŵᵀ (+ bias) with Ŵ [out_features, in_features] packed in 4 bits.

    x is [..., in_features] of the dtype the weight was packed for (float16 or
    bfloat16) on the module's CUDA device; y is [..., out_features].
    Inference only. Build one with from_linear, from_quantized or
    from_checkpoint (or load a state_dict into any instance)."""

    def __init__(self, packed=None, bias=None):
        super().__init__()
        self._header = None
        self.register_buffer("qweight", None)
        self.register_buffer("scales", None)
        self.register_buffer("zeros", None)
        self.register_buffer("perm", None)
        self.register_buffer("bias", None)
        if packed is not None:
            self._set_packed(packed, bias)

    def _set_packed(self, packed, bias):
        fields = packed.header
        if bias is not None:
            bias = bias.detach().to(device=packed.qweight.device, dtype=packed.act_dtype)
            if list(bias.shape) != [fields["n"]]:
                raise shape_error(f"bias has shape {list(bias.shape)}: expected [{fields['n']}]")
        self._header = header_list(fields)
        self.qweight, self.scales, self.zeros, self.perm = (packed.qweight, packed.scales,
                                                            packed.zeros, packed.perm)
        self.bias = bias

    @property
    def in_features(self):
        return header_dict(self._header)["k"]

    @property
    def out_features(self):
        return header_dict(self._header)["n"]

    @property
    def packed(self):
        return PackedWeight(header_dict(self._header), self.qweight, self.scales, self.zeros,
                            self.perm)

    def forward(self, x):
        if self._header is None:
            raise argument_error("W4A16Linear has no weight: build it with from_linear, "
                                 "from_checkpoint or load_state_dict")
        out = ops.eager_gemm(x, self.qweight, self.scales, self.zeros, self.perm, self.bias,
                             self._header)
        if out is not None:
            return out
        return torch.ops.w4a16.gemm(x, self.qweight, self.scales, self.zeros, self.perm,
                                    self.bias, self._header)

    def kernel_name(self, rows):
        """The kernel a call with `rows` rows of x would run."""
        return ops.kernel_name(rows, self.qweight, self.scales, self.zeros, self.perm,
                               self._header, self.qweight.device)

    def packed_bytes(self):
        """Device bytes of the packed weight (without the bias)."""
        return self.packed.nbytes()

    # The header travels in the state_dict as extra state; buffers are taken
    # whole on load (their sizes come from the saved weight, not from self).
    def get_extra_state(self):
        return {"w4a16_header": header_dict(self._header) if self._header else None}

    def set_extra_state(self, state):
        header = state.get("w4a16_header") if isinstance(state, dict) else None
        self._header = header_list(header) if header else None

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name in ("qweight", "scales", "zeros", "perm", "bias"):
            key = prefix + name
            if key in state_dict:
                value = state_dict[key]
                device = self.qweight.device if self.qweight is not None else value.device
                setattr(self, name, value.detach().to(device))
            elif name in ("qweight", "scales") and strict:
                missing_keys.append(key)
            else:
                setattr(self, name, None)
        extra = prefix + "_extra_state"
        if extra in state_dict:
            self.set_extra_state(state_dict[extra])
        elif strict:
            missing_keys.append(extra)

    def extra_repr(self):
        if self._header is None:
            return "empty"
        fields = header_dict(self._header)
        group = "per-channel" if fields["group_size"] < 0 else fields["group_size"]
        return (f"in_features={fields['k']}, out_features={fields['n']}, group_size={group}, "
                f"symmetric={self.zeros is None}, act_order={self.perm is not None}, "
                f"bias={self.bias is not None}, act_dtype={self.packed.act_dtype}")

    @classmethod
    def from_quantized(cls, weight, bias=None, act_dtype=torch.float16, device=None,
                       format="ct"):
        """Packs a QuantizedWeight (w4a16.quantize's result) through `format`'s
        tensors ("awq", "gptq", "gptq_v2" or "ct": the same packed weight,
        whichever the source layout)."""
        return cls.from_format_tensors(format, formats.encode(weight, format), weight.n,
                                       weight.k, weight.group_size, weight.symmetric,
                                       weight.scales_dtype if format == "ct" else "F16", bias,
                                       act_dtype, device)

    @classmethod
    def from_format_tensors(cls, format, tensors, n, k, group_size, symmetric, scales_dtype,
                            bias=None, act_dtype=torch.float16, device=None):
        """Packs one layer given as `format`'s host tensors (numpy arrays named
        as formats.encode returns them)."""
        names = formats.TENSOR_NAMES[format]
        address = lambda role: (tensors[names[role]].ctypes.data
                                if names[role] and names[role] in tensors else None)
        g_idx = address("g_idx")
        if g_idx is not None and formats.trivial_g_idx(tensors[names["g_idx"]], k, group_size):
            g_idx = None
        source = formats.source(format, n, k, group_size, address("qweight"), address("scales"),
                                scales_dtype, qzeros=None if symmetric else address("qzeros"),
                                g_idx=g_idx)
        return cls(pack([source], act_dtype, device), bias)

    @classmethod
    def from_linear(cls, linear, group_size=128, symmetric=True, act_dtype=None, device=None):
        """Quantizes a dense nn.Linear with the library's RTN quantizer and packs
        it. act_dtype: the activations' dtype (default: the linear's, if float16
        or bfloat16, else float16); scales are stored in it. device: a CUDA
        device (default: the linear's, if CUDA, else the current one)."""
        weight = linear.weight.detach()
        act_dtype = act_dtype or (weight.dtype if weight.dtype in (torch.float16, torch.bfloat16)
                                  else torch.float16)
        if device is None and weight.is_cuda:
            device = weight.device
        scales_dtype = "BF16" if act_dtype == torch.bfloat16 else "F16"
        quantized = quantize(weight.float().cpu().numpy(), group_size, symmetric, scales_dtype)
        return cls.from_quantized(quantized, linear.bias, act_dtype, device)

    @classmethod
    def from_checkpoint(cls, checkpoint, names, bias=None, act_dtype=torch.float16,
                        device=None, rank=0, world=1, parallel=None):
        """Packs one checkpoint layer, or several concatenated along N (merged
        q|k|v or gate|up: the names in order). checkpoint: a path or an open
        Checkpoint. Errors name the layer.

        Tensor parallelism: rank `rank` of `world` packs only its part
        (w4a16.shard): parallel="column" takes rows [r·n/world, (r+1)·n/world)
        of each layer (q_r|k_r|v_r), parallel="row" columns
        [r·k/world, (r+1)·k/world), whose outputs the ranks sum. bias [n] is
        the whole layer's (merged: the layers' biases concatenated); a column
        shard keeps each layer's rank rows of it, a row shard keeps it on rank
        0 alone."""
        names = [names] if isinstance(names, str) else list(names)
        if parallel is None and (world != 1 or rank != 0):
            raise argument_error(f"rank={rank}, world={world} needs parallel='column' or 'row'")
        owned = not isinstance(checkpoint, Checkpoint)
        ckpt = Checkpoint(checkpoint) if owned else checkpoint
        context = "layer " + " | ".join(names)
        try:
            for name in names:
                layer = ckpt.layer(name)
                if layer.status != "quantized":
                    raise argument_error(f"layer {name} is {layer.status} in {ckpt.path}"
                                         + (f": {layer.reason}" if layer.reason else ""))
            sources = [ckpt.source(name) for name in names]
            if parallel is not None:  # cut on the host: only the rank's part reaches the GPU
                sources = [shard(source, rank, world, parallel, f"layer {name}")
                           for source, name in zip(sources, names)]
                bias = shard_bias(bias, [ckpt.layer(name).n for name in names], rank, world,
                                  parallel)
            packed = pack(sources, act_dtype, device, context=context)
        finally:
            if owned:
                ckpt.close()
        return cls(packed, bias)


def dequantized_linear(weight, bias=None, dtype=torch.float16, device=None):
    """A dense nn.Linear holding Ŵ (a QuantizedWeight, dequantized) in dtype:
    the same model without the 4-bit kernels, for comparisons."""
    linear = nn.Linear(weight.k, weight.n, bias=bias is not None, device=device, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight.dequantize())))
        if bias is not None:
            linear.bias.copy_(bias)
    return linear
