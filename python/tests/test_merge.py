"""load_quantized(merge=True) without a GPU: the merged layers' parts (one
call serves q, k and v; a new or modified input computes again; nothing is
kept between calls), the structure the loader builds, the state_dict round
trip, the groups it refuses, and torch.compile tracing a merged model. The
packing and the GEMM are host stand-ins (host_pack.py); the GPU tests
(test_gpu_merge.py) run the kernels. Needs torch."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")

import w4a16  # noqa: E402
from w4a16 import _capi, formats  # noqa: E402
from w4a16.checkpoint_writer import quantization_config, save_quantized  # noqa: E402
from w4a16.checkpoint_writer import write_safetensors  # noqa: E402
from w4a16.merged import W4A16LinearPart, W4A16MergedLinear, install_merged  # noqa: E402
from w4a16.packing import PackedWeight  # noqa: E402
from host_pack import on_the_cpu  # noqa: E402
from toy_model import (HIDDEN, KV, ToyForCausalLM, linear_names, make_checkpoint,  # noqa: E402
                       merged_calls, meta_model, qwen3_checkpoint, token_ids)

QKV = [f"model.layers.0.self_attn.{p}_proj" for p in "qkv"]


class CountingMerged(W4A16MergedLinear):
    """A merged layer whose GEMM is a float matmul that counts its calls."""

    def __init__(self, weight, part_names, part_out_features):
        super().__init__(part_names=part_names, part_out_features=part_out_features)
        self.weight = weight
        self.calls = 0

    @property
    def in_features(self):
        return self.weight.shape[1]

    def forward(self, x):
        self.calls += 1
        return x @ self.weight.T


def counting_attention(seed=0):
    """An nn.Module holding q_proj, k_proj, v_proj as parts of one CountingMerged."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(HIDDEN + 2 * KV, HIDDEN, generator=generator)
    parent = torch.nn.Module()
    merged = CountingMerged(weight, ["q_proj", "k_proj", "v_proj"], [HIDDEN, KV, KV])
    install_merged(parent, "qkv_proj", merged)
    return parent, merged


def test_one_call_serves_every_part():
    attention, merged = counting_attention()
    x = torch.randn(2, 5, HIDDEN)
    q, k, v = attention.q_proj(x), attention.k_proj(x), attention.v_proj(x)
    assert merged.calls == 1
    full = x @ merged.weight.T
    assert torch.equal(q, full[..., :HIDDEN]) and torch.equal(v, full[..., HIDDEN + KV:])
    assert k.shape == (2, 5, KV)
    # Views of one output: no copy, and the model's reshape into heads works.
    assert q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
    assert q.view(2, 5, -1, 64).shape == (2, 5, 4, 64)
    assert k.view(2, 5, -1, 64).transpose(1, 2).shape == (2, 2, 5, 64)
    assert merged._kept is None, "every part took its columns: nothing is kept"


def test_another_input_or_a_modified_one_computes_again():
    attention, merged = counting_attention()
    x, y = torch.randn(3, HIDDEN), torch.randn(3, HIDDEN)
    attention.q_proj(x)
    k = attention.k_proj(y)  # another tensor: its own call
    assert merged.calls == 2 and torch.equal(k, (y @ merged.weight.T)[:, HIDDEN:HIDDEN + KV])
    attention.q_proj(y)
    x_equal = x.clone()
    attention.q_proj(x_equal)
    attention.k_proj(x_equal)
    assert merged.calls == 3  # k shared q's call on the same tensor
    x_equal.mul_(2)  # in place: its version counter moves
    v = attention.v_proj(x_equal)
    assert merged.calls == 4 and torch.equal(v, (x_equal @ merged.weight.T)[:, HIDDEN + KV:])


def test_the_same_tensor_again_after_every_part_computes_again():
    attention, merged = counting_attention()
    x = torch.randn(4, HIDDEN)
    for round in (1, 2):
        for name in ("q_proj", "k_proj", "v_proj"):
            getattr(attention, name)(x)
        assert merged.calls == round
    attention.q_proj(x)
    assert merged._kept is not None
    merged.release()
    attention.k_proj(x)
    assert merged.calls == 4


def test_inference_tensors_are_matched_by_identity():
    attention, merged = counting_attention()
    with torch.inference_mode():
        x = torch.randn(2, HIDDEN)
        assert x.is_inference()
        attention.q_proj(x), attention.k_proj(x)
        assert merged.calls == 1
        attention.v_proj(torch.randn(2, HIDDEN))
        assert merged.calls == 2


def test_at_most_one_output_is_kept():
    attention, merged = counting_attention()
    first = attention.q_proj(torch.randn(2, HIDDEN))
    attention.k_proj(torch.randn(2, HIDDEN))
    assert merged._kept[2].untyped_storage().data_ptr() != first.untyped_storage().data_ptr()
    assert merged.calls == 2


def test_parts_hold_no_state_and_report_their_shape():
    attention, merged = counting_attention()
    assert list(attention.state_dict()) == ["qkv_proj._extra_state"]
    assert [m for m, _ in attention.named_modules()] == ["", "qkv_proj", "q_proj", "k_proj",
                                                        "v_proj"]
    assert isinstance(attention.k_proj, W4A16LinearPart)
    assert (attention.k_proj.in_features, attention.k_proj.out_features) == (HIDDEN, KV)
    assert "qkv_proj[256:384]" in repr(attention.k_proj)


def test_load_merges_qkv_and_gate_up(tmp_path, monkeypatch):
    reference, layers = make_checkpoint(tmp_path)
    on_the_cpu(monkeypatch, w4a16)
    seen = []
    model = w4a16.load_quantized(ToyForCausalLM().half(), tmp_path, merge=True,
                                 progress=lambda done, total, name: seen.append((done, total)))
    assert seen == [(i, 14) for i in range(1, 15)]
    for i in range(2):
        attention, mlp = model.model.layers[i].self_attn, model.model.layers[i].mlp
        assert isinstance(attention.qkv_proj, W4A16MergedLinear)
        assert attention.qkv_proj.part_names == ["q_proj", "k_proj", "v_proj"]
        assert attention.qkv_proj.out_features == HIDDEN + 2 * KV
        assert all(getattr(attention, p).merged is attention.qkv_proj
                   for p in ("q_proj", "k_proj", "v_proj"))
        assert isinstance(mlp.gate_up_proj, W4A16MergedLinear)
        assert isinstance(mlp.up_proj, W4A16LinearPart)
        assert type(attention.o_proj) is w4a16.W4A16Linear
        assert type(mlp.down_proj) is w4a16.W4A16Linear
    assert not any(isinstance(m, torch.nn.Linear) for n, m in model.named_modules()
                   if n != "lm_head")
    # q_proj's bias, then zeros for k and v (which have none).
    bias = model.model.layers[0].self_attn.qkv_proj.bias
    assert torch.equal(bias[:HIDDEN], reference.model.layers[0].self_attn.q_proj.bias)
    assert not bias[HIDDEN:].any()


def test_merged_model_computes_what_the_unmerged_one_does(tmp_path, monkeypatch):
    make_checkpoint(tmp_path, "gptq", True)
    on_the_cpu(monkeypatch, w4a16)
    unmerged = w4a16.load_quantized(ToyForCausalLM().half(), tmp_path)
    merged = w4a16.load_quantized(ToyForCausalLM().half(), tmp_path, merge=True)
    calls = merged_calls(merged)
    ids = token_ids()
    with torch.inference_mode():
        expected, got = unmerged(ids), merged(ids)
    assert len(calls) == 4, "one call for each of the two layers' q|k|v and gate|up"
    assert torch.allclose(got.float(), expected.float(), rtol=0, atol=2e-3)


def test_state_dict_round_trip_without_packing(tmp_path, monkeypatch):
    make_checkpoint(tmp_path, "ct", False, group_size=64)
    on_the_cpu(monkeypatch, w4a16)
    model = w4a16.load_quantized(ToyForCausalLM().half(), tmp_path, merge=True)
    state = model.state_dict()
    assert not any(".q_proj." in key or ".gate_proj." in key for key in state)
    extra = state["model.layers.1.mlp.gate_up_proj._extra_state"]
    assert extra["w4a16_parts"] == {"names": ["gate_proj", "up_proj"],
                                    "out_features": [512, 512]}
    assert extra["w4a16_header"]["n"] == 1024
    torch.save(state, tmp_path / "packed.pt")
    monkeypatch.setattr(w4a16.linear, "pack", lambda *a, **k: pytest.fail("packed again"))
    restored = w4a16.load_quantized(meta_model(), torch.load(tmp_path / "packed.pt",
                                                             weights_only=True))
    attention = restored.model.layers[0].self_attn
    assert isinstance(attention.qkv_proj, W4A16MergedLinear)
    assert attention.qkv_proj.part_out_features == [HIDDEN, KV, KV]
    assert attention.v_proj.merged is attention.qkv_proj
    assert restored.state_dict().keys() == state.keys()
    ids = token_ids()
    with torch.inference_mode():
        assert torch.equal(restored(ids), model(ids))
    # Into a model already merged: its own merged layers take the buffers.
    again = w4a16.load_quantized(restored, state)
    assert again.model.layers[0].self_attn.qkv_proj is attention.qkv_proj


def test_transformers_qwen3_reshapes_the_parts(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config, _ = qwen3_checkpoint(tmp_path)
    on_the_cpu(monkeypatch, w4a16)
    unmerged = w4a16.load_quantized(transformers.Qwen3ForCausalLM(config).float().eval(),
                                    tmp_path, dtype=torch.float16)
    merged = w4a16.load_quantized(transformers.Qwen3ForCausalLM(config).float().eval(),
                                  tmp_path, dtype=torch.float16, merge=True)
    assert isinstance(merged.model.layers[1].self_attn.k_proj, W4A16LinearPart)
    calls = merged_calls(merged)
    ids = token_ids(2, 16).clamp_max(511)
    with torch.inference_mode():  # fp32 activations in the dense parts: Ŵ in float64
        expected, got = unmerged(ids).logits, merged(ids).logits
    assert len(calls) == 4, "Qwen3 passes q, k and v (gate and up) the same tensor"
    assert torch.allclose(got, expected, rtol=0, atol=1e-4)


# -- The groups merge=True refuses, named before anything is packed ---------------------------

def quantized_toy(seed=0, **overrides):
    """{name: QuantizedWeight} of a random toy model (group 128, asymmetric),
    with overrides {name: (group_size, symmetric, scales_dtype)}."""
    torch.manual_seed(seed)
    model = ToyForCausalLM().half()
    layers = {}
    for name in linear_names(model):
        group_size, symmetric, scales_dtype = overrides.get(name, (128, False, "F16"))
        layers[name] = w4a16.quantize(model.get_submodule(name).weight.detach().float().numpy(),
                                      group_size, symmetric, scales_dtype)
    return layers


def save_ct_mixed(directory, layers, odd_name):
    """A compressed-tensors checkpoint whose layer `odd_name` has its own
    config group (the first that matches wins)."""
    tensors = {f"{name}.{t}": (a, "BF16") if t == "weight_scale" and w.scales_dtype == "BF16"
               else a for name, w in layers.items() for t, a in formats.encode(w, "ct").items()}
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    config = quantization_config("ct", 128, False)
    odd = layers[odd_name]
    own = json.loads(json.dumps(config["config_groups"]["group_0"]))
    own["targets"] = [odd_name]
    own["weights"].update(group_size=odd.group_size, symmetric=odd.symmetric)
    config["config_groups"] = {"odd": own, **config["config_groups"]}
    with open(os.path.join(directory, "config.json"), "w") as out:
        json.dump({"quantization_config": config}, out)


@pytest.mark.parametrize("override,message", [
    ((64, False, "F16"), r"k_proj has group_size=64 but q_proj has 128"),
    ((128, True, "F16"), r"k_proj has symmetric=True but q_proj has False"),
    ((128, False, "BF16"), r"k_proj has BF16 scales but q_proj has F16")])
def test_a_group_quantized_two_ways_is_named(tmp_path, override, message):
    name = "model.layers.0.self_attn.k_proj"
    save_ct_mixed(tmp_path, quantized_toy(**{name: override}), name)
    with w4a16.Checkpoint(tmp_path) as ckpt:
        assert ckpt.layer(name).status == "quantized"
    with pytest.raises(w4a16.UnsupportedError,
                       match=r"merge=True: layer group model\.layers\.0\.self_attn\.\{q_proj, "
                             r"k_proj, v_proj\}: " + message):
        w4a16.load_quantized(meta_model(), tmp_path, device="cuda:0", merge=True)


def test_act_order_groups_must_share_g_idx(tmp_path):
    layers = quantized_toy(symmetric=True)
    rng = np.random.default_rng(0)
    up, gate = "model.layers.1.mlp.up_proj", "model.layers.1.mlp.gate_proj"
    for name in layers:
        layers[name] = w4a16.quantize(layers[name].dequantize().astype(np.float32), 128, True)
    layers[up].g_idx = rng.permutation(np.arange(HIDDEN) // 128).astype(np.int32)
    save_quantized(tmp_path / "one", "gptq", layers)
    with pytest.raises(w4a16.UnsupportedError, match=r"mlp\.\{gate_proj, up_proj\}: up_proj "
                                                     r"has act_order=True but gate_proj has "
                                                     r"False"):
        w4a16.load_quantized(meta_model(), tmp_path / "one", device="cuda:0", merge=True)
    layers[gate].g_idx = rng.permutation(np.arange(HIDDEN) // 128).astype(np.int32)
    save_quantized(tmp_path / "two", "gptq", layers)
    with pytest.raises(w4a16.UnsupportedError, match="up_proj's act-order g_idx differs from "
                                                     "gate_proj's"):
        w4a16.load_quantized(meta_model(), tmp_path / "two", device="cuda:0", merge=True)


def test_a_group_quantized_in_part_is_named(tmp_path):
    layers = quantized_toy()
    dense = "model.layers.1.self_attn.v_proj"
    del layers[dense]
    weight = np.zeros((KV, HIDDEN), dtype=np.float16)
    save_quantized(tmp_path, "awq", layers, other_tensors={dense + ".weight": weight},
                   ignore=[dense])
    with pytest.raises(w4a16.UnsupportedError, match=r"layers\.1\.self_attn\.\{q_proj, k_proj, "
                                                     r"v_proj\}: v_proj is not quantized"):
        w4a16.load_quantized(meta_model(), tmp_path, device="cuda:0", merge=True)


def test_merge_refusals(tmp_path):
    make_checkpoint(tmp_path)
    model = meta_model()
    model.model.layers[1].mlp.gate_up_proj = torch.nn.Identity()
    with pytest.raises(w4a16.ArgumentError, match=r"layers\.1\.mlp already has an attribute "
                                                  r"'gate_up_proj'"):
        w4a16.load_quantized(model, tmp_path, device="cuda:0", merge=True)
    other = meta_model()
    for layer in other.model.layers:  # names merge=True does not know
        layer.mlp.w1, layer.mlp.w3 = layer.mlp.gate_proj, layer.mlp.up_proj
        del layer.mlp.gate_proj, layer.mlp.up_proj
        layer.self_attn.query = layer.self_attn.q_proj
        del layer.self_attn.q_proj
    save_quantized(tmp_path / "renamed", "awq", {
        n: w for n, w in quantized_toy().items() if "q_proj" not in n and "up_proj" not in n
        and "gate_proj" not in n})
    with pytest.raises(w4a16.ArgumentError, match="nothing to merge"):
        w4a16.load_quantized(other, tmp_path / "renamed", device="cuda:0", merge=True)


def test_merge_with_an_unmerged_state_dict_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    state = {"0._extra_state": {"w4a16_header": {"version": _capi.PACKED_VERSION}}}
    with pytest.raises(w4a16.ArgumentError, match="holds no merged layer"):
        w4a16.load_quantized(model, state, device="cuda:0", merge=True)
    assert isinstance(model[0], torch.nn.Linear), "refused before anything changed"


# -- torch.compile --------------------------------------------------------------------------

N_Q, N_KV, K, GROUP = 256, 128, 512, 128


def meta_merged():
    """A W4A16MergedLinear q|k|v whose buffers live on the meta device."""
    n = N_Q + 2 * N_KV
    header = {"version": _capi.PACKED_VERSION, "n": n, "k": K, "n_padded": n, "k_padded": K,
              "group_size": GROUP, "groups": K // GROUP, "groups_padded": K // GROUP,
              "act_dtype": _capi.DTYPE["F16"], "scales_dtype": _capi.DTYPE["F16"]}
    empty = lambda nbytes: torch.empty(nbytes, dtype=torch.uint8, device="meta")
    packed = PackedWeight(header, empty(n * K // 2), empty(K // GROUP * n * 2), None, None)
    return W4A16MergedLinear(packed, None, ["q_proj", "k_proj", "v_proj"], [N_Q, N_KV, N_KV])


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        install_merged(self, "qkv_proj", meta_merged())

    def forward(self, x):
        q = self.q_proj(x).view(*x.shape[:-1], -1, 64)
        k = self.k_proj(x).view(*x.shape[:-1], -1, 64)
        return q[..., :2, :] * k + self.v_proj(x).view(*x.shape[:-1], -1, 64)


def test_compile_traces_one_call_for_the_parts():
    from torch._dynamo.backends.common import aot_autograd
    graphs = []

    def keep(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    attention = Attention()
    model = torch.compile(attention, fullgraph=True, backend=aot_autograd(fw_compiler=keep))
    for m in (7, 7, 30):
        x = torch.empty(3, m, K, dtype=torch.float16, device="meta")
        with torch.no_grad():
            assert model(x).shape == (3, m, 2, 64)  # on meta tensors the op's fake runs
        assert attention.qkv_proj._kept is None, "nothing kept after the compiled forward"
    gemm = torch.ops.w4a16.gemm
    for graph in graphs:
        calls = [node for node in graph.graph.nodes
                 if node.op == "call_function" and node.target in (gemm, gemm.default)]
        assert len(calls) == 1, "q, k and v take their columns of one call"
