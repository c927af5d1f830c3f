#!/usr/bin/env python3
"""Writes a synthetic dense checkpoint shaped like Llama-3-8B (numpy).

usage: make_llama_checkpoint.py OUT_DIR [--layers 32] [--dtype F16|BF16]
                                [--max-shard-bytes 5000000000]

OUT_DIR gets what a Hugging Face model folder holds: the weights in shards of
at most --max-shard-bytes (model-0000i-of-0000N.safetensors and
model.safetensors.index.json, tensors in the order Hugging Face writes them),
config.json, generation_config.json and small tokenizer files. Every layer
has q, k, v, o, gate, up and down projections and two norms; then embeddings,
the final norm and lm_head (hidden 4096, intermediate 14336, 8 key-value
heads of 128, vocabulary 128256). Weights are N(0, 0.02) from a seeded
generator, norms near 1. With 32 layers the weights are 16.1 GB in F16.
"""
import argparse
import json
import os
import struct

import numpy as np

HIDDEN, INTERMEDIATE, KV, VOCAB = 4096, 14336, 1024, 128256


def tensor_shapes(layers):
    shapes = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = "model.layers.%d." % i
        shapes += [
            (p + "input_layernorm.weight", (HIDDEN,)),
            (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
            (p + "self_attn.k_proj.weight", (KV, HIDDEN)),
            (p + "self_attn.v_proj.weight", (KV, HIDDEN)),
            (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
            (p + "post_attention_layernorm.weight", (HIDDEN,)),
            (p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN)),
            (p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN)),
            (p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE)),
        ]
    shapes += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return shapes


def values(rng, name, shape, dtype):
    count = int(np.prod(shape))
    if name.endswith("norm.weight"):
        x = rng.uniform(0.8, 1.2, size=count).astype(np.float32)
    else:
        x = rng.standard_normal(size=count, dtype=np.float32) * np.float32(0.02)
    if dtype == "F16":
        return x.astype(np.float16).tobytes()
    bits = x.view(np.uint32)  # BF16: round to nearest even
    bits = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return bits.astype(np.uint16).tobytes()


def split(shapes, element_bytes, max_bytes):
    """Hugging Face's greedy split: a new shard when the next tensor would not fit."""
    shards, current, size = [], [], 0
    for name, shape in shapes:
        nbytes = int(np.prod(shape)) * element_bytes
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    shards.append(current)
    return shards


def write_shard(path, tensors, dtype, element_bytes, rng):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in sorted(tensors):
        nbytes = int(np.prod(shape)) * element_bytes
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape in sorted(tensors):
            f.write(values(rng, name, shape, dtype))


def write_folder_files(out, layers, dtype):
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": layers,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "vocab_size": VOCAB, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "tie_word_embeddings": False,
        "torch_dtype": {"F16": "float16", "BF16": "bfloat16"}[dtype],
    }
    files = {
        "config.json": config,
        "generation_config.json": {"bos_token_id": 128000, "eos_token_id": 128001},
        "tokenizer_config.json": {"model_max_length": 8192, "chat_template": "{{ messages }}"},
        "special_tokens_map.json": {"bos_token": "<|begin_of_text|>"},
        "tokenizer.json": {"version": "1.0", "model": {"type": "BPE", "vocab": {}}},
    }
    for name, content in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(content, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--dtype", choices=["F16", "BF16"], default="F16")
    parser.add_argument("--max-shard-bytes", type=int, default=5 * 10**9)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(8)
    shapes = tensor_shapes(args.layers)
    shards = split(shapes, 2, args.max_shard_bytes)
    weight_map, total = {}, 0
    for i, tensors in enumerate(shards):
        name = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        if len(shards) == 1:
            name = "model.safetensors"
        write_shard(os.path.join(args.out, name), tensors, args.dtype, 2, rng)
        for tensor, shape in tensors:
            weight_map[tensor] = name
            total += int(np.prod(shape)) * 2
    if len(shards) > 1:
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    write_folder_files(args.out, args.layers, args.dtype)
    print("wrote %s: %d tensors, %.2f GB in %d file(s)" % (args.out, len(shapes), total / 1e9,
                                                         len(shards)))


if __name__ == "__main__":
    main()
