"""Reading AWQ / GPTQ / compressed-tensors checkpoints through libw4a16.

    with w4a16.Checkpoint("path/to/model") as ckpt:
        ckpt.format                       # "awq", "gptq", "gptq_v2", "ct" or "dense"
        ckpt.layers                       # [Layer(name, status, reason, n, k, ...)]
        ckpt.tensor("model.norm.weight")  # numpy view of the mapped file

    w4a16.inspect(path)                   # what `w4a16 inspect --json` prints
"""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _capi, _dtypes
from ._library import lib
from .errors import argument_error, check

_STATUS_NAMES = {_capi.LAYER_QUANTIZED: "quantized", _capi.LAYER_UNQUANTIZED: "unquantized",
                 _capi.LAYER_UNSUPPORTED: "unsupported", _capi.LAYER_MALFORMED: "malformed"}


def format_code(format):
    """The w4a16_format value of "awq", "gptq", "gptq_v2", "ct", "dense" or "auto" (None)."""
    if format is None:
        return _capi.FORMAT_AUTO
    code = ctypes.c_int()
    check(lib().w4a16_format_parse(str(format).encode(), ctypes.byref(code)))
    return code.value


def format_name(code):
    return lib().w4a16_format_name(code).decode()


@dataclass(frozen=True)
class Layer:
    """One linear layer of a checkpoint: `status` is "quantized" (readable),
    "unquantized" (left dense by the checkpoint), "malformed" (its tensors break
    the format's rules) or "unsupported" (valid, out of scope); `reason` says
    why; n = out_features, k = in_features; group_size -1 is per-channel."""
    name: str
    status: str
    reason: str
    n: int
    k: int
    group_size: int
    symmetric: bool
    act_order: bool


@dataclass(frozen=True)
class Tensor:
    """One tensor of a checkpoint; `layer` is the index of the quantized layer it
    belongs to, or -1."""
    name: str
    dtype: str
    shape: tuple
    nbytes: int
    layer: int


class Checkpoint:
    """An open checkpoint: a folder (config.json + model.safetensors or a shard
    index), a .safetensors file, or a model.safetensors.index.json. `format`
    ("awq", "gptq", "gptq_v2", "ct", "dense") is needed only for a bare
    .safetensors without config.json. The files stay mapped until close()."""

    def __init__(self, path, format=None):
        self.path = str(path)
        handle = ctypes.c_void_p()
        check(lib().w4a16_checkpoint_open(self.path.encode(), format_code(format),
                                                 ctypes.byref(handle)))
        self._handle = handle
        try:
            self.format = format_name(lib().w4a16_checkpoint_format(handle))
            self.layers = [self._layer(i)
                           for i in range(lib().w4a16_checkpoint_layer_count(handle))]
            self.tensors = [self._tensor(i)[0]
                            for i in range(lib().w4a16_checkpoint_tensor_count(handle))]
        except BaseException:
            self.close()
            raise
        self._layer_index = {layer.name: i for i, layer in enumerate(self.layers)}
        self._tensor_index = {tensor.name: i for i, tensor in enumerate(self.tensors)}

    def _live_handle(self):
        if self._handle is None:
            raise argument_error(f"checkpoint {self.path} is closed")
        return self._handle

    def _layer(self, index):
        info = _capi.LayerInfo()
        check(lib().w4a16_checkpoint_layer(self._live_handle(), index, ctypes.byref(info)))
        return Layer(name=info.name.decode(), status=_STATUS_NAMES.get(info.status, "unsupported"),
                     reason=(info.reason or b"").decode(), n=info.n, k=info.k,
                     group_size=info.group_size, symmetric=bool(info.symmetric),
                     act_order=bool(info.act_order))

    def _tensor(self, index):
        info = _capi.TensorInfo()
        check(lib().w4a16_checkpoint_tensor(self._live_handle(), index, ctypes.byref(info)))
        tensor = Tensor(name=info.name.decode(),
                        dtype=lib().w4a16_dtype_name(info.dtype).decode(),
                        shape=tuple(info.shape[d] for d in range(info.ndim)),
                        nbytes=info.nbytes, layer=info.layer)
        return tensor, info.data

    def layer_index(self, name):
        """Index of the layer with this prefix (e.g. "model.layers.0.mlp.up_proj")."""
        if name not in self._layer_index:
            raise argument_error(f"no layer {name!r} in checkpoint {self.path}")
        return self._layer_index[name]

    def layer(self, name):
        return self.layers[self.layer_index(name)]

    def tensor(self, name):
        """A tensor's values as a read-only numpy array viewing the mapped file
        (BF16 as its uint16 bits); valid until close()."""
        if name not in self._tensor_index:
            raise argument_error(f"no tensor {name!r} in checkpoint {self.path}")
        tensor, data = self._tensor(self._tensor_index[name])
        storage = _dtypes.numpy_storage(tensor.dtype)
        count = tensor.nbytes // storage.itemsize
        if count == 0:
            return np.zeros(tensor.shape, dtype=storage)
        buffer = (ctypes.c_char * tensor.nbytes).from_address(data)
        array = np.frombuffer(buffer, dtype=storage, count=count).reshape(tensor.shape)
        array.flags.writeable = False
        return array

    def source(self, name):
        """The layer's w4a16_source (host pointers into the mapped file)."""
        source = _capi.Source()
        check(lib().w4a16_checkpoint_source(self._live_handle(), self.layer_index(name),
                                                   ctypes.byref(source)), f"layer {name}")
        return source

    def close(self):
        if getattr(self, "_handle", None) is not None:
            lib().w4a16_checkpoint_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        quantized = sum(layer.status == "quantized" for layer in self.layers)
        return (f"Checkpoint({self.path!r}, format={self.format!r}, "
                f"{quantized}/{len(self.layers)} layers quantized, {len(self.tensors)} tensors)")


def inspect(path, format=None):
    """A checkpoint's structure, as `w4a16 inspect --json` prints it:
    {format, layers: [{name, status, reason, n, k, group_size, symmetric,
    act_order}], other_tensors: [{name, dtype, shape}], tensor_count, bytes}.
    other_tensors are those outside any readable quantized layer. Unlike the
    program, it returns the structure even when no layer is readable: the
    reasons are in it."""
    with Checkpoint(path, format) as ckpt:
        readable = {i for i, layer in enumerate(ckpt.layers) if layer.status == "quantized"}
        return {
            "format": ckpt.format,
            "layers": [{"name": l.name, "status": l.status, "reason": l.reason, "n": l.n,
                        "k": l.k, "group_size": l.group_size, "symmetric": l.symmetric,
                        "act_order": l.act_order} for l in ckpt.layers],
            "other_tensors": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}
                              for t in ckpt.tensors if t.layer not in readable],
            "tensor_count": len(ckpt.tensors),
            "bytes": sum(t.nbytes for t in ckpt.tensors),
        }
