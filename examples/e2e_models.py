"""The three models of examples/qwen3_e2e.py, built from one random fp16
Qwen3 in place, one after the other (so that only one is on the device at a
time and its peak memory is its own):

  fp16        the model with each linear layer's weight replaced by Ŵ, its
              4-bit quantization dequantized and rounded to fp16: the
              reference for correctness and the 16-bit baseline for speed
  w4a16       the same Ŵ packed by the library (W4A16Linear)
  torch_int4  the same q, z, s in torch's own int4 layout
              (_weight_int4pack_mm), bf16 activations as it requires

and with --merge a fourth after w4a16:

  w4a16_merged  the same Ŵ loaded by load_quantized(merge=True) from a
                checkpoint of the layers written to a temporary folder:
                q|k|v and gate|up packed as one layer each

lm_head and the embeddings stay in 16 bits in all of them.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

import w4a16
from w4a16 import formats
from w4a16.checkpoint_writer import quantization_config, write_safetensors


def linear_names(model):
    """The decoder's linear layers (q, k, v, o, gate, up, down); not lm_head."""
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and name != "lm_head"]


def set_module(model, name, module):
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def log(message):
    print(message, file=sys.stderr, flush=True)


class QuantizedLayer:
    """One layer's quantization, as the format's tensors (host) and q, z, s."""

    def __init__(self, weight, format):
        self.weight = weight
        self.format = format
        self.tensors = formats.encode(weight, format)


def quantize_model(model, format, group_size, symmetric, threads=16):
    """Quantizes every decoder linear layer with the library's RTN quantizer
    (in parallel: ctypes releases the GIL) and replaces its weight by Ŵ in
    fp16. Returns {name: QuantizedLayer}."""
    names = linear_names(model)
    start = time.time()

    def work(name):
        dense = model.get_submodule(name).weight.detach().float().cpu().numpy()
        return name, QuantizedLayer(w4a16.quantize(dense, group_size, symmetric, "F16"), format)

    layers = {}
    with ThreadPoolExecutor(threads) as pool:
        for done, (name, layer) in enumerate(pool.map(work, names), 1):
            linear = model.get_submodule(name)
            with torch.no_grad():
                linear.weight.copy_(dequantize_on_device(layer.weight, linear.weight.device))
            layers[name] = layer
            if done % 28 == 0 or done == len(names):
                log(f"quantized {done}/{len(names)} layers ({time.time() - start:.0f} s)")
    return layers


def dequantize_on_device(weight, device):
    """Ŵ = (q - z) * s in fp32 on the device (exact: small integers times
    fp16-exact scales), rounded to fp16."""
    q = torch.from_numpy(weight.q).to(device).float()
    groups = torch.from_numpy(weight.column_groups()).to(device)
    zeros = torch.from_numpy(weight.zero_points()).to(device).float()[:, groups]
    scales = torch.from_numpy(weight.scales).to(device)[:, groups]
    return ((q - zeros) * scales).half()


def to_w4a16(model, layers, dtype=torch.float16):
    """Replaces each linear layer by W4A16Linear, freeing the dense weight at once."""
    start = time.time()
    for done, (name, layer) in enumerate(layers.items(), 1):
        linear = model.get_submodule(name)
        weight = layer.weight
        packed = w4a16.W4A16Linear.from_format_tensors(
            layer.format, layer.tensors, weight.n, weight.k, weight.group_size,
            weight.symmetric, "F16", linear.bias, dtype, linear.weight.device)
        set_module(model, name, packed)
        del linear
        if done % 28 == 0 or done == len(layers):
            log(f"packed {done}/{len(layers)} layers ({time.time() - start:.1f} s)")
    torch.cuda.empty_cache()
    return model


def to_w4a16_merged(model, layers, directory, group_size, symmetric, dtype=torch.float16):
    """The w4a16 model's layers loaded again by load_quantized(merge=True),
    from a checkpoint of them written into `directory` (the quantized layers
    alone: the rest of the model stays as it is). Each W4A16Linear is first
    swapped for an nn.Linear on the meta device, so only one copy of the
    packed weights is on the device at a time."""
    start = time.time()
    format = next(iter(layers.values())).format
    tensors = {f"{name}.{tensor}": array for name, layer in layers.items()
               for tensor, array in layer.tensors.items()}
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    with open(os.path.join(directory, "config.json"), "w") as out:
        json.dump({"quantization_config": quantization_config(format, group_size, symmetric)},
                  out)
    log(f"wrote the {format} checkpoint of {len(layers)} layers ({time.time() - start:.0f} s)")
    device = next(model.parameters()).device
    for name, layer in layers.items():
        set_module(model, name, nn.Linear(layer.weight.k, layer.weight.n, bias=False,
                                          device="meta", dtype=dtype))
    torch.cuda.empty_cache()
    start = time.time()
    w4a16.load_quantized(model, directory, device=device, dtype=dtype, merge=True)
    log(f"loaded merged ({time.time() - start:.1f} s)")
    torch.cuda.empty_cache()
    return model


def w4a16_layer_names(model):
    """The model's W4A16Linear modules (merged ones included, not their parts)."""
    return [name for name, module in model.named_modules()
            if isinstance(module, w4a16.W4A16Linear)]


def drop_merged(model):
    """Removes the merged layers (qkv_proj, gate_up_proj) from their parents,
    once their parts have been replaced."""
    for name in [n for n, m in model.named_modules() if isinstance(m, w4a16.W4A16MergedLinear)]:
        parent, _, child = name.rpartition(".")
        delattr(model.get_submodule(parent), child)
    torch.cuda.empty_cache()


class Int4Linear(nn.Module):
    """torch's int4 weight-only linear: y = x · Ŵᵀ with Ŵ = (q - 8) * s + m per
    group, m = (8 - z) * s; bf16 activations."""

    def __init__(self, weight, device, inner_k_tiles=8):
        super().__init__()
        q = torch.from_numpy(weight.q).to(device=device, dtype=torch.int32)
        packed_bytes = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
        self.register_buffer("weight_int4", torch.ops.aten._convert_weight_to_int4pack(
            packed_bytes, inner_k_tiles))
        scales = torch.from_numpy(weight.scales).to(device)  # [n, groups]
        offsets = (8.0 - torch.from_numpy(weight.zero_points()).to(device).float()) * scales
        self.register_buffer("scales_and_zeros", torch.stack([scales, offsets], dim=2)
                             .transpose(0, 1).contiguous().to(torch.bfloat16))
        self.group_size = weight.k if weight.group_size < 0 else weight.group_size
        self.in_features = weight.k
        self.out_features = weight.n

    def forward(self, x):
        rows = x.reshape(-1, x.shape[-1])
        out = torch.ops.aten._weight_int4pack_mm(rows, self.weight_int4, self.group_size,
                                                 self.scales_and_zeros)
        return out.reshape(*x.shape[:-1], self.out_features)


def to_torch_int4(model, layers):
    """The w4a16 model's layers replaced by Int4Linear, the rest in bf16."""
    device = next(model.parameters()).device
    for name, layer in layers.items():
        set_module(model, name, Int4Linear(layer.weight, device))
    torch.cuda.empty_cache()
    return model.to(torch.bfloat16)
