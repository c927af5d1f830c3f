#!/usr/bin/env python3
"""Writes a tiny dense checkpoint for the command-line tests (stdlib only).

usage: make_dense_checkpoint.py OUT_DIR [--dtype F16|BF16|F32] [--odd-layer]
                                [--positive-layer] [--moe-router] [--vocab V] [--no-config]

OUT_DIR/model.safetensors holds one decoder layer of a Qwen2-style model
(hidden 256, intermediate 384, vocab 64): embeddings, norms, q/k/v/o and
gate/up/down projections (q_proj with a bias), and lm_head, filled with
seeded random values; OUT_DIR/config.json describes it. --odd-layer adds
model.layers.0.mlp.odd_proj.weight [16, 200], whose K is not a multiple of
any group size but 8. --positive-layer adds model.layers.0.mlp.positive_proj.weight
[16, 256], all of whose values are positive (asymmetric zeros of 0). --moe-router
adds MoE routers as Qwen2-MoE names them: model.layers.0.mlp.gate.weight [4, 256]
and model.layers.0.mlp.shared_expert_gate.weight [1, 256]. --vocab sets the rows of
the embeddings and lm_head (64), for checkpoints with one large tensor (values are
then a repeated random block, to write quickly). --no-config leaves config.json out.
"""
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_tool  # noqa: E402

HIDDEN, INTERMEDIATE, VOCAB, KV = 256, 384, 64, 64


def tensors(odd_layer, positive_layer, moe_router, vocab):
    p = "model.layers.0."
    shapes = {
        "model.embed_tokens.weight": [vocab, HIDDEN],
        p + "input_layernorm.weight": [HIDDEN],
        p + "post_attention_layernorm.weight": [HIDDEN],
        p + "self_attn.q_proj.weight": [HIDDEN, HIDDEN],
        p + "self_attn.q_proj.bias": [HIDDEN],
        p + "self_attn.k_proj.weight": [KV, HIDDEN],
        p + "self_attn.v_proj.weight": [KV, HIDDEN],
        p + "self_attn.o_proj.weight": [HIDDEN, HIDDEN],
        p + "mlp.gate_proj.weight": [INTERMEDIATE, HIDDEN],
        p + "mlp.up_proj.weight": [INTERMEDIATE, HIDDEN],
        p + "mlp.down_proj.weight": [HIDDEN, INTERMEDIATE],
        "model.norm.weight": [HIDDEN],
        "lm_head.weight": [vocab, HIDDEN],
    }
    if odd_layer:
        shapes[p + "mlp.odd_proj.weight"] = [16, 200]
    if positive_layer:
        shapes[p + "mlp.positive_proj.weight"] = [16, HIDDEN]
    if moe_router:
        shapes[p + "mlp.gate.weight"] = [4, HIDDEN]
        shapes[p + "mlp.shared_expert_gate.weight"] = [1, HIDDEN]
    return shapes


def encode(values, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    out = bytearray()  # BF16: round-to-nearest-even of the float32 bits
    for v in values:
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        out += struct.pack("<H", bits)
    return bytes(out)


def main(argv):
    out_dir, dtype = argv[1], "F16"
    if "--dtype" in argv:
        dtype = argv[argv.index("--dtype") + 1]
    vocab = int(argv[argv.index("--vocab") + 1]) if "--vocab" in argv else VOCAB
    rng = random.Random(1234)
    named = {}
    for name, shape in tensors("--odd-layer" in argv, "--positive-layer" in argv,
                               "--moe-router" in argv, vocab).items():
        count = 1
        for d in shape:
            count *= d
        if count > 1 << 20:
            block = encode([rng.gauss(0.0, 0.05) for _ in range(HIDDEN)], dtype)
            named[name] = (dtype, shape, block * (count // HIDDEN))
            continue
        if name.endswith("norm.weight"):
            values = [rng.uniform(0.8, 1.2) for _ in range(count)]
        elif "positive" in name:
            values = [rng.uniform(0.01, 0.1) for _ in range(count)]
        else:
            values = [rng.gauss(0.0, 0.05) for _ in range(count)]
        named[name] = (dtype, shape, encode(values, dtype))
    st_tool.write(out_dir + "/model.safetensors", named)
    if "--no-config" not in argv:
        config = {
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
            "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE, "vocab_size": vocab,
            "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 1,
            "torch_dtype": {"F16": "float16", "BF16": "bfloat16", "F32": "float32"}[dtype],
        }
        with open(out_dir + "/config.json", "w") as f:
            json.dump(config, f, indent=2)


if __name__ == "__main__":
    main(sys.argv)
