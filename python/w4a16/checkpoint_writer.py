"""Writing quantized checkpoints from Python: a `.safetensors` file and the
`config.json` quantization_config each format's own tools write (the same
objects as src/quantize/quantization_config.c), so that w4a16, vLLM and
transformers all read the folder back.

    save_quantized("out/", "awq", {"model.layers.0.mlp.up_proj": quantize(w)},
                   other_tensors={"model.norm.weight": norm}, config=model_config)
"""
import json
import os
import struct

import numpy as np

from . import formats
from .errors import argument_error

_SAFETENSORS_DTYPES = {np.dtype(t): name for t, name in (
    (np.float16, "F16"), (np.float32, "F32"), (np.float64, "F64"), (np.int8, "I8"),
    (np.uint8, "U8"), (np.int16, "I16"), (np.uint16, "U16"), (np.int32, "I32"),
    (np.int64, "I64"), (np.bool_, "BOOL"))}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} as a .safetensors file (names in sorted order, the
    header padded with spaces to 8 bytes). An array may be given as
    (uint16 array, "BF16") for bfloat16 bit patterns."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        value = tensors[name]
        array, dtype = (value if isinstance(value, tuple) else (value, None))
        array = np.ascontiguousarray(array)
        dtype = dtype or _SAFETENSORS_DTYPES.get(array.dtype)
        if dtype is None:
            raise argument_error(f"tensor {name}: numpy dtype {array.dtype} has no "
                                 f"safetensors name")
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def quantization_config(format, group_size, symmetric, act_order=False, ignore=()):
    """config.json's quantization_config for a checkpoint in `format`."""
    formats.check_format(format)
    ignore = list(ignore)
    if format == "awq":
        if act_order:
            raise argument_error("awq cannot store act-order weights")
        return {"quant_method": "awq", "bits": 4, "group_size": group_size,
                "zero_point": not symmetric, "version": "gemm",
                "modules_to_not_convert": ignore or None}
    if format in ("gptq", "gptq_v2"):
        config = {"quant_method": "gptq", "bits": 4, "group_size": group_size, "sym": symmetric,
                  "desc_act": act_order, "checkpoint_format": format}
        if ignore:  # GPTQModel's "-:" entries skip the modules their regex matches
            config["dynamic"] = {"-:" + "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c
                                                for c in name) + "$": {} for name in ignore}
        return config
    per_channel = group_size < 0
    return {"quant_method": "compressed-tensors", "format": "pack-quantized",
            "quantization_status": "compressed",
            "config_groups": {"group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "int", "symmetric": symmetric,
                            "strategy": "channel" if per_channel else "group",
                            "group_size": None if per_channel else group_size,
                            "actorder": "group" if act_order else None, "dynamic": False},
                "input_activations": None, "output_activations": None}},
            "ignore": ignore}


def save_quantized(directory, format, layers, other_tensors=None, config=None, ignore=()):
    """Writes directory/model.safetensors and directory/config.json.

    layers         {prefix: QuantizedWeight}, all with one group size and
                   symmetry (one quantization_config describes them)
    other_tensors  {name: array or (uint16 array, "BF16")}: embeddings, norms,
                   layers left dense
    config         the model's config.json fields; quantization_config is added
    ignore         names of linear layers left dense (listed in the config)
    """
    if not layers:
        raise argument_error("save_quantized needs at least one quantized layer")
    kinds = {(w.group_size, w.symmetric) for w in layers.values()}
    if len(kinds) != 1:
        raise argument_error(f"layers mix group sizes / symmetry {sorted(kinds)}: "
                             f"one checkpoint holds one quantization_config")
    group_size, symmetric = kinds.pop()
    act_order = any(w.g_idx is not None for w in layers.values())
    tensors = dict(other_tensors or {})
    for prefix, weight in layers.items():
        for name, array in formats.encode(weight, format).items():
            bf16 = name in ("weight_scale",) and weight.scales_dtype == "BF16"
            tensors[f"{prefix}.{name}"] = (array, "BF16") if bf16 else array
    os.makedirs(directory, exist_ok=True)
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    full_config = dict(config or {})
    full_config["quantization_config"] = quantization_config(format, group_size, symmetric,
                                                             act_order, ignore)
    with open(os.path.join(directory, "config.json"), "w") as out:
        json.dump(full_config, out, indent=2)
