#!/usr/bin/env python3
"""Seed corpus for fuzz_safetensors: a few valid safetensors files of several
shapes and dtypes, and a sample of the malformed cases tests/test_safetensors.c
checks, so the fuzzer starts next to every rule of the reader.

Regenerate (standard library only; output is deterministic):
    python3 tests/fuzz/make_corpus.py            # writes tests/fuzz/corpus/
    python3 tests/fuzz/make_corpus.py OUT_DIR
"""
import json
import os
import random
import struct
import sys

DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
              "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
              "F8_E4M3": 8, "F8_E5M2": 8, "F4": 4, "F6_E2M3": 6}


def numel(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def with_length(header, data=b"", stated=None):
    """8-byte little-endian length (the header's own unless stated), header, data."""
    length = len(header) if stated is None else stated
    return struct.pack("<Q", length) + header + data


def safetensors(tensors, metadata=None, pad=True, seed=1):
    """A valid file: tensors is a list of (name, dtype, shape), written in
    name order with random contents, the header padded to 8 bytes."""
    rng = random.Random(seed)
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in sorted(tensors):
        nbytes = numel(shape) * DTYPE_BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + nbytes]}
        data += bytes(rng.randrange(256) for _ in range(nbytes))
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return with_length(text, data)


def raw(header_text, data_bytes=0, stated=None):
    """A file from literal header bytes and data_bytes of filler."""
    return with_length(header_text, bytes(range(data_bytes)), stated)


def entry(name, dtype, shape, begin, end):
    return ('"%s":{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}'
            % (name, dtype, json.dumps(shape), begin, end)).encode()


def corpus():
    mixed = safetensors([
        ("model.layers.0.mlp.down_proj.qweight", "I32", [2, 8]),
        ("model.layers.0.mlp.down_proj.scales", "F16", [1, 16]),
        ("model.layers.0.mlp.down_proj.qzeros", "I32", [1, 2]),
        ("model.layers.0.mlp.down_proj.g_idx", "I32", [16]),
        ("norm.weight", "BF16", [3]),
        ("empty", "F32", [0, 4]),
        ("scalar", "F64", []),
        ("fp4", "F4", [2, 3]),
        ("fp6", "F6_E2M3", [4]),
    ], metadata={"format": "pt", "note": "seed"}, seed=2)
    files = {
        "valid_empty": safetensors([]),
        "valid_one_f32": safetensors([("w", "F32", [2, 3])]),
        "valid_mixed": mixed,
        "valid_unpadded": safetensors([("a", "U8", [5]), ("b", "I16", [2, 2])], pad=False),
        "valid_zero_size_only": safetensors([("a", "F16", [0]), ("b", "I64", [8, 0])]),
        "valid_metadata_only": safetensors([], metadata={"format": "pt"}),
        "valid_ct_like": safetensors([
            ("layer.weight_packed", "I32", [8, 2]),
            ("layer.weight_scale", "BF16", [8, 1]),
            ("layer.weight_zero_point", "I32", [1, 1]),
            ("layer.weight_shape", "I64", [2]),
        ], metadata={"format": "pt"}, seed=3),
        # malformed: one of each rule
        "bad_short": b"\x10\x00\x00",
        "bad_truncated_header": mixed[:40],
        "bad_truncated_data": mixed[:-3],
        "bad_length_huge": raw(b"{}", stated=2**64 - 1),
        "bad_length_past_end": raw(b"{}", stated=3),
        "bad_not_brace": raw(b" {}"),
        "bad_trailing_garbage": raw(b"{}  x"),
        "bad_trailing_newline": raw(b"{}\n"),
        "bad_json": raw(b'{"a":}'),
        "bad_duplicate_key": raw(b"{" + entry("a", "U8", [1], 0, 1) + b","
                                 + entry("a", "U8", [1], 1, 2) + b"}", 2),
        "bad_utf8": raw(b'{"\xc0\x80":1}'),
        "bad_dtype": raw(b"{" + entry("a", "F31", [1], 0, 4) + b"}", 4),
        "bad_byte_count": raw(b"{" + entry("a", "F32", [2, 2], 0, 12) + b"}", 12),
        "bad_f4_partial_byte": raw(b"{" + entry("a", "F4", [3], 0, 2) + b"}", 2),
        "bad_negative_dim": raw(b"{" + entry("a", "U8", [2, -1], 0, 0) + b"}"),
        "bad_overflow": raw(b"{" + entry("a", "F64", [2**62], 0, 1) + b"}", 1),
        "bad_overlap": raw(b"{" + entry("a", "U8", [4], 0, 4) + b","
                           + entry("b", "U8", [2], 2, 4) + b"}", 4),
        "bad_gap": raw(b"{" + entry("a", "U8", [2], 0, 2) + b","
                       + entry("b", "U8", [2], 3, 5) + b"}", 5),
        "bad_out_of_range": raw(b"{" + entry("a", "U8", [4], 0, 4) + b"}", 3),
        "bad_reversed_offsets": raw(b"{" + entry("a", "U8", [0], 4, 2) + b"}", 4),
        "bad_leftover_data": raw(b"{" + entry("a", "U8", [2], 0, 2) + b"}", 3),
        "bad_entry_not_object": raw(b'{"a":[1,2]}'),
        "bad_metadata_value": raw(b'{"__metadata__":{"n":1}}'),
        "bad_metadata_not_object": raw(b'{"__metadata__":["a"]}'),
    }
    return files


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, contents in sorted(corpus().items()):
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(contents)
    print("wrote %d files to %s" % (len(corpus()), out))


if __name__ == "__main__":
    main()
