"""w4a16.inspect and Checkpoint against `w4a16 inspect --json` and the
producers' own checkpoints (tests/fixtures/producers)."""
import json
import subprocess

import numpy as np
import pytest

import w4a16
from conftest import PRODUCERS, producer_fixtures


@pytest.mark.parametrize("name", producer_fixtures())
def test_same_structure_as_the_program(cli, name):
    path = PRODUCERS / name
    printed = subprocess.run([cli, "inspect", str(path), "--json"], check=True,
                             capture_output=True, text=True).stdout
    assert w4a16.inspect(path) == json.loads(printed)


def test_layers_of_an_act_order_checkpoint():
    info = w4a16.inspect(PRODUCERS / "gptqmodel_desc_act_g128")
    assert info["format"] == "gptq"
    quantized = [l for l in info["layers"] if l["status"] == "quantized"]
    assert quantized and all(l["act_order"] and l["group_size"] == 128 for l in quantized)
    assert info["tensor_count"] > 0 and info["bytes"] > 0


def test_checkpoint_tensor_views_the_file():
    with w4a16.Checkpoint(PRODUCERS / "awq_g128") as ckpt:
        layer = ckpt.layers[0]
        scales = ckpt.tensor(layer.name + ".scales")
        assert scales.dtype == np.float16 and scales.shape == (layer.k // 128, layer.n)
        assert not scales.flags.writeable
        assert np.isfinite(scales).all() and (scales != 0).any()
        source = ckpt.source(layer.name)
        assert (source.n, source.k, source.group_size) == (layer.n, layer.k, 128)
    with pytest.raises(w4a16.ArgumentError, match="is closed"):
        ckpt.source(layer.name)


def test_unknown_names_are_argument_errors():
    with w4a16.Checkpoint(PRODUCERS / "ct_sym_g128") as ckpt:
        with pytest.raises(w4a16.ArgumentError, match="no layer 'nope'"):
            ckpt.source("nope")
        with pytest.raises(w4a16.ArgumentError, match="no tensor 'nope'"):
            ckpt.tensor("nope")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(w4a16.CheckpointIOError, match="No such file") as raised:
        w4a16.inspect(tmp_path / "absent.safetensors")
    assert isinstance(raised.value, OSError)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(w4a16.FormatError) as raised:
        w4a16.inspect(bad, format="awq")
    assert raised.value.message  # w4a16_last_error()'s text, not just the status
    assert "header" in str(raised.value)


def test_bare_file_needs_a_format(tmp_path):
    single = tmp_path / "model.safetensors"
    single.write_bytes((PRODUCERS / "awq_g128" / "model.safetensors").read_bytes())
    with pytest.raises(w4a16.W4A16Error, match="format"):
        w4a16.inspect(single)
    assert w4a16.inspect(single, format="awq")["format"] == "awq"
    with pytest.raises(w4a16.ArgumentError, match="exl2"):
        w4a16.inspect(single, format="exl2")
