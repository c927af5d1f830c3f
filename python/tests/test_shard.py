"""w4a16.shard on every format's tensors, against numpy's slice of the
dequantized weight: a rank's part holds exactly its rows (column) or columns
(row); run through the fp64 reference, the ranks' outputs concatenate or sum
to the whole layer's; splits a format cannot take raise, naming the rule.
No torch, no GPU."""
import ctypes
import re

import numpy as np
import pytest

import w4a16
from w4a16 import formats
from w4a16.checkpoint_writer import save_quantized
from w4a16.reference import reference_gemm
from w4a16.sharding import shard_bias
from format_support import exact_weight, python_source, quantized, rank_slice

CASES = [(f, g, sym) for f in formats.FORMATS for g in (128, -1) for sym in (True, False)]


def layer(format, n, k, group_size=128, symmetric=False, seed=0, act_order=False):
    """(QuantizedWeight, its tensors in format, their source); keep the tensors alive."""
    weight = quantized(n, k, group_size, symmetric, seed=seed)
    if format == "gptq" and not symmetric:
        weight.zeros = np.maximum(weight.zeros, 1)  # v1 stores z - 1
    if act_order:  # each group keeps G columns, shuffled over K (GPTQ's desc_act)
        weight.g_idx = np.random.default_rng(seed).permutation(np.arange(k) // group_size)
        weight.g_idx = weight.g_idx.astype(np.int32)
    tensors = formats.encode(weight, format)
    return weight, tensors, python_source(format, weight, tensors)


@pytest.mark.parametrize("format,group_size,symmetric", CASES)
@pytest.mark.parametrize("parallel", ["column", "row"])
def test_rank_part_is_numpys_slice(format, group_size, symmetric, parallel):
    weight, _tensors, source = layer(format, 64, 512, group_size, symmetric, seed=group_size & 7)
    whole = weight.dequantize()
    for world in (2, 4):
        for rank in range(world):
            part = w4a16.shard(source, rank, world, parallel)
            np.testing.assert_array_equal(exact_weight(part),
                                          rank_slice(whole, rank, world, parallel))


def test_merged_column_shard_is_q_r_k_r_v_r():
    """Per-source ranges, not one range of the concatenation."""
    q, k, v = (layer("awq", n, 256, seed=s) for s, n in enumerate((64, 32, 32)))
    for rank in range(2):
        parts = w4a16.shard([q[2], k[2], v[2]], rank, 2, "column")
        got = np.concatenate([exact_weight(p) for p in parts])
        want = np.concatenate([rank_slice(w[0].dequantize(), rank, 2, "column")
                               for w in (q, k, v)])
        np.testing.assert_array_equal(got, want)
        assert [p.n for p in parts] == [32, 16, 16]


@pytest.mark.parametrize("format", formats.FORMATS)
@pytest.mark.parametrize("world", [2, 4])
def test_ranks_add_up_to_the_layer(format, world):
    """The single-process picture of tensor parallelism on the CPU reference:
    merged q|k|v column-parallel concatenates, o_proj row-parallel sums (the
    bias added once, by rank 0)."""
    K = 512  # k / world a multiple of G = 128
    rng = np.random.default_rng(world)
    a = rng.standard_normal((5, K)).astype(np.float16)
    qkv = [layer(format, n, K, seed=s) for s, n in enumerate((64, 32, 32))]
    rows = [w.n for w, _, _ in qkv]
    bias = rng.standard_normal(sum(rows)).astype(np.float16)
    whole = np.concatenate([reference_gemm(s, a) for _, _, s in qkv], axis=1) + bias
    per_rank = []
    for rank in range(world):
        parts = w4a16.shard([s for _, _, s in qkv], rank, world, "column")
        out = np.concatenate([reference_gemm(p, a) for p in parts], axis=1)
        per_rank.append(out + shard_bias(bias, rows, rank, world, "column"))
    # Rank r holds q_r|k_r|v_r: regroup the columns source by source.
    regrouped = [np.concatenate([r[:, sum(rows[:i]) // world:sum(rows[:i + 1]) // world]
                                 for r in per_rank], axis=1) for i in range(3)]
    np.testing.assert_allclose(np.concatenate(regrouped, axis=1), whole, rtol=0, atol=1e-12)

    _o_weight, _o_tensors, o = layer(format, 48, K, seed=9)
    o_bias = rng.standard_normal(48).astype(np.float16)
    total = np.zeros((5, 48))
    for rank in range(world):
        cols = slice(rank * K // world, (rank + 1) * K // world)
        rank_bias = shard_bias(o_bias, [48], rank, world, "row")
        assert (rank_bias is None) == (rank != 0)
        total += reference_gemm(w4a16.shard(o, rank, world, "row"), a[:, cols], bias=rank_bias)
    want = reference_gemm(o, a, bias=o_bias)
    np.testing.assert_allclose(total, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("format", ["gptq", "gptq_v2", "ct"])
def test_act_order_splits_along_n_only(format):
    weight, _tensors, source = layer(format, 32, 256, group_size=32, seed=4, act_order=True)
    whole = weight.dequantize()
    for rank in range(4):
        part = w4a16.shard(source, rank, 4, "column")
        np.testing.assert_array_equal(exact_weight(part), rank_slice(whole, rank, 4, "column"))
    with pytest.raises(w4a16.UnsupportedError,
                       match=r"row-parallel shard, rank 0 of 2: act-order \(g_idx\): group \d+ "
                             r"has columns in the K ranges of rank 0 .* packed layout v1"):
        w4a16.shard(source, 0, 2, "row")


REFUSED = [  # format, n, k, group_size, symmetric, rank, world, parallel, error, message
    ("awq", 64, 256, 128, False, 1, 3, "column", w4a16.ShapeError,
     "column-parallel shard, rank 1 of 3: n=64 is not a multiple of world=3"),
    ("gptq_v2", 64, 256, 128, False, 0, 3, "row", w4a16.ShapeError,
     "row-parallel shard, rank 0 of 3: k=256 is not a multiple of world=3"),
    ("ct", 64, 256, 128, False, 0, 4, "row", w4a16.ShapeError,
     "k/world=64 is not a multiple of group_size=128"),
    ("awq", 48, 256, 128, True, 0, 4, "column", w4a16.ShapeError,
     "a rank's part is 12 rows, not a multiple of 8, and qweight holds 8 rows"),
    ("gptq_v2", 48, 256, 128, False, 0, 4, "column", w4a16.ShapeError,
     "a rank's part is 12 rows, not a multiple of 8, and qzeros holds 8 rows"),
    ("gptq", 16, 48, -1, True, 0, 4, "row", w4a16.ShapeError,
     "a rank's part is 12 columns, not a multiple of 8, and qweight holds 8 columns"),
    ("awq", 64, 256, 128, False, 2, 2, "row", w4a16.ArgumentError,
     "shard rank=2 is outside 0..1 (world=2)"),
    ("awq", 64, 256, 128, False, 0, 0, "row", w4a16.ArgumentError,
     "shard world=0 must be at least 1"),
]


@pytest.mark.parametrize("format,n,k,group,symmetric,rank,world,parallel,error,message", REFUSED)
def test_splits_a_format_cannot_take(format, n, k, group, symmetric, rank, world, parallel, error,
                                     message):
    _weight, _tensors, source = layer(format, n, k, group, symmetric)
    with pytest.raises(error, match=re.escape(message)):
        w4a16.shard(source, rank, world, parallel)


def test_splits_a_format_can_take():
    # A symmetric compressed-tensors layer packs nothing along N: 12 rows a rank are fine.
    _weight, _tensors, source = layer("ct", 48, 256, 128, True)
    assert w4a16.shard(source, 3, 4, "column").n == 12
    with pytest.raises(w4a16.ArgumentError, match="parallel='diagonal' is neither"):
        w4a16.shard(source, 0, 2, "diagonal")


def test_shard_bias():
    bias = np.arange(10.0)
    np.testing.assert_array_equal(shard_bias(bias, [6, 4], 1, 2, "column"), [3, 4, 5, 8, 9])
    assert shard_bias(bias, [10], 0, 2, "row") is bias
    assert shard_bias(bias, [10], 1, 2, "row") is None
    assert shard_bias(None, [10], 0, 2, "column") is None
    assert shard_bias(bias, [10], 0, 1, "column") is bias
    with pytest.raises(w4a16.ShapeError, match=r"bias has shape \[10\]: expected the whole "
                                               r"layer's \[12\]"):
        shard_bias(bias, [6, 6], 0, 2, "column")


def test_checkpoint_layers_shard_in_place(tmp_path):
    """The sources Checkpoint.source gives (views of the mapped file) shard
    the same way, and the parts view the file: nothing is copied."""
    weight = quantized(64, 256, 128, False, seed=5)
    save_quantized(tmp_path, "awq", {"model.layers.0.self_attn.o_proj": weight})
    with w4a16.Checkpoint(tmp_path) as ckpt:
        source = ckpt.source("model.layers.0.self_attn.o_proj")
        part = w4a16.shard(source, 1, 2, "row")
        np.testing.assert_array_equal(exact_weight(part), weight.dequantize()[:, 128:])
        base = ckpt.tensor("model.layers.0.self_attn.o_proj.qweight").ctypes.data
        address = ctypes.cast(part.qweight, ctypes.c_void_p).value
        assert address == base + 128 * (64 // 8) * 4  # row 128 of qweight [K, N/8]
