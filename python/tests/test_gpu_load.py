"""load_quantized on a GPU: a checkpoint written from Python loaded into a
model on the meta device and into one already on the GPU, logits against the
same model with the dequantized weights, device memory, and the state_dict
round trip without packing (merged, too). A transformers Qwen3 when transformers is
installed. Skips without CUDA."""
import pytest

import numpy as np

from gpu_support import check_against_reference, require_gpu, torch

import w4a16  # noqa: E402
from toy_model import (linear_names, make_checkpoint, meta_model, qwen3_checkpoint,  # noqa: E402
                       token_ids)

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def gpu():
    require_gpu()


def close_logits(got, reference):
    """Same model up to the kernels' rounding: a small difference against the
    logits' spread (a layer loaded into the wrong module moves them by about
    one std), and the same top-1 almost everywhere (a near-tie may flip)."""
    difference = (got.float() - reference.float()).abs().max().item()
    assert difference <= 0.05 * reference.float().std().item(), difference
    assert (got.argmax(-1) == reference.argmax(-1)).float().mean() >= 0.9


@pytest.mark.parametrize("format,symmetric", [("awq", False), ("gptq", True), ("ct", False)])
def test_meta_model_loads_and_matches_the_dequantized_one(tmp_path, format, symmetric):
    reference, _ = make_checkpoint(tmp_path, format, symmetric)
    reference = reference.to("cuda")
    model = w4a16.load_quantized(meta_model(), tmp_path)
    assert all(isinstance(model.get_submodule(n), w4a16.W4A16Linear)
               for n in linear_names(reference))
    assert isinstance(model.lm_head, torch.nn.Linear)  # left in 16 bits
    ids = token_ids().to("cuda")
    with torch.inference_mode():
        close_logits(model(ids), reference(ids))


def test_gpu_model_memory_falls_layer_by_layer(tmp_path):
    reference, _ = make_checkpoint(tmp_path)
    model = reference.to("cuda")
    ids = token_ids().to("cuda")
    with torch.inference_mode():
        expected = model(ids)
    linears = {n: model.get_submodule(n).weight.numel() * 2 for n in linear_names(model)}
    w4a16._torch_context.device_context(torch.cuda.current_device())  # its workspace: not ours
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    w4a16.load_quantized(model, tmp_path)
    after = torch.cuda.memory_allocated()
    packed = sum(model.get_submodule(n).packed_bytes() for n in linears)
    assert after <= before - sum(linears.values()) + packed + 4096 * len(linears)
    # The peak: the dense model plus about one layer (packed, and its staging).
    assert torch.cuda.max_memory_allocated() <= before + 3 * max(linears.values())
    with torch.inference_mode():
        close_logits(model(ids), expected)


@pytest.mark.parametrize("merge", [False, True])
def test_state_dict_loads_back_without_packing(tmp_path, monkeypatch, merge):
    make_checkpoint(tmp_path, "ct", False, group_size=64)
    model = w4a16.load_quantized(meta_model(), tmp_path, merge=merge)
    ids = token_ids().to("cuda")
    with torch.inference_mode():
        expected = model(ids)
    torch.save(model.state_dict(), tmp_path / "packed.pt")
    monkeypatch.setattr(w4a16.linear, "pack", lambda *a, **k: pytest.fail("packed again"))
    monkeypatch.setattr(w4a16.packing, "pack", lambda *a, **k: pytest.fail("packed again"))
    state = torch.load(tmp_path / "packed.pt", weights_only=True)
    assert any(key.endswith(".qweight") for key in state)
    restored = w4a16.load_quantized(meta_model(), state)
    if merge:  # merged as it was saved (test_gpu_merge.py has the rest of merge=True)
        assert isinstance(restored.model.layers[1].mlp.gate_proj, w4a16.W4A16LinearPart)
        assert restored.model.layers[1].mlp.gate_up_proj.qweight.is_cuda
    with torch.inference_mode():
        assert torch.equal(restored(ids), expected)


def test_transformers_qwen3(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config, reference = qwen3_checkpoint(tmp_path)
    reference = reference.to("cuda")
    # On the CPU, not meta: the rotary inv_freq buffer is not in any checkpoint.
    model = transformers.Qwen3ForCausalLM(config).half().eval()
    w4a16.load_quantized(model, tmp_path)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    ids = token_ids(1, 32).clamp_max(511).to("cuda")
    with torch.inference_mode():
        close_logits(model(ids).logits, reference(ids).logits)


def test_from_checkpoint_merged_qkv(tmp_path):
    _, layers = make_checkpoint(tmp_path, "gptq_v2", False)
    names = [f"model.layers.1.self_attn.{p}_proj" for p in "qkv"]
    merged = w4a16.W4A16Linear.from_checkpoint(tmp_path, names)
    assert merged.out_features == sum(layers[n].n for n in names)
    a = torch.randn(37, merged.in_features, device="cuda").half()
    w_hat = np.concatenate([layers[n].dequantize() for n in names])
    check_against_reference(merged(a), a, w_hat)


@pytest.mark.parametrize("fixture", ["gptqmodel_desc_act_g128", "ct_actorder_group_g128"])
def test_from_checkpoint_act_order(fixture):
    from conftest import PRODUCERS
    from w4a16.reference import reference_gemm
    with w4a16.Checkpoint(PRODUCERS / fixture) as ckpt:
        layer = next(l for l in ckpt.layers if l.status == "quantized" and l.act_order)
        packed = w4a16.W4A16Linear.from_checkpoint(ckpt, layer.name)
        # Ŵ exactly as the library reads the producer's tensors: the reference times I.
        w_hat = reference_gemm(ckpt.source(layer.name), np.eye(layer.k, dtype=np.float16)).T
    assert packed.perm is not None
    for m in (1, 24, 130):
        a = torch.randn(m, layer.k, device="cuda").half()
        check_against_reference(packed(a), a, w_hat)
