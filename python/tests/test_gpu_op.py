"""w4a16::gemm and W4A16Linear on a GPU: results against the fp64
reference, bitwise equal to the C API on the same inputs, torch.compile
(fullgraph, M dynamic), CUDA graph capture and replay, errors before
anything runs, one cuBLAS, one ctx per thread. Skips without CUDA."""
import ctypes
import os
import threading

import pytest

from gpu_support import (check_against_reference, poison_next_output, random_activations,
                         random_quantized, require_gpu, torch)

import w4a16  # noqa: E402
from w4a16 import _torch_context  # noqa: E402
from w4a16._library import lib  # noqa: E402
from w4a16.packing import weight_view  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def gpu():
    require_gpu()


M_VALUES = [1, 5, 16, 17, 100, 300]


@pytest.mark.parametrize("format,symmetric,group_size", [
    ("awq", False, 128), ("gptq_v2", True, 64), ("ct", False, 32), ("ct", True, -1)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_matches_the_reference(format, symmetric, group_size, dtype):
    weight = random_quantized(384, 512, group_size, symmetric, seed=group_size & 0xFF)
    layer = w4a16.W4A16Linear.from_quantized(weight, act_dtype=dtype, format=format)
    for m in M_VALUES:
        a = random_activations(m, 512, dtype, seed=m)
        poison_next_output((m, 384), dtype)
        check_against_reference(layer(a), a, weight)


def c_api_gemm(layer, a, bias=None):
    """The same product through w4a16_gemm directly, into a NaN-poisoned C."""
    m, k = a.shape
    n = layer.out_features
    out = torch.full((m, n), float("nan"), dtype=a.dtype, device=a.device)
    view = weight_view(layer._header, layer.qweight, layer.scales, layer.zeros, layer.perm)
    context = _torch_context.device_context(a.device.index)
    stream = torch.cuda.current_stream()
    w4a16.errors.check(lib().w4a16_gemm(context.handle, ctypes.byref(view), a.data_ptr(), k,
                                        out.data_ptr(), n, m,
                                        None if bias is None else bias.data_ptr(),
                                        stream.cuda_stream))
    return out


@pytest.mark.parametrize("m", M_VALUES)
def test_bitwise_equal_to_the_c_api(m):
    weight = random_quantized(256, 384, 128, False, seed=3)
    bias = random_activations(1, 256, torch.float16, seed=9)[0]
    layer = w4a16.W4A16Linear.from_quantized(weight, bias=bias)
    a = random_activations(m, 384, torch.float16, seed=m + 1)
    assert torch.equal(layer(a), c_api_gemm(layer, a, layer.bias))
    check_against_reference(layer(a), a, weight, layer.bias)


def test_eager_path_equals_the_op():
    """W4A16Linear's eager calls skip the dispatcher (ops.eager_gemm); they give
    the op's bits, and a's mistakes still raise after the weight is known."""
    weight = random_quantized(256, 384, 128, True, seed=6)
    bias = random_activations(1, 256, torch.float16, seed=10)[0]
    layer = w4a16.W4A16Linear.from_quantized(weight, bias=bias)
    for m in (1, 16, 100):
        a = random_activations(m, 384, torch.float16, seed=m + 2)
        eager = w4a16.ops.eager_gemm(a, layer.qweight, layer.scales, layer.zeros, layer.perm,
                                     layer.bias, layer._header)
        assert eager is not None
        op = torch.ops.w4a16.gemm(a, layer.qweight, layer.scales, layer.zeros, layer.perm,
                                  layer.bias, layer._header)
        assert torch.equal(eager, op)
        assert torch.equal(layer(a), op)
    with pytest.raises(w4a16.ShapeError, match="in_features K=384"):
        layer(random_activations(2, 383, torch.float16))
    with pytest.raises(w4a16.ArgumentError, match="packed for torch.float16"):
        layer(random_activations(2, 384, torch.bfloat16))
    x = random_activations(2, 384, torch.float16).requires_grad_()
    assert w4a16.ops.eager_gemm(x, layer.qweight, layer.scales, layer.zeros, layer.perm,
                                layer.bias, layer._header) is None  # autograd: the op


def test_strided_and_batched_inputs():
    weight = random_quantized(128, 256, 64, True, seed=4)
    layer = w4a16.W4A16Linear.from_quantized(weight)
    wide = random_activations(40, 300, torch.float16, seed=5)
    sliced = wide[:, 10:266]  # rows 300 elements apart (lda > K), 20 bytes in: no copy
    check_against_reference(layer(sliced), sliced, weight)
    batched = sliced.contiguous().reshape(4, 10, 256)
    assert torch.equal(layer(batched).reshape(40, 128), layer(sliced.contiguous()))
    assert layer(torch.empty(0, 256, dtype=torch.float16, device="cuda")).shape == (0, 128)


def test_from_linear_quantizes_with_the_library():
    torch.manual_seed(0)
    dense = torch.nn.Linear(512, 256, bias=True).to("cuda", torch.float16)
    layer = w4a16.W4A16Linear.from_linear(dense, group_size=128, symmetric=False)
    weight = w4a16.quantize(dense.weight.detach().float().cpu().numpy(), 128, False)
    reference = w4a16.dequantized_linear(weight, dense.bias.detach(), torch.float16, "cuda")
    a = random_activations(33, 512, torch.float16)
    check_against_reference(layer(a), a, weight, dense.bias.detach())
    assert (layer(a) - reference(a)).abs().max() < 0.05
    assert layer.packed_bytes() < 0.3 * dense.weight.numel() * 2


class Block(torch.nn.Module):
    def __init__(self, up, down):
        super().__init__()
        self.up, self.down = up, down

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.up(x)))


def block():
    up = w4a16.W4A16Linear.from_quantized(random_quantized(512, 256, 128, True, seed=1))
    down = w4a16.W4A16Linear.from_quantized(random_quantized(256, 512, 128, False, seed=2))
    return Block(up, down)


def test_torch_compile_fullgraph_dynamic_m():
    model = block()
    compiled = torch.compile(model, fullgraph=True)
    for i, m in enumerate((3, 17, 129)):
        x = random_activations(m, 256, torch.float16, seed=m)
        torch._dynamo.mark_dynamic(x, 0)
        # After the first call, a new M must not recompile: M is dynamic.
        with torch._dynamo.config.patch(error_on_recompile=i > 0):
            got = compiled(x)
        # Inductor fuses silu its own way: close to eager, not bitwise.
        torch.testing.assert_close(got, model(x), rtol=2e-2, atol=2e-2)


def test_cuda_graph_capture_and_replay():
    model = block()
    static_x = random_activations(8, 256, torch.float16, seed=11)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside capture grows the workspace
        model(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = model(static_x)
    for seed in (12, 13):
        fresh = random_activations(8, 256, torch.float16, seed=seed)
        static_x.copy_(fresh)
        static_out.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(static_out, model(fresh))


def test_mistakes_raise_before_anything_runs():
    layer = w4a16.W4A16Linear.from_quantized(random_quantized(128, 256, 128, True))
    with pytest.raises(w4a16.ArgumentError, match="packed for torch.float16"):
        layer(random_activations(2, 256, torch.bfloat16))
    with pytest.raises(w4a16.ShapeError, match="in_features K=256"):
        layer(random_activations(2, 255, torch.float16))
    with pytest.raises(w4a16.ArgumentError, match="on cuda:0 but a is on cpu|a is on cpu"):
        layer(random_activations(2, 256, torch.float16, device="cpu"))
    x = random_activations(2, 256, torch.float16).requires_grad_()
    with pytest.raises(RuntimeError, match="inference only"):
        layer(x).sum().backward()


def test_forced_kernels_through_the_api():
    layer = w4a16.W4A16Linear.from_quantized(random_quantized(256, 512, 128, True))
    context = _torch_context.device_context(torch.cuda.current_device())
    a = random_activations(4, 512, torch.float16)
    try:
        context.set_kernel("fallback")
        assert layer.kernel_name(4) == "fallback"
        via_fallback = layer(a)
        context.set_kernel("auto")
        assert layer.kernel_name(4) in ("decode", "decode_v2", "fallback", "sm90_prefill")
        assert (layer(a) - via_fallback).abs().max() < 1e-2
        with pytest.raises(w4a16.ArgumentError, match="nope"):
            context.set_kernel("nope")
    finally:
        context.set_kernel("auto")


def test_one_cublas_in_the_process():
    layer = w4a16.W4A16Linear.from_quantized(random_quantized(128, 256, 128, True))
    layer(random_activations(300, 256, torch.float16))  # the fallback: cuBLAS loaded
    torch.ones(64, 64, device="cuda", dtype=torch.float16) @ torch.ones(64, 64, device="cuda",
                                                                        dtype=torch.float16)
    with open("/proc/self/maps") as maps:
        paths = {os.path.realpath(line.split()[-1]) for line in maps
                 if "libcublas.so" in line and "libcublasLt" not in line}
    assert len(paths) == 1, paths


def test_one_context_per_thread():
    layer = w4a16.W4A16Linear.from_quantized(random_quantized(128, 256, 128, True))
    a = random_activations(5, 256, torch.float16)
    expected = layer(a)
    torch.cuda.synchronize()
    results = {}

    def work(name):
        results[name] = (layer(a), _torch_context.device_context(a.device.index).handle.value)
        torch.cuda.synchronize()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handles = {results[i][1] for i in range(2)}
    main = _torch_context.device_context(a.device.index).handle.value
    assert len(handles) == 2 and main not in handles
    assert all(torch.equal(results[i][0], expected) for i in range(2))


def test_state_dict_round_trip_without_packing(monkeypatch, tmp_path):
    layer = w4a16.W4A16Linear.from_quantized(random_quantized(256, 512, 64, False, seed=8),
                                             bias=random_activations(1, 256, torch.float16)[0])
    path = tmp_path / "layer.pt"
    torch.save(layer.state_dict(), path)
    monkeypatch.setattr(w4a16.linear, "pack", lambda *a, **k: pytest.fail("packed again"))
    restored = w4a16.W4A16Linear()
    restored.load_state_dict(torch.load(path, weights_only=True))
    a = random_activations(9, 512, torch.float16)
    assert torch.equal(restored(a), layer(a))
    assert restored.extra_repr() == layer.extra_repr()
