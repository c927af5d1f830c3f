#!/usr/bin/env python3
"""safetensors helpers for the command-line tests (stdlib only).

  st_tool.py header FILE               print the header as JSON (without __metadata__)
  st_tool.py bytes FILE                print the sum of tensor data bytes and the tensor count
  st_tool.py same FILE_A FILE_B        exit 1 unless both hold the same tensors, byte for byte
                                       (a FILE may be a folder: its model.safetensors, or
                                       every shard its model.safetensors.index.json names)
  st_tool.py same-tensors A B NAME...  exit 1 unless the named tensors are byte-identical
  st_tool.py set-int32 FILE NAME V     overwrite every element of an I32 tensor with V
  st_tool.py drop FILE NAME            remove a tensor
  st_tool.py f32-scales FILE           store every "*.weight_scale" as F32, times (1 + 1e-4)
  st_tool.py act-order DIR             give each GPTQ layer of DIR a non-trivial g_idx
                                       (g_idx[k] = k % groups) and set desc_act in config.json
  st_tool.py dequant-error DENSE OUT   print max |W_out - W_dense| over the .weight tensors of
                                       OUT that DENSE has too, and the largest |W_dense|
"""
import json
import os
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = (t["dtype"], t["shape"], body[b:e])
    return tensors


def read_any(path):
    """A file's tensors, or a folder's across its shards."""
    if not os.path.isdir(path):
        return read(path)
    index = os.path.join(path, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read(os.path.join(path, "model.safetensors"))
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(read(os.path.join(path, shard)))
    assert sorted(tensors) == sorted(weight_map), "index and shards disagree"
    return tensors


def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, blob = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def values(dtype, blob):
    if dtype == "F32":
        return struct.unpack("<%df" % (len(blob) // 4), blob)
    if dtype == "F16":
        return struct.unpack("<%de" % (len(blob) // 2), blob)
    if dtype == "BF16":
        words = struct.unpack("<%dH" % (len(blob) // 2), blob)
        return [struct.unpack("<f", struct.pack("<I", w << 16))[0] for w in words]
    raise SystemExit("no float values in dtype " + dtype)


def compare(a, b, names):
    bad = [n for n in names if n not in a or n not in b or a[n] != b[n]]
    if bad:
        for n in bad[:10]:
            da, db = a.get(n), b.get(n)
            print("differs: %s (%s vs %s)" % (n, da and da[:2], db and db[:2]), file=sys.stderr)
        sys.exit(1)


def main(argv):
    cmd = argv[1]
    if cmd == "header":
        print(json.dumps({n: {"dtype": t[0], "shape": t[1]} for n, t in read(argv[2]).items()}))
    elif cmd == "bytes":
        t = read(argv[2])
        print(sum(len(v[2]) for v in t.values()), len(t))
    elif cmd == "same":
        a, b = read_any(argv[2]), read_any(argv[3])
        if sorted(a) != sorted(b):
            print("tensor names differ: %s" % sorted(set(a) ^ set(b)), file=sys.stderr)
            sys.exit(1)
        compare(a, b, sorted(a))
    elif cmd == "same-tensors":
        compare(read(argv[2]), read(argv[3]), argv[4:])
    elif cmd == "set-int32":
        t = read(argv[2])
        dtype, shape, blob = t[argv[3]]
        assert dtype == "I32", dtype
        t[argv[3]] = (dtype, shape, struct.pack("<i", int(argv[4])) * (len(blob) // 4))
        write(argv[2], t)
    elif cmd == "drop":
        t = read(argv[2])
        del t[argv[3]]
        write(argv[2], t)
    elif cmd == "f32-scales":
        t = read(argv[2])
        for name in [n for n in t if n.endswith(".weight_scale")]:
            dtype, shape, blob = t[name]
            scaled = [v * (1 + 1e-4) for v in values(dtype, blob)]
            t[name] = ("F32", shape, struct.pack("<%df" % len(scaled), *scaled))
        write(argv[2], t)
    elif cmd == "act-order":
        folder = argv[2]
        t = read(folder + "/model.safetensors")
        for name in [n for n in t if n.endswith(".qweight")]:
            prefix = name[: -len(".qweight")]
            k = t[name][1][0] * 8
            groups = t[prefix + ".scales"][1][0]
            g_idx = [i % groups for i in range(k)]
            t[prefix + ".g_idx"] = ("I32", [k], struct.pack("<%di" % k, *g_idx))
        write(folder + "/model.safetensors", t)
        with open(folder + "/config.json") as f:
            config = json.load(f)
        config["quantization_config"]["desc_act"] = True
        with open(folder + "/config.json", "w") as f:
            json.dump(config, f, indent=2)
    elif cmd == "dequant-error":
        dense, out = read(argv[2]), read(argv[3])
        worst, largest, count = 0.0, 0.0, 0
        for n, (dtype, shape, blob) in out.items():
            if not n.endswith(".weight") or n not in dense or dense[n][2] == blob:
                continue
            assert dense[n][1] == shape, (n, shape)
            for x, y in zip(values(*dense[n][::2]), values(dtype, blob)):
                worst, largest = max(worst, abs(x - y)), max(largest, abs(x))
            count += 1
        print(worst, largest, count)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
