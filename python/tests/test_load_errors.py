"""load_quantized refuses a checkpoint that does not fit the model, naming
the layer, before anything is packed (no GPU needed). Needs torch."""
import json

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")

import w4a16  # noqa: E402
from toy_model import make_checkpoint, meta_model  # noqa: E402
from w4a16.checkpoint_writer import write_safetensors  # noqa: E402


def test_a_layer_of_another_shape_is_named(tmp_path):
    make_checkpoint(tmp_path)
    model = meta_model()
    model.model.layers[1].mlp.up_proj = torch.nn.Linear(256, 640, device="meta")
    with pytest.raises(w4a16.ShapeError, match=r"layer model.layers.1.mlp.up_proj: the "
                                               r"checkpoint's weight is \[512, 256\] but the "
                                               r"model's is \[640, 256\]"):
        w4a16.load_quantized(model, tmp_path, device="cuda:0")


def test_an_unreadable_layer_is_named(tmp_path):
    make_checkpoint(tmp_path)
    with w4a16.Checkpoint(tmp_path) as ckpt:
        tensors = {t.name: ckpt.tensor(t.name).copy() for t in ckpt.tensors}
    name = "model.layers.0.self_attn.k_proj"
    tensors[name + ".qzeros"] = tensors[name + ".qzeros"][:1]  # zeros of one group, not two
    write_safetensors(tmp_path / "model.safetensors", tensors)
    layer = w4a16.Checkpoint(tmp_path).layer(name)
    assert layer.status == "malformed" and layer.reason
    with pytest.raises(w4a16.FormatError, match=f"layer {name}: "):
        w4a16.load_quantized(meta_model(), tmp_path, device="cuda:0")


def test_a_module_that_is_not_linear_is_named(tmp_path):
    make_checkpoint(tmp_path)
    model = meta_model()
    model.model.layers[0].self_attn.o_proj = torch.nn.Identity()
    with pytest.raises(w4a16.ArgumentError, match="layer model.layers.0.self_attn.o_proj: the "
                                                  "model's module is Identity"):
        w4a16.load_quantized(model, tmp_path, device="cuda:0")


def test_a_checkpoint_of_another_model(tmp_path):
    make_checkpoint(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    other = torch.nn.Sequential(torch.nn.Linear(4, 4)).half()
    with pytest.raises(w4a16.ArgumentError, match="none of the 14 layers"):
        w4a16.load_quantized(other, tmp_path, device="cuda:0")
    assert config["quantization_config"]["quant_method"] == "awq"


def test_arguments():
    with pytest.raises(w4a16.ArgumentError, match="not a CUDA device"):
        w4a16.load_quantized(meta_model(), "unused", device="cpu")
    with pytest.raises(w4a16.ArgumentError, match="pass dtype"):
        w4a16.load_quantized(torch.nn.Linear(4, 4), "unused", device="cuda:0")
