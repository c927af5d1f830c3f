"""Tensor parallelism on the GPU (docs/DESIGN.md §9).

test_from_checkpoint_refuses_before_packing: the splits W4A16Linear cannot
take, named (no GPU needed).

test_rank_shards_make_the_whole_layer (one process): every rank's
W4A16Linear of a random AWQ g128 checkpoint, at world 2 and 4; the ranks'
outputs, concatenated (q|k|v, column) or summed (o_proj, row), against the
fp64 reference of the whole layer.

test_qwen3_block_tensor_parallel (one rank per process; skips unless
launched by torchrun): a Qwen3-4B decoder layer with random AWQ g128
weights split over the ranks, all-reduced in fp16 after o_proj and down,
within 2x the single-GPU block's error against the fp64 block, prefill
(2048 tokens) and a decode step (batch 1) timed against the single-GPU block:

    NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 torchrun --standalone \\
        --nproc-per-node 2 -m pytest -q -s -p no:cacheprovider python/tests/test_tp.py

NCCL with a GPU per rank; with fewer GPUs than ranks, gloo with the ranks
sharing GPU 0 (NCCL refuses two ranks on one device): right for the
numbers, not for speed (gloo reduces through host memory).
"""
import os
import shutil
import tempfile
from datetime import timedelta

import numpy as np
import pytest

from gpu_support import check_against_reference, random_activations, require_gpu, torch

import qwen3_block as qb  # noqa: E402
import w4a16  # noqa: E402
from w4a16.checkpoint_writer import save_quantized  # noqa: E402
from w4a16.sharding import shard_bias  # noqa: E402
from format_support import rank_slice  # noqa: E402

# NVLink multicast stays off in every launch (also set by the command above).
os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")

PREFIX = "model.layers.0.self_attn."
QKV = [PREFIX + name for name in ("q_proj", "k_proj", "v_proj")]
O_PROJ = PREFIX + "o_proj"


def relative_error(out, reference):
    return ((out.double() - reference).abs().max() / reference.abs().max()).item()


def test_rank_shards_make_the_whole_layer(tmp_path):
    require_gpu()
    if int(os.environ.get("RANK", "0")) != 0:
        pytest.skip("one process's test: under torchrun, rank 0 runs it")
    k = 512  # k / 4 a multiple of G = 128
    shapes = {QKV[0]: 512, QKV[1]: 128, QKV[2]: 128, O_PROJ: 512}
    layers = {name: w4a16.quantize((np.random.default_rng(i).standard_normal((n, k)) * 0.05)
                                   .astype(np.float32), 128, symmetric=False)
              for i, (name, n) in enumerate(shapes.items())}
    save_quantized(tmp_path, "awq", layers)
    w_hat = {name: weight.dequantize() for name, weight in layers.items()}
    rows = [shapes[name] for name in QKV]
    qkv_bias = random_activations(1, sum(rows), torch.float16, seed=7)[0]
    o_bias = random_activations(1, shapes[O_PROJ], torch.float16, seed=8)[0]
    xs = [random_activations(m, k, torch.float16, seed=m) for m in (1, 96)]
    with w4a16.Checkpoint(tmp_path) as ckpt:
        whole_qkv = w4a16.W4A16Linear.from_checkpoint(ckpt, QKV, qkv_bias, device="cuda")
        whole_o = w4a16.W4A16Linear.from_checkpoint(ckpt, O_PROJ, o_bias, device="cuda")
        for world in (2, 4):
            qkv = [w4a16.W4A16Linear.from_checkpoint(ckpt, QKV, qkv_bias, device="cuda",
                                                     rank=r, world=world, parallel="column")
                   for r in range(world)]
            o = [w4a16.W4A16Linear.from_checkpoint(ckpt, O_PROJ, o_bias, device="cuda", rank=r,
                                                   world=world, parallel="row")
                 for r in range(world)]
            # Each rank holds its part alone: the parts add up to the whole packed weight.
            assert sum(p.qweight.numel() for p in qkv) == whole_qkv.qweight.numel()
            assert sum(p.qweight.numel() for p in o) == whole_o.qweight.numel()
            assert [p.bias is not None for p in o] == [True] + [False] * (world - 1)
            for x in xs:
                # Column: rank r's output is q_r|k_r|v_r; regrouped, the whole layer's.
                outs = [p(x) for p in qkv]
                for r, out in enumerate(outs):
                    part = np.concatenate([rank_slice(w_hat[n], r, world, "column") for n in QKV])
                    check_against_reference(out, x, part,
                                            shard_bias(qkv_bias, rows, r, world, "column"))
                bounds = np.cumsum([0] + rows) // world
                regrouped = torch.cat([out[:, bounds[i]:bounds[i + 1]]
                                       for i in range(3) for out in outs], 1)
                check_against_reference(regrouped, x, np.concatenate([w_hat[n] for n in QKV]),
                                        qkv_bias)
                # Row: rank r multiplies its columns of x; the partial sums add up.
                total = torch.zeros(x.shape[0], shapes[O_PROJ], device="cuda")
                for r, part in enumerate(o):
                    columns = slice(r * k // world, (r + 1) * k // world)
                    x_r = x[:, columns].contiguous()
                    out = part(x_r)
                    check_against_reference(out, x_r, w_hat[O_PROJ][:, columns], part.bias)
                    total += out.float()
                reference = (x.double() @ torch.from_numpy(w_hat[O_PROJ]).cuda().T
                             + o_bias.double())
                e_whole = check_against_reference(whole_o(x), x, w_hat[O_PROJ], o_bias)
                assert relative_error(total, reference) <= 2 * max(e_whole, 1e-3)


def test_from_checkpoint_refuses_before_packing(tmp_path):
    """No GPU needed: what cannot be split is refused, naming the layer, before
    anything is packed."""
    layers = {name: w4a16.quantize(np.full((n, 256), 0.01, np.float32), 128, symmetric=False)
              for name, n in zip(QKV, (64, 48, 48))}
    save_quantized(tmp_path, "awq", layers)
    with pytest.raises(w4a16.ArgumentError, match="rank=1, world=2 needs parallel="):
        w4a16.W4A16Linear.from_checkpoint(tmp_path, QKV, rank=1, world=2)
    with pytest.raises(w4a16.ShapeError, match=f"layer {QKV[1]}: column-parallel shard, rank 0 "
                                               "of 4: a rank's part is 12 rows"):
        w4a16.W4A16Linear.from_checkpoint(tmp_path, QKV, world=4, parallel="column")
    with pytest.raises(w4a16.ShapeError, match=f"layer {QKV[0]}: row-parallel shard, rank 1 of "
                                               "4: k/world=64 is not a multiple of group_size"):
        w4a16.W4A16Linear.from_checkpoint(tmp_path, QKV[0], rank=1, world=4, parallel="row")
    with pytest.raises(w4a16.ShapeError, match=r"bias has shape \[64\]: expected the whole "
                                               r"layer's \[160\]"):
        w4a16.W4A16Linear.from_checkpoint(tmp_path, QKV, torch.zeros(64), world=2,
                                          parallel="column")
    with pytest.raises(w4a16.ArgumentError, match="parallel='rows' is neither"):
        w4a16.W4A16Linear.from_checkpoint(tmp_path, QKV, world=2, parallel="rows")


def _time_ms(run, iterations, barrier=None):
    """Mean milliseconds of run() over `iterations`, after two warm-up calls
    (and the barrier, so that ranks start together)."""
    for _ in range(2):
        run()
    torch.cuda.synchronize()
    if barrier is not None:
        barrier()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iterations


def test_qwen3_block_tensor_parallel():
    require_gpu()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 2:
        pytest.skip("runs one rank per process: launch with torchrun --nproc-per-node 2 "
                    "(this file's docstring has the command)")
    import torch.distributed as dist
    rank = int(os.environ["RANK"])
    gpu_per_rank = torch.cuda.device_count() >= world
    backend = "nccl" if gpu_per_rank else "gloo"
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) if gpu_per_rank else 0)
    torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=timedelta(seconds=120))
    try:
        verdict = _run_block(dist, rank, world, device, backend)
    finally:
        dist.destroy_process_group()
    assert verdict[0], verdict[1]


def _run_block(dist, rank, world, device, backend):
    """Every collective comes before any assertion, so that a failing rank
    cannot leave the other waiting; rank 0 decides and tells the others."""
    box = [tempfile.mkdtemp(prefix="w4a16-tp-") if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    directory = box[0]
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2048, qb.HIDDEN, generator=generator).to(device, torch.float16)
    x_next = torch.randn(1, qb.HIDDEN, generator=generator).to(device, torch.float16)
    positions = torch.arange(2049, device=device)
    results = {}
    if rank == 0:  # the checkpoint, the single-GPU block and the fp64 reference
        layers = qb.write_checkpoint(directory)
        single = qb.packed_block(directory, device)
        reference = qb.reference_block(layers, device)
        ref_out, ref_cache = reference(x.double(), positions[:2048])
        ref_next, _ = reference(x_next.double(), positions[2048:], ref_cache)
        del reference, ref_cache
        out, cache = single(x, positions[:2048])
        out_next, _ = single(x_next, positions[2048:], cache)
        results["single"] = (relative_error(out, ref_out), relative_error(out_next, ref_next))
        results["single_ms"] = (_time_ms(lambda: single(x, positions[:2048]), 10),
                                _time_ms(lambda: single(x_next, positions[2048:], cache), 50))
        del single, cache
    dist.barrier()

    def all_reduce(partial):  # in fp16, as an engine sums the ranks' partial outputs
        dist.all_reduce(partial)
        return partial

    tp = qb.packed_block(directory, device, rank, world, all_reduce)
    out, cache = tp(x, positions[:2048])
    out_next, _ = tp(x_next, positions[2048:], cache)
    tp_ms = (_time_ms(lambda: tp(x, positions[:2048]), 10, dist.barrier),
             _time_ms(lambda: tp(x_next, positions[2048:], cache), 50, dist.barrier))
    verdict = [True, ""]
    if rank == 0:
        tp_errors = (relative_error(out, ref_out), relative_error(out_next, ref_next))
        verdict = _report(results, tp_errors, tp_ms, backend, world)
        shutil.rmtree(directory, ignore_errors=True)
    dist.broadcast_object_list(verdict, src=0)
    return verdict


def _report(results, tp_errors, tp_ms, backend, world):
    where = "a GPU per rank" if backend == "nccl" else "all ranks on one GPU: not a speed figure"
    print(f"\nQwen3-4B decoder layer, AWQ g128 asym, fp16, eager (decode is host-bound); "
          f"{world} ranks, {backend} ({where})")
    failures = []
    for i, step in enumerate(("prefill 2048 tokens", "decode batch 1")):
        single_error, tp_error = results["single"][i], tp_errors[i]
        print(f"  {step:20s} single GPU {results['single_ms'][i]:8.3f} ms  "
              f"tensor-parallel {tp_ms[i]:8.3f} ms   error vs fp64: single {single_error:.3g}, "
              f"tensor-parallel {tp_error:.3g}")
        if not tp_error <= 2 * single_error:
            failures.append(f"{step}: tensor-parallel error {tp_error:.3g} is more than twice "
                            f"the single-GPU block's {single_error:.3g}")
    return [not failures, "; ".join(failures)]
