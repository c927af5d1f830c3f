"""Shared pieces of the GPU tests: the skip without a CUDA device, random
quantized layers, the fp64 reference and the error bound of docs/DESIGN.md §1
(no worse than max(1.5 x cuBLAS's error on W rounded to 16 bits, floor))."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")

import w4a16  # noqa: E402

FLOOR = {torch.float16: 1e-3, torch.bfloat16: 8e-3}


def require_gpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is False)")
    if w4a16.device_count() == 0:
        pytest.skip("the library sees no CUDA device")


def random_quantized(n, k, group_size=128, symmetric=True, scales_dtype="F16", seed=0):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    return w4a16.quantize(weight, group_size, symmetric, scales_dtype)


def random_activations(m, k, dtype, seed=1, device="cuda"):
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(m, k, generator=generator).to(device=device, dtype=dtype)


def poison_next_output(shape, dtype):
    """Fills the caching allocator's next block of this size with NaN, so an
    output the op forgot to write shows up."""
    torch.empty(shape, dtype=dtype, device="cuda").fill_(float("nan"))
    torch.cuda.synchronize()


def check_against_reference(out, a, weight, bias=None):
    """Asserts out (= a · Ŵᵀ + bias) is within the design's bound of the fp64
    reference; weight is a QuantizedWeight or Ŵ itself (float64 [n, k])."""
    w_hat = weight.dequantize() if isinstance(weight, w4a16.QuantizedWeight) else weight
    w_hat = torch.as_tensor(w_hat, dtype=torch.float64).to(out.device)
    a = a.to(out.device)
    reference = a.double() @ w_hat.T
    cublas = (a @ w_hat.to(a.dtype).T).double()
    if bias is not None:
        reference = reference + bias.double()
        cublas = cublas + bias.double()
    scale = reference.abs().max().clamp_min(1e-30)
    error = ((out.double() - reference).abs().max() / scale).item()
    e_cublas = ((cublas - reference).abs().max() / scale).item()
    bound = max(1.5 * e_cublas, FLOOR[a.dtype])
    assert not torch.isnan(out).any(), "NaN in the output"
    assert error <= bound, f"error {error:.3g} > bound {bound:.3g} (cuBLAS {e_cublas:.3g})"
    return error
