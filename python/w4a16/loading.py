"""load_quantized: a Hugging Face model's linear layers swapped for packed
W4A16Linear ones, from an AWQ / GPTQ / compressed-tensors checkpoint or from
a state_dict saved after an earlier load (no packing then).

Layer by layer: each quantized layer is packed onto the device and replaces
its nn.Linear, which is dropped at once, so device memory after loading is
the packed size (plus the layers left in 16 bits) and the peak is about one
layer more. By default the model keeps its own modules (separate q, k, v,
gate, up); with merge=True each q|k|v and gate|up group is packed as one
W4A16MergedLinear (merged.py) and its layers become views of it, a group at
a time (the peak: one group more). lm_head and the embeddings stay in 16
bits unless the checkpoint quantized them.
"""
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._library import lib
from .checkpoint import Checkpoint
from .errors import argument_error, format_error, shape_error, unsupported_error
from .linear import W4A16Linear
from .merged import W4A16MergedLinear, install_merged
from .packing import cuda_device

# What merge=True fuses: layers of one parent module that read the same
# input, by their names there (transformers' Llama / Qwen / Mistral names),
# and the name the merged layer takes beside them.
MERGED_GROUPS = ((("q_proj", "k_proj", "v_proj"), "qkv_proj"),
                 (("gate_proj", "up_proj"), "gate_up_proj"))


@dataclass(frozen=True)
class _Group:
    """One group merge=True fuses: `members` of the module `parent`."""
    parent: str
    members: tuple
    merged_name: str

    @property
    def names(self):
        return [f"{self.parent}.{m}" if self.parent else m for m in self.members]

    def __str__(self):
        return (f"{self.parent}." if self.parent else "") + "{" + ", ".join(self.members) + "}"


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


def _layer_bias(ckpt, tensors, name, module):
    """The layer's bias: the checkpoint's, else the model's (unless on meta), else None."""
    if name + ".bias" in tensors:
        return _as_torch(ckpt.tensor(name + ".bias"), tensors[name + ".bias"].dtype)
    if module.bias is not None and module.bias.device.type != "meta":
        return module.bias
    return None


def _g_idx(source, group_size):
    """A source's column groups as numpy int32 [k] (k // G when it has no g_idx)."""
    if source.g_idx:
        return np.ctypeslib.as_array(source.g_idx, shape=(source.k,))
    return (np.arange(source.k) // (source.k if group_size < 0 else group_size)).astype(np.int32)


def _merge_plan(model, ckpt, quantized):
    """The groups merge=True packs, each checked to be quantized alike, before
    anything is packed. A group none of whose layers the checkpoint quantized
    stays as it is; one it quantized in part, or in different ways, raises."""
    groups = []
    for parent_name, parent in model.named_modules():
        for members, merged_name in MERGED_GROUPS:
            if not all(m in parent._modules for m in members):
                continue
            group = _Group(parent_name, members, merged_name)
            present = [n in quantized for n in group.names]
            if not any(present):
                continue
            if not all(present):
                missing = [m for m, p in zip(members, present) if not p]
                raise unsupported_error(
                    f"merge=True: layer group {group}: {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not quantized in {ckpt.path}, "
                    f"so the group cannot be packed as one (load with merge=False)")
            _check_name_free(parent, group)
            _check_alike(ckpt, group)
            groups.append(group)
    if not groups:
        raise argument_error("merge=True: the model has no " + " or ".join(
            "|".join(members) for members, _ in MERGED_GROUPS) + " modules of one parent that "
            f"{ckpt.path} quantized: nothing to merge (load with merge=False)")
    return groups


def _check_name_free(parent, group):
    if group.merged_name in parent._modules or hasattr(parent, group.merged_name):
        raise argument_error(f"layer group {group}: {group.parent or 'the model'} already has "
                             f"an attribute {group.merged_name!r}, the merged layer's name")


def _check_alike(ckpt, group):
    """Raises unless the group's layers are quantized the same way: the same K,
    group size, symmetry, scales dtype and column groups (act-order g_idx)."""
    names, members = group.names, group.members
    layers = [ckpt.layer(name) for name in names]
    sources = [ckpt.source(name) for name in names]

    def differ(detail):
        return unsupported_error(f"merge=True: layer group {group}: {detail}; a merged layer "
                                 f"needs its layers quantized alike (load with merge=False)")

    dtype_name = lambda source: lib().w4a16_dtype_name(source.scales_dtype).decode()
    for i in range(1, len(names)):
        for field, what in (("k", "in_features"), ("group_size", "group_size"),
                            ("symmetric", "symmetric"), ("act_order", "act_order")):
            value, first = getattr(layers[i], field), getattr(layers[0], field)
            if value != first:
                raise differ(f"{members[i]} has {what}={value} but {members[0]} has {first}")
        if sources[i].scales_dtype != sources[0].scales_dtype:
            raise differ(f"{members[i]} has {dtype_name(sources[i])} scales but {members[0]} "
                         f"has {dtype_name(sources[0])}")
        if layers[0].act_order and not np.array_equal(_g_idx(sources[i], layers[i].group_size),
                                                      _g_idx(sources[0], layers[0].group_size)):
            raise differ(f"{members[i]}'s act-order g_idx differs from {members[0]}'s")


def _pack_group(model, ckpt, tensors, group, modules, dtype, device):
    """Packs a group's layers as one W4A16MergedLinear and puts it and its
    parts in place of the dense layers, which go at once."""
    dense = [modules.pop(name) for name in group.names]
    biases = [_layer_bias(ckpt, tensors, name, module)
              for name, module in zip(group.names, dense)]
    bias = None
    if any(b is not None for b in biases):  # a layer without one adds zeros
        bias = torch.cat([b.detach().to(device=device, dtype=dtype) if b is not None
                          else torch.zeros(m.out_features, dtype=dtype, device=device)
                          for b, m in zip(biases, dense)])
    merged = W4A16MergedLinear.from_checkpoint(ckpt, group.names, bias, dtype, device)
    merged.set_parts(group.members, [m.out_features for m in dense])
    install_merged(model.get_submodule(group.parent), group.merged_name, merged)
    del dense, biases, bias  # the dense weights go now, not at the end


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
    merge       False: each layer its own W4A16Linear (the model's modules, the
                shapes the decode kernel was tuned for). True: each q_proj |
                k_proj | v_proj and gate_proj | up_proj group of one parent
                module packed as one W4A16MergedLinear, added to the parent as
                qkv_proj / gate_up_proj; the model's q_proj, ... become
                W4A16LinearPart views that return their columns of its output,
                so the model's forward runs one GEMM per group (the first part
                called with an input runs it, the others called with the same
                unchanged tensor take their columns). The members of a group
                must all be quantized alike (group size, symmetry, scales
                dtype, act-order g_idx): otherwise UnsupportedError names the
                group. A state_dict brings its own layout (merged or not);
                merge=True with one that holds no merged layer raises.
    progress    called as progress(done, total, layer_name) after each layer

    The checkpoint's other tensors (embeddings, norms, lm_head, biases) are
    copied into the model where their names match. A layer the checkpoint
    quantized in a way the library cannot read, or whose shape differs from
    the model's, raises naming it.
    """
    device = cuda_device(device)
    if isinstance(checkpoint, Mapping):
        return _load_packed_state(model, checkpoint, device, merge)
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
        groups = _merge_plan(model, ckpt, {l.name for _, l in layers}) if merge else []
        group_of = {name: group for group in groups for name in group.names}
        tensors = {t.name: t for t in ckpt.tensors}
        done, packed_groups = 0, set()
        for _, layer in layers:
            group = group_of.get(layer.name)
            if group is not None:
                if group in packed_groups:
                    continue  # packed with the group's first layer
                packed_groups.add(group)
                _pack_group(model, ckpt, tensors, group, modules, dtype, device)
                for name in group.names:
                    done += 1
                    if progress:
                        progress(done, len(layers), name)
                continue
            module = modules.pop(layer.name)
            bias = _layer_bias(ckpt, tensors, layer.name, module)
            _set_module(model, layer.name, W4A16Linear.from_checkpoint(ckpt, layer.name, bias,
                                                                       dtype, device))
            del module, bias  # the dense weight goes now, not at the end
            done += 1
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


def _load_packed_state(model, state_dict, device, merge=False):
    prefixes = [key[: -len("._extra_state")] for key, value in state_dict.items()
                if key.endswith("._extra_state") and isinstance(value, dict)
                and "w4a16_header" in value]
    parts = {prefix: state_dict[prefix + "._extra_state"].get("w4a16_parts")
             for prefix in prefixes}
    if merge and not any(parts.values()):
        raise argument_error("merge=True: this state_dict holds no merged layer (it was saved "
                             "from a model loaded with merge=False); merging packs again, "
                             "from the checkpoint")
    for prefix in prefixes:
        if parts[prefix]:
            _prepare_merged(model, prefix, parts[prefix])
            continue
        module = model.get_submodule(prefix)
        if not isinstance(module, (nn.Linear, W4A16Linear)):
            raise argument_error(f"layer {prefix}: the model's module is "
                                 f"{type(module).__name__}, not nn.Linear")
        if isinstance(module, nn.Linear):
            _set_module(model, prefix, W4A16Linear())
    model.load_state_dict(state_dict, strict=True, assign=True)
    _check_materialized(model)
    return model.to(device)


def _prepare_merged(model, prefix, parts):
    """An empty W4A16MergedLinear at `prefix`, its parts in place of the model's
    dense layers, for a saved merged layer (a model already merged keeps its own)."""
    parent_name, _, merged_name = prefix.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    names, out_features = list(parts["names"]), list(parts["out_features"])
    group = _Group(parent_name, tuple(names), merged_name)
    current = parent._modules.get(merged_name)
    if isinstance(current, W4A16MergedLinear):
        if current.part_names != names:
            raise argument_error(f"layer {prefix}: the model's merged layer has parts "
                                 f"{current.part_names}, the state_dict's {names}")
        return
    _check_name_free(parent, group)
    for name, n in zip(names, out_features):
        module = parent._modules.get(name)
        if not isinstance(module, nn.Linear):
            raise argument_error(f"layer group {group}: the model's {name} is "
                                 f"{type(module).__name__}, not nn.Linear")
        if module.out_features != n:
            raise shape_error(f"layer group {group}: the state_dict's {name} has "
                              f"{n} outputs but the model's has {module.out_features}")
    merged = W4A16MergedLinear(part_names=names, part_out_features=out_features)
    install_merged(parent, merged_name, merged)
