"""The w4a16::gemm op's fake implementation, without a GPU: torch.compile
(fullgraph, M dynamic) traces a module that uses it, on meta tensors, and
the op's argument checks fire before anything runs. Needs torch (skips
without it: CI does not install the CUDA torch from PyPI)."""
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")

import w4a16  # noqa: E402
from w4a16 import _capi  # noqa: E402
from w4a16.packing import PackedWeight  # noqa: E402

N, K, GROUP = 256, 512, 128


def meta_linear(act_dtype=torch.float16, symmetric=True, bias=False):
    """A W4A16Linear whose buffers live on the meta device (no packing)."""
    header = {"version": _capi.PACKED_VERSION, "n": N, "k": K, "n_padded": N, "k_padded": K,
              "group_size": GROUP, "groups": K // GROUP, "groups_padded": K // GROUP,
              "act_dtype": _capi.DTYPE["F16" if act_dtype == torch.float16 else "BF16"],
              "scales_dtype": _capi.DTYPE["F16"]}
    empty = lambda nbytes: torch.empty(nbytes, dtype=torch.uint8, device="meta")
    packed = PackedWeight(header, empty(N * K // 2), empty(K // GROUP * N * 2),
                          None if symmetric else empty(K // GROUP * N), None)
    b = torch.empty(N, dtype=act_dtype, device="meta") if bias else None
    return w4a16.W4A16Linear(packed, b)


class TwoLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = meta_linear(bias=True)
        self.down = meta_linear(symmetric=False)

    def forward(self, x):
        return self.down(torch.nn.functional.pad(torch.relu(self.up(x)), (0, K - N)))


def test_compile_fullgraph_with_dynamic_m():
    graphs = []

    def backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    model = torch.compile(TwoLayers(), fullgraph=True, backend=backend)
    for m in (3, 17, 64):
        x = torch.empty(m, K, dtype=torch.float16, device="meta")
        torch._dynamo.mark_dynamic(x, 0)
        out = model(x)
        assert out.shape == (m, N) and out.dtype == torch.float16 and out.device.type == "meta"
    assert len(graphs) == 1, "M is dynamic: one graph serves every M"
    targets = [node.target for node in graphs[0].graph.nodes if node.op == "call_function"]
    gemm = torch.ops.w4a16.gemm
    assert sum(target in (gemm, gemm.default) for target in targets) == 2


def test_leading_dimensions_are_kept():
    out = meta_linear()(torch.empty(2, 5, K, dtype=torch.float16, device="meta"))
    assert out.shape == (2, 5, N)
    assert meta_linear()(torch.empty(K, dtype=torch.float16, device="meta")).shape == (N,)


def test_mistakes_are_named_before_anything_runs():
    linear = meta_linear()
    with pytest.raises(w4a16.ArgumentError, match="a is torch.bfloat16; this weight was "
                                                  "packed for torch.float16 activations"):
        linear(torch.empty(4, K, dtype=torch.bfloat16, device="meta"))
    with pytest.raises(w4a16.ShapeError, match=r"a has shape \[4, 500\]: its last dimension "
                                               r"must be in_features K=512"):
        linear(torch.empty(4, 500, dtype=torch.float16, device="meta"))
    with pytest.raises(w4a16.ArgumentError, match="bias is torch.float32"):
        torch.ops.w4a16.gemm(torch.empty(4, K, dtype=torch.float16, device="meta"),
                             linear.qweight, linear.scales, None, None,
                             torch.empty(N, device="meta"), linear._header)
    with pytest.raises(w4a16.ArgumentError, match="qweight is on cpu but a is on meta"):
        torch.ops.w4a16.gemm(torch.empty(4, K, dtype=torch.float16, device="meta"),
                             torch.empty(16, dtype=torch.uint8), linear.scales, None, None, None,
                             linear._header)
    with pytest.raises(w4a16.ArgumentError, match="version 7"):
        torch.ops.w4a16.gemm(torch.empty(4, K, dtype=torch.float16, device="meta"),
                             linear.qweight, linear.scales, None, None, None,
                             [7] + linear._header[1:])


def test_mistakes_under_compile_keep_their_message():
    model = torch.compile(meta_linear(), fullgraph=True, backend="eager")
    with pytest.raises(Exception, match="its last dimension must be in_features K=512"):
        model(torch.empty(4, 100, dtype=torch.float16, device="meta"))


def test_real_implementation_refuses_cpu_tensors():
    linear = meta_linear()
    with pytest.raises(w4a16.ArgumentError, match="a is on cpu: w4a16::gemm runs on CUDA"):
        torch.ops.w4a16.gemm(torch.zeros(2, K, dtype=torch.float16),
                             linear.qweight.new_zeros(1, device="cpu").expand(N * K // 2),
                             torch.zeros(K // GROUP * N * 2, dtype=torch.uint8), None, None, None,
                             linear._header)


def test_backward_is_refused_clearly():
    x = torch.empty(3, K, dtype=torch.float16, device="meta", requires_grad=True)
    y = meta_linear()(x)
    with pytest.raises(RuntimeError, match="inference only"):
        y.sum().backward()


def test_an_empty_module_says_how_to_fill_it():
    with pytest.raises(w4a16.ArgumentError, match="has no weight"):
        w4a16.W4A16Linear()(torch.empty(1, K, dtype=torch.float16, device="meta"))
