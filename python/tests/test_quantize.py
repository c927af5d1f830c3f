"""w4a16.quantize (the library's RTN quantizer) against the numpy reference
in rtn_reference.py: q, zeros and scales must agree exactly."""
import numpy as np
import pytest

import w4a16
from rtn_reference import reference_quantize


def random_weight(rng, n, k, dtype=np.float32):
    """Normal values with a few outliers, one all-positive row, one all-zero group."""
    w = rng.standard_normal((n, k)) * 0.02
    w[rng.integers(0, n, 5), rng.integers(0, k, 5)] *= 40  # outliers widen a group's range
    w[1] = np.abs(w[1])  # asymmetric zero of 0
    w[2, :32] = 0.0  # a group of zeros (for group sizes up to 32)
    return w.astype(dtype)


@pytest.mark.parametrize("group_size", [32, 64, 128, -1])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("scales_dtype", ["F16", "BF16", "F32"])
def test_matches_numpy_reference(group_size, symmetric, scales_dtype):
    rng = np.random.default_rng(abs(group_size) * 7 + symmetric * 3 + len(scales_dtype))
    weight = random_weight(rng, 24, 256)
    got = w4a16.quantize(weight, group_size, symmetric, scales_dtype)
    q, scales, zeros = reference_quantize(weight, group_size, symmetric, scales_dtype)
    groups = 1 if group_size < 0 else 256 // group_size
    assert got.q.shape == (24, 256) and got.q.dtype == np.uint8
    assert got.scales.shape == (24, groups) and got.scales.dtype == np.float32
    np.testing.assert_array_equal(got.scales, scales)
    np.testing.assert_array_equal(got.q, q)
    if symmetric:
        assert got.zeros is None
    else:
        np.testing.assert_array_equal(got.zeros, zeros)
    assert got.scales_dtype == scales_dtype and got.group_size == group_size


@pytest.mark.parametrize("symmetric", [True, False])
def test_error_within_half_a_step(symmetric):
    rng = np.random.default_rng(5)
    weight = random_weight(rng, 16, 512, np.float16)
    got = w4a16.quantize(weight, 64, symmetric)
    error = np.abs(weight.astype(np.float64) - got.dequantize())
    half_step = np.repeat(got.scales.astype(np.float64), 64, axis=1) / 2
    assert (error <= half_step).all()
    assert error.max() > 0  # random data: some rounding happened


def test_float16_input_matches_float32_of_the_same_values():
    weight = random_weight(np.random.default_rng(9), 8, 128, np.float16)
    from_half = w4a16.quantize(weight, 128, False)
    from_float = w4a16.quantize(weight.astype(np.float32), 128, False)
    np.testing.assert_array_equal(from_half.q, from_float.q)
    np.testing.assert_array_equal(from_half.scales, from_float.scales)


def test_library_errors_name_the_argument():
    weight = np.ones((8, 100), dtype=np.float32)
    with pytest.raises(w4a16.ShapeError, match="K=100 is not a multiple of group_size=128"):
        w4a16.quantize(weight, 128)
    with pytest.raises(w4a16.ArgumentError, match="group_size=48"):
        w4a16.quantize(np.ones((8, 96), dtype=np.float32), 48)
    bad = np.ones((8, 128), dtype=np.float32)
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"weight\[3, 7\]=nan is not finite"):
        w4a16.quantize(bad, 128)
    with pytest.raises(w4a16.ArgumentError, match="overflows F16"):
        w4a16.quantize(np.full((8, 128), 60000.0, dtype=np.float32) * 1000, 128)


def test_python_side_argument_errors():
    with pytest.raises(w4a16.ArgumentError, match=r"shape \(128,\)"):
        w4a16.quantize(np.ones(128, dtype=np.float32))
    with pytest.raises(w4a16.ArgumentError, match="float64"):
        w4a16.quantize(np.ones((8, 128)))
    with pytest.raises(ValueError, match="'f8'"):
        w4a16.quantize(np.ones((8, 128), dtype=np.float32), scales_dtype="f8")


def test_non_contiguous_input_is_copied():
    weight = random_weight(np.random.default_rng(3), 32, 256)
    strided = np.asfortranarray(weight)
    np.testing.assert_array_equal(w4a16.quantize(strided, 64).q, w4a16.quantize(weight, 64).q)
