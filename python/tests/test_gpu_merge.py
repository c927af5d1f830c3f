"""load_quantized(merge=True) on a GPU: the merged model against the unmerged
one on the same input, one GEMM for q|k|v and gate|up (and again for a new
or modified input), device memory while loading, CUDA graph capture and
replay, and transformers' Qwen3 with its q, k, v reshaped from the parts'
views (the state_dict round trip is test_gpu_load.py's). Skips without CUDA (the
same logic runs on the CPU with a stand-in GEMM in test_merge.py)."""
import pytest

from gpu_support import require_gpu, torch

import w4a16  # noqa: E402
from w4a16.merged import W4A16LinearPart, W4A16MergedLinear  # noqa: E402
from toy_model import (HIDDEN, KV, linear_names, make_checkpoint, merged_calls,  # noqa: E402
                       meta_model, qwen3_checkpoint, token_ids)

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def gpu():
    require_gpu()


# Rows of x: decode (1), a small batch, a prefill past 256 rows (other kernels).
SHAPES = [(1, 1), (2, 24), (1, 320)]


def merged_and_unmerged(directory, format, symmetric):
    make_checkpoint(directory, format, symmetric)
    merged = w4a16.load_quantized(meta_model(), directory, merge=True)
    assert isinstance(merged.model.layers[0].self_attn.qkv_proj, W4A16MergedLinear)
    assert isinstance(merged.model.layers[0].self_attn.k_proj, W4A16LinearPart)
    return merged, w4a16.load_quantized(meta_model(), directory)


def compare_parts(merged, unmerged, rows, equal):
    """Each part's output against its layer packed alone on the same x:
    bitwise (equal=True) or within the kernels' rounding."""
    x = torch.randn(rows, HIDDEN, device="cuda").half()
    for name in ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                 "model.layers.1.mlp.up_proj"):
        with torch.inference_mode():
            got, expected = merged.get_submodule(name)(x), unmerged.get_submodule(name)(x)
        if equal:
            assert torch.equal(got, expected), f"{name}, {rows} rows"
        else:
            scale = expected.float().abs().max().item()
            difference = (got.float() - expected.float()).abs().max().item()
            assert difference <= 2e-3 * scale, f"{name}, {rows} rows: {difference}"


@pytest.fixture
def batch_invariant():
    """This thread's ctx in batch-invariant mode for one test: every call runs
    sm90_prefill with one token tile and no K split, so an output element is
    summed the same way whatever N is, and a merged layer's columns can equal
    the separate layers' bit for bit. Hopper only."""
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("batch-invariant mode runs sm90_prefill: Hopper (sm_90) only")
    context = w4a16._torch_context.device_context(torch.cuda.current_device())
    context.set_batch_invariant(True)
    yield
    context.set_batch_invariant(False)


@pytest.mark.parametrize("format,symmetric", [("awq", False), ("gptq", True), ("ct", False)])
def test_merged_model_equals_the_unmerged_one_bitwise(tmp_path, format, symmetric,
                                                      batch_invariant):
    merged, unmerged = merged_and_unmerged(tmp_path, format, symmetric)
    calls = merged_calls(merged)
    for batch, length in SHAPES:
        ids = token_ids(batch, length).to("cuda")
        before = len(calls)
        with torch.inference_mode():
            got, expected = merged(ids), unmerged(ids)
        assert len(calls) - before == 4, "one call per q|k|v and gate|up of each layer"
        assert torch.equal(got, expected), f"{batch * length} rows"
        compare_parts(merged, unmerged, batch * length, equal=True)


@pytest.mark.parametrize("format,symmetric", [("awq", False), ("gptq", True)])
def test_merged_model_matches_the_unmerged_one_with_the_kernels_dispatch_picks(
        tmp_path, format, symmetric):
    """Without batch-invariant mode a merged layer's N may pick another kernel
    or K split than its parts' would: equal up to the kernels' rounding."""
    merged, unmerged = merged_and_unmerged(tmp_path, format, symmetric)
    attention = merged.model.layers[0].self_attn
    for batch, length in SHAPES:
        rows = batch * length
        ids = token_ids(batch, length).to("cuda")
        with torch.inference_mode():
            got, expected = merged(ids).float(), unmerged(ids).float()
        difference = (got - expected).abs().max().item()
        kernels = (attention.qkv_proj.kernel_name(rows),
                   unmerged.model.layers[0].self_attn.q_proj.kernel_name(rows))
        assert difference <= 0.02 * expected.std().item(), (rows, difference, kernels)
        assert (got.argmax(-1) == expected.argmax(-1)).float().mean() >= 0.9, (rows, kernels)
        compare_parts(merged, unmerged, rows, equal=False)


def test_one_gemm_serves_the_parts_and_a_new_input_runs_again(tmp_path):
    make_checkpoint(tmp_path)
    model = w4a16.load_quantized(meta_model(), tmp_path, merge=True)
    attention = model.model.layers[0].self_attn
    calls = merged_calls(model)
    x = torch.randn(2, 5, HIDDEN, device="cuda").half()
    with torch.inference_mode():
        q, k, v = attention.q_proj(x), attention.k_proj(x), attention.v_proj(x)
        assert len(calls) == 1
        whole = attention.qkv_proj(x)
        assert torch.equal(torch.cat([q, k, v], -1), whole)
        assert q.data_ptr() + HIDDEN * 2 == k.data_ptr(), "views of one output, not copies"
        assert q.view(2, 5, -1, 64).shape == (2, 5, 4, 64)
    y = x.clone()  # outside inference mode: its version counter is read
    attention.q_proj(y)
    assert len(calls) == 3
    y.mul_(2)
    k = attention.k_proj(y)
    assert len(calls) == 4, "y changed in place: the kept output is stale"
    assert torch.equal(k, attention.qkv_proj(y)[..., HIDDEN:HIDDEN + KV])
    attention.v_proj(y)  # the kept output (from k_proj's call) is not all taken yet
    assert len(calls) == 5


def test_gpu_model_memory_falls_group_by_group(tmp_path):
    reference, _ = make_checkpoint(tmp_path)
    model = reference.to("cuda")
    groups = {}  # dense bytes of each unit the loader packs at once: a group, or a layer
    for name in linear_names(model):
        parent, _, leaf = name.rpartition(".")
        unit = parent if leaf in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj") else name
        groups[unit] = groups.get(unit, 0) + model.get_submodule(name).weight.numel() * 2
    dense = sum(model.get_submodule(n).weight.numel() * 2 for n in linear_names(model))
    layers = len(linear_names(model))  # before loading: `reference` is `model`, swapped in place
    w4a16._torch_context.device_context(torch.cuda.current_device())  # its workspace: not ours
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    w4a16.load_quantized(model, tmp_path, merge=True)
    after = torch.cuda.memory_allocated()
    packed = sum(m.packed_bytes() for m in model.modules()
                 if isinstance(m, w4a16.W4A16Linear))
    assert after <= before - dense + packed + 4096 * layers
    # The peak: the dense model plus about one group (packed, and its staging).
    assert torch.cuda.max_memory_allocated() <= before + 3 * max(groups.values())


def test_cuda_graph_replays_the_merged_model(tmp_path):
    make_checkpoint(tmp_path, "gptq", True)
    model = w4a16.load_quantized(meta_model(), tmp_path, merge=True)
    calls = merged_calls(model)
    static_ids = token_ids(2, 16, seed=3).to("cuda")
    with torch.inference_mode():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                model(static_ids)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = model(static_ids)
        assert len(calls) == 3 * 4, "the capture, too, runs one GEMM per group"
        for seed in (4, 5):
            ids = token_ids(2, 16, seed=seed).to("cuda")
            static_ids.copy_(ids)
            graph.replay()
            torch.cuda.synchronize()
            assert torch.equal(static_out, model(ids))


def test_transformers_qwen3(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config, _ = qwen3_checkpoint(tmp_path)
    unmerged = w4a16.load_quantized(transformers.Qwen3ForCausalLM(config).half().eval(),
                                    tmp_path)
    merged = w4a16.load_quantized(transformers.Qwen3ForCausalLM(config).half().eval(),
                                  tmp_path, merge=True)
    assert isinstance(merged.model.layers[0].self_attn.v_proj, W4A16LinearPart)
    calls = merged_calls(merged)
    ids = token_ids(1, 32).clamp_max(511).to("cuda")
    with torch.inference_mode():
        got, expected = merged(ids).logits, unmerged(ids).logits
        assert len(calls) == 4
        difference = (got.float() - expected.float()).abs().max().item()
        assert difference <= 0.01 * expected.float().std().item(), difference
        tokens = merged.generate(ids[:, :8], max_new_tokens=8, do_sample=False,
                                 pad_token_id=0)
        assert torch.equal(tokens, unmerged.generate(ids[:, :8], max_new_tokens=8,
                                                     do_sample=False, pad_token_id=0))
