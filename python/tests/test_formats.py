"""The formats' tensors written from Python (formats.encode, save_quantized)
read back by the C library: the weight the library sees must be exactly the
quantized one."""
import json

import numpy as np
import pytest

import w4a16
from w4a16 import formats
from w4a16.checkpoint_writer import save_quantized, write_safetensors
from format_support import exact_weight, python_source, quantized

CASES = [(f, g, sym) for f in formats.FORMATS for g in (32, 128, -1) for sym in (True, False)
         if not (f == "gptq" and not sym)]  # v1 cannot store z = 0; covered below


@pytest.mark.parametrize("format,group_size,symmetric", CASES)
def test_encoded_tensors_read_back_exactly(format, group_size, symmetric):
    weight = quantized(40, 256, group_size, symmetric, seed=len(format) + group_size)
    if format == "gptq" and not symmetric:
        weight.zeros = np.maximum(weight.zeros, 1)  # v1 stores z - 1
    tensors = formats.encode(weight, format)
    got = exact_weight(python_source(format, weight, tensors))
    np.testing.assert_array_equal(got, weight.dequantize())


@pytest.mark.parametrize("format,group_size,symmetric", CASES)
def test_saved_checkpoint_reads_back(tmp_path, format, group_size, symmetric):
    weight = quantized(32, 128, group_size, symmetric, seed=3)
    norm = np.linspace(0.5, 1.5, 128).astype(np.float16)
    save_quantized(tmp_path, format, {"model.layers.0.mlp.up_proj": weight},
                   other_tensors={"model.norm.weight": norm},
                   config={"model_type": "llama", "hidden_size": 128})
    with w4a16.Checkpoint(tmp_path) as ckpt:
        assert ckpt.format == format
        layer = ckpt.layer("model.layers.0.mlp.up_proj")
        assert (layer.status, layer.n, layer.k, layer.group_size, layer.symmetric) == \
            ("quantized", 32, 128, group_size, symmetric)
        np.testing.assert_array_equal(exact_weight(ckpt.source(layer.name)), weight.dequantize())
        np.testing.assert_array_equal(ckpt.tensor("model.norm.weight"), norm)


def test_gptq_v1_zero_of_16_and_refusal_of_0(tmp_path):
    weight = quantized(16, 128, 128, False)
    weight.zeros = np.maximum(weight.zeros, 1)
    weight.zeros[3, 0] = 16  # stored as 15; every GPTQ v1 reader adds 1 back
    tensors = formats.encode(weight, "gptq")
    np.testing.assert_array_equal(exact_weight(python_source("gptq", weight, tensors)),
                                  weight.dequantize())
    weight.zeros[3, 0] = 0
    with pytest.raises(w4a16.ArgumentError, match="cannot store a zero point of 0"):
        formats.encode(weight, "gptq")


def test_ct_scales_in_bf16_and_f32(tmp_path):
    for scales_dtype in ("BF16", "F32"):
        weight = quantized(24, 256, 64, False, scales_dtype)
        save_quantized(tmp_path / scales_dtype, "ct", {"layers.0.proj": weight})
        with w4a16.Checkpoint(tmp_path / scales_dtype) as ckpt:
            scale = ckpt.tensors[[t.name for t in ckpt.tensors].index("layers.0.proj.weight_scale")]
            assert scale.dtype == scales_dtype
            np.testing.assert_array_equal(exact_weight(ckpt.source("layers.0.proj")),
                                          weight.dequantize())


def test_awq_and_gptq_refuse_scales_not_exact_in_f16():
    weight = quantized(16, 128, 128, True, "F32")
    with pytest.raises(w4a16.ArgumentError, match="stores scales as F16"):
        formats.encode(weight, "awq")


def test_shape_rules():
    with pytest.raises(w4a16.ShapeError, match="awq needs N a multiple of 8, got N=12"):
        formats.encode(quantized(12, 128, 128, True), "awq")
    with pytest.raises(w4a16.ShapeError, match="ct needs K a multiple of 8, got K=36"):
        formats.layout("ct", 16, 36, 1)
    with pytest.raises(w4a16.ArgumentError, match="'exl2' is not one of"):
        formats.encode(quantized(16, 128, 128, True), "exl2")


def test_write_safetensors_layout(tmp_path):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"b": np.arange(3, dtype=np.int32),
                             "a": (np.array([0x3F80], dtype=np.uint16), "BF16")})
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert header_len % 8 == 0
    header = json.loads(raw[8:8 + header_len])
    assert header["a"] == {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}
    assert header["b"] == {"dtype": "I32", "shape": [3], "data_offsets": [2, 14]}
    assert len(raw) == 8 + header_len + 14
    with w4a16.Checkpoint(path, format="dense") as ckpt:
        np.testing.assert_array_equal(ckpt.tensor("b"), [0, 1, 2])
        assert ckpt.tensor("a").tolist() == [0x3F80]
