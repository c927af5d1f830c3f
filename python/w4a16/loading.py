"""load_quantized: a Hugging Face model's linear layers swapped for packed
W4A16Linear ones, from an AWQ / GPTQ / compressed-tensors checkpoint or from
a state_dict saved after an earlier load (no packing then).

Layer by layer: each quantized layer is packed onto the device and replaces
its nn.Linear, which is dropped at once, so device memory after loading is
the packed size (plus the layers left in 16 bits) and the peak is about one
layer more. The model keeps its own modules (separate q, k, v, gate, up);
lm_head and the embeddings stay in 16 bits unless the checkpoint quantized
them.
"""
from collections.abc import Mapping

import torch
from torch import nn

from .checkpoint import Checkpoint
from .errors import argument_error, format_error, shape_error, unsupported_error
from .linear import W4A16Linear
from .packing import cuda_device


def _set_module(model, name, module):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def _model_dtype(model, dtype):
    if dtype is not None:
        if dtype not in (torch.float16, torch.bfloat16):
            raise argument_error(f"dtype {dtype} is not torch.float16 or torch.bfloat16")
        return dtype
    floating = [p.dtype for p in model.parameters() if p.is_floating_point()]
    if floating and floating[0] in (torch.float16, torch.bfloat16):
        return floating[0]
    raise argument_error(f"the model's parameters are {floating[0] if floating else 'absent'}: "
                         f"pass dtype=torch.float16 or torch.bfloat16 (the activations' dtype)")


def _as_torch(array, dtype_name):
    tensor = torch.from_numpy(array.copy())
    return tensor.view(torch.bfloat16) if dtype_name == "BF16" else tensor


def _assign(model, key, value):
    """Puts a checkpoint tensor into the model's parameter or buffer `key`."""
    module_name, _, leaf = key.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    current = getattr(module, leaf)
    if tuple(current.shape) != tuple(value.shape):
        raise shape_error(f"tensor {key}: the checkpoint's shape {list(value.shape)} is not the "
                          f"model's {list(current.shape)}")
    if current.device.type != "meta":
        with torch.no_grad():
            current.copy_(value)  # in place: weights tied to this one follow
    elif leaf in module._parameters:
        module._parameters[leaf] = nn.Parameter(value.to(current.dtype), requires_grad=False)
    else:
        module._buffers[leaf] = value.to(current.dtype)


def _check_layer(name, layer, module):
    if layer.status == "malformed":
        raise format_error(f"layer {name}: {layer.reason}")
    if layer.status == "unsupported":
        raise unsupported_error(f"layer {name}: {layer.reason}")
    if not isinstance(module, nn.Linear):
        raise argument_error(f"layer {name}: the model's module is {type(module).__name__}, "
                             f"not nn.Linear")
    if (module.out_features, module.in_features) != (layer.n, layer.k):
        raise shape_error(f"layer {name}: the checkpoint's weight is [{layer.n}, {layer.k}] but "
                          f"the model's is [{module.out_features}, {module.in_features}]")


def load_quantized(model, checkpoint, device=None, dtype=None, merge=False, progress=None):
    """Swaps the model's nn.Linear layers for W4A16Linear, in place; returns it.

    model       a torch model (e.g. transformers' AutoModelForCausalLM.from_config),
                on any device, "meta" included
    checkpoint  a path (folder, .safetensors, shard index) or open Checkpoint of
                an AWQ / GPTQ / compressed-tensors model whose layer names are
                the model's module names; or a state_dict of a model this
                function loaded before (its packed buffers are taken as they
                are, without packing)
    device      the CUDA device for the packed layers (default: the current one);
                the rest of the model is moved there too
    dtype       the activations' dtype, torch.float16 or torch.bfloat16 (default:
                the model's)
    merge       fuse q|k|v and gate|up: not offered yet (separate modules measure
                the shapes the decode kernel was tuned for)
    progress    called as progress(done, total, layer_name) after each layer

    The checkpoint's other tensors (embeddings, norms, lm_head, biases) are
    copied into the model where their names match. A layer the checkpoint
    quantized in a way the library cannot read, or whose shape differs from
    the model's, raises naming it.
    """
    if merge:
        raise argument_error("merge=True is not offered: load_quantized keeps the model's "
                             "separate q, k, v, gate and up modules")
    device = cuda_device(device)
    if isinstance(checkpoint, Mapping):
        return _load_packed_state(model, checkpoint, device)
    dtype = _model_dtype(model, dtype)
    owned = not isinstance(checkpoint, Checkpoint)
    ckpt = Checkpoint(checkpoint) if owned else checkpoint
    try:
        modules = dict(model.named_modules())
        layers = [(i, l) for i, l in enumerate(ckpt.layers)
                  if l.status != "unquantized" and l.name in modules]
        if not layers:
            raise argument_error(f"none of the {len(ckpt.layers)} layers of {ckpt.path} is a "
                                 f"module of the model (names must match, e.g. "
                                 f"{ckpt.layers[0].name if ckpt.layers else 'none'})")
        for _, layer in layers:  # every layer checked before any is packed
            _check_layer(layer.name, layer, modules[layer.name])
        tensors = {t.name: t for t in ckpt.tensors}
        for done, (_, layer) in enumerate(layers, 1):
            module = modules.pop(layer.name)
            bias = None
            if layer.name + ".bias" in tensors:
                bias = _as_torch(ckpt.tensor(layer.name + ".bias"),
                                 tensors[layer.name + ".bias"].dtype)
            elif module.bias is not None and module.bias.device.type != "meta":
                bias = module.bias
            _set_module(model, layer.name, W4A16Linear.from_checkpoint(ckpt, layer.name, bias,
                                                                       dtype, device))
            del module  # the dense weight goes now, not at the end
            if progress:
                progress(done, len(layers), layer.name)
        packed_layers = {i for i, _ in layers}
        packed_prefixes = {l.name for _, l in layers}
        state = model.state_dict(keep_vars=True)
        for tensor in ckpt.tensors:
            if (tensor.layer in packed_layers or tensor.name not in state
                    or tensor.name.rpartition(".")[0] in packed_prefixes):
                continue
            _assign(model, tensor.name, _as_torch(ckpt.tensor(tensor.name), tensor.dtype))
        if hasattr(model, "tie_weights"):  # transformers: lm_head shares the embeddings
            model.tie_weights()
    finally:
        if owned:
            ckpt.close()
    _check_materialized(model)
    return model.to(device)


def _check_materialized(model):
    left = [name for name, p in list(model.named_parameters()) + list(model.named_buffers())
            if p.device.type == "meta"]
    if left:
        raise argument_error(f"{len(left)} tensors are still on the meta device (the "
                             f"checkpoint does not hold them), e.g. {', '.join(left[:3])}")


def _load_packed_state(model, state_dict, device):
    prefixes = [key[: -len("._extra_state")] for key, value in state_dict.items()
                if key.endswith("._extra_state") and isinstance(value, dict)
                and "w4a16_header" in value]
    for prefix in prefixes:
        module = model.get_submodule(prefix)
        if not isinstance(module, (nn.Linear, W4A16Linear)):
            raise argument_error(f"layer {prefix}: the model's module is "
                                 f"{type(module).__name__}, not nn.Linear")
        if isinstance(module, nn.Linear):
            _set_module(model, prefix, W4A16Linear())
    model.load_state_dict(state_dict, strict=True, assign=True)
    _check_materialized(model)
    return model.to(device)
