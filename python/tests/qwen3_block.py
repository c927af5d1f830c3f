"""One Qwen3-4B decoder layer in plain torch, for the tensor-parallel test:
RMSNorm, per-head q/k norms, rotary embeddings, causal SDPA attention with
grouped KV heads, SiLU MLP. Its projections are callables (W4A16Linear
layers, or fp64 matmuls for the reference) and `reduce` sums a
row-parallel layer's output over the ranks, so one code runs the
single-GPU, tensor-parallel and fp64 blocks."""
import numpy as np
import torch
import torch.nn.functional as F

import w4a16
from w4a16.checkpoint_writer import save_quantized

HIDDEN, INTERMEDIATE, HEADS, KV_HEADS, HEAD_DIM = 2560, 9728, 32, 8, 128
EPS, ROPE_THETA = 1e-6, 1e6
PREFIX = "model.layers.0."
# The projections, merged as a serving engine runs them: (names, how a rank splits them).
QKV = ([PREFIX + "self_attn." + p for p in ("q_proj", "k_proj", "v_proj")], "column")
O = ([PREFIX + "self_attn.o_proj"], "row")
GATE_UP = ([PREFIX + "mlp." + p for p in ("gate_proj", "up_proj")], "column")
DOWN = ([PREFIX + "mlp.down_proj"], "row")
SHAPES = {QKV[0][0]: (HEADS * HEAD_DIM, HIDDEN), QKV[0][1]: (KV_HEADS * HEAD_DIM, HIDDEN),
          QKV[0][2]: (KV_HEADS * HEAD_DIM, HIDDEN), O[0][0]: (HIDDEN, HEADS * HEAD_DIM),
          GATE_UP[0][0]: (INTERMEDIATE, HIDDEN), GATE_UP[0][1]: (INTERMEDIATE, HIDDEN),
          DOWN[0][0]: (HIDDEN, INTERMEDIATE)}


def write_checkpoint(directory, seed=0):
    """Random weights (std 0.02) quantized as AWQ g128 with zero points into
    directory; returns {name: QuantizedWeight}."""
    rng = np.random.default_rng(seed)
    layers = {name: w4a16.quantize(rng.standard_normal(shape, dtype=np.float32) * 0.02, 128,
                                   symmetric=False)
              for name, shape in SHAPES.items()}
    save_quantized(directory, "awq", layers)
    return layers


def norm_weights(device, dtype, seed=1):
    """The block's four RMSNorm weights, the same on every rank."""
    generator = torch.Generator().manual_seed(seed)
    sizes = {"input": HIDDEN, "post": HIDDEN, "q": HEAD_DIM, "k": HEAD_DIM}
    return {name: (1 + 0.1 * torch.randn(size, generator=generator)).to(device, dtype)
            for name, size in sizes.items()}


def rms_norm(x, weight):
    wide = x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    y = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + EPS)
    return (y * weight.to(wide.dtype)).to(x.dtype)


def rotary(x, positions):
    """x [T, heads, HEAD_DIM] rotated by its positions (cos and sin computed
    in float64, then rounded to x's dtype, as the model's fp32 ones are)."""
    half = HEAD_DIM // 2
    inverse = ROPE_THETA ** (-torch.arange(half, dtype=torch.float64, device=x.device) / half)
    angles = positions.to(torch.float64)[:, None] * inverse[None]
    cos, sin = angles.cos()[:, None].to(x.dtype), angles.sin()[:, None].to(x.dtype)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], -1)


class Block:
    """The layer on one rank: `heads` and `kv_heads` are the rank's (all of
    them with world 1); qkv, o, gate_up, down take [T, in] to [T, out]."""

    def __init__(self, qkv, o, gate_up, down, norms, heads=HEADS, kv_heads=KV_HEADS,
                 reduce=lambda y: y):
        self.qkv, self.o, self.gate_up, self.down = qkv, o, gate_up, down
        self.norms, self.heads, self.kv_heads, self.reduce = norms, heads, kv_heads, reduce

    def __call__(self, x, positions, cache=None):
        """x [T, HIDDEN] at `positions` [T], after `cache` (k, v) of the
        tokens before; returns (out [T, HIDDEN], the cache with these tokens)."""
        tokens = x.shape[0]
        widths = [self.heads * HEAD_DIM, self.kv_heads * HEAD_DIM, self.kv_heads * HEAD_DIM]
        q, k, v = self.qkv(rms_norm(x, self.norms["input"])).split(widths, -1)
        q = rotary(rms_norm(q.reshape(tokens, self.heads, HEAD_DIM), self.norms["q"]), positions)
        k = rotary(rms_norm(k.reshape(tokens, self.kv_heads, HEAD_DIM), self.norms["k"]),
                   positions)
        v = v.reshape(tokens, self.kv_heads, HEAD_DIM)
        if cache is not None:
            k, v = torch.cat([cache[0], k]), torch.cat([cache[1], v])
        group = self.heads // self.kv_heads
        attention = F.scaled_dot_product_attention(
            q.transpose(0, 1), k.repeat_interleave(group, 1).transpose(0, 1),
            v.repeat_interleave(group, 1).transpose(0, 1), is_causal=cache is None)
        x = x + self.reduce(self.o(attention.transpose(0, 1).reshape(tokens, -1)))
        gate, up = self.gate_up(rms_norm(x, self.norms["post"])).chunk(2, -1)
        return x + self.reduce(self.down(F.silu(gate) * up)), (k, v)


def packed_block(checkpoint, device, rank=0, world=1, reduce=lambda y: y):
    """The block of W4A16Linear layers from checkpoint: rank `rank`'s shards
    of each projection (the whole layer with world 1)."""
    def layer(spec):
        names, parallel = spec
        return w4a16.W4A16Linear.from_checkpoint(checkpoint, names, device=device, rank=rank,
                                                 world=world,
                                                 parallel=parallel if world > 1 else None)
    return Block(layer(QKV), layer(O), layer(GATE_UP), layer(DOWN),
                 norm_weights(device, torch.float16), HEADS // world, KV_HEADS // world, reduce)


def reference_block(layers, device):
    """The same block in fp64: the exact dequantized weights, the fp16 norm weights."""
    def matmul(names):
        weight = torch.cat([torch.from_numpy(layers[name].dequantize()) for name in names])
        weight = weight.to(device)
        return lambda x: x @ weight.T
    norms = {name: w.double() for name, w in norm_weights(device, torch.float16).items()}
    return Block(matmul(QKV[0]), matmul(O[0]), matmul(GATE_UP[0]), matmul(DOWN[0]), norms)
