"""Dtype names between Python (strings, numpy, torch) and w4a16_dtype, and
bfloat16 held in numpy as its uint16 bit pattern (numpy has no bfloat16)."""
import numpy as np

from . import _capi

_ALIASES = {
    "f16": "F16", "fp16": "F16", "float16": "F16", "half": "F16",
    "bf16": "BF16", "bfloat16": "BF16",
    "f32": "F32", "fp32": "F32", "float32": "F32", "float": "F32",
}


def dtype_name(dtype):
    """"F16", "BF16" or "F32" (safetensors spelling) for a string such as
    "f16" / "bfloat16", a numpy dtype or a torch dtype; ValueError otherwise."""
    text = str(dtype)
    key = text.split(".")[-1].lower()  # "torch.bfloat16" -> "bfloat16"
    if key in _ALIASES:
        return _ALIASES[key]
    if text.upper() in _ALIASES.values():
        return text.upper()
    raise ValueError(f"dtype {dtype!r} is not one of f16, bf16, f32")


def dtype_code(dtype):
    """The w4a16_dtype value of a dtype dtype_name accepts."""
    return _capi.DTYPE[dtype_name(dtype)]


def numpy_storage(name):
    """The numpy dtype that stores a safetensors dtype's bytes (BF16 as uint16 bits)."""
    storage = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": np.uint16,
               "I8": np.int8, "U8": np.uint8, "I16": np.int16, "U16": np.uint16,
               "I32": np.int32, "U32": np.uint32, "I64": np.int64, "U64": np.uint64,
               "BOOL": np.bool_}
    if name not in storage:
        raise ValueError(f"dtype {name} has no numpy storage here")
    return np.dtype(storage[name])


def float32_to_bf16_bits(values):
    """Rounds float32 values to bfloat16 (nearest, ties to even); uint16 bits."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def bf16_bits_to_float32(bits):
    """bfloat16 bit patterns (uint16) to float32, exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def store_as(values, name):
    """float values as the bytes of dtype `name` (F16, BF16, F32), rounded to nearest."""
    if name == "BF16":
        return float32_to_bf16_bits(values)
    return np.asarray(values, dtype=numpy_storage(name))


def load_as_float32(stored, name):
    """Stored F16 / BF16 (uint16 bits) / F32 values as float32, exactly."""
    if name == "BF16":
        return bf16_bits_to_float32(stored)
    return np.asarray(stored).astype(np.float32)
