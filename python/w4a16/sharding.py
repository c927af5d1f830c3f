"""Tensor parallelism (docs/DESIGN.md §9): one rank's part of a quantized
layer, cut from the checkpoint's tensors on the host before packing, so no
rank holds the whole layer on its GPU.

    column  q|k|v, gate|up: rank r takes rows [r·n/world, (r+1)·n/world) of
            EACH source (its q|k|v is q_r|k_r|v_r) and outputs those columns
    row     o_proj, down: rank r takes columns [r·k/world, (r+1)·k/world) and
            multiplies the same columns of the input; the ranks' outputs are
            summed (all-reduce), so only rank 0 adds the bias

The engine (torch.distributed) runs the ranks and the all-reduce.
"""
import ctypes

from . import _capi
from ._library import lib
from .errors import argument_error, check, shape_error

PARALLEL = {"column": _capi.COLUMN_PARALLEL, "row": _capi.ROW_PARALLEL}


def parallel_code(parallel):
    """The w4a16_parallel value of "column" or "row"."""
    if parallel not in PARALLEL:
        raise argument_error(f"parallel={parallel!r} is neither 'column' nor 'row'")
    return PARALLEL[parallel]


def rank_range(extent, rank, world):
    """[begin, end) of a rank's equal part of `extent` rows or columns (the
    library checks that world divides it)."""
    part = extent // world
    return part * rank, part * (rank + 1)


def shard(sources, rank, world, parallel, context=None):
    """Rank `rank` of `world`'s part of a layer, split by `parallel`
    ("column" or "row", above).

    sources  a w4a16_source (Checkpoint.source, formats.source) or a list of
             them (a merged layer's q, k, v: each is split alike)
    Returns the same shape: sources that view the same memory (it must
    outlive them), so that packing them copies only the rank's part to the
    device. Raises ShapeError (a split the format cannot take: world not
    dividing n or k, k / world not a multiple of the group size, half of a
    packed word) or UnsupportedError (a row split of an act-order layer),
    naming the rule, for every rank alike. `context` names the layer in
    errors.
    """
    single = isinstance(sources, _capi.Source)
    descriptor = _capi.Shard(rank, world, parallel_code(parallel))
    parts = []
    for source in [sources] if single else list(sources):
        part = _capi.Source()
        check(lib().w4a16_source_shard(ctypes.byref(source), ctypes.byref(descriptor),
                                       ctypes.byref(part)), context)
        parts.append(part)
    return parts[0] if single else parts


def shard_bias(bias, rows, rank, world, parallel):
    """The rank's part of a layer's bias (numpy or torch, [sum(rows)]: the
    whole layer's, its sources' biases concatenated; `rows` their n): a
    column shard keeps each source's rank rows, a row shard keeps it all on
    rank 0 and None on the others (the all-reduce adds it once)."""
    code = parallel_code(parallel)
    if bias is None or world == 1:
        return bias
    if len(bias.shape) != 1 or bias.shape[0] != sum(rows):
        raise shape_error(f"bias has shape {list(bias.shape)}: expected the whole layer's "
                          f"[{sum(rows)}]")
    if code == _capi.ROW_PARALLEL:
        return bias if rank == 0 else None
    index, offset = [], 0
    for n in rows:
        begin, end = rank_range(n, rank, world)
        index.extend(range(offset + begin, offset + end))
        offset += n
    return bias[index]
