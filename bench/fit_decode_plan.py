#!/usr/bin/env python3
"""Refits the constants of the decode kernel's plan model
(src/kernel_plan/decode_plan.c) to measured times, and says how well the
model predicts them and which split it would pick.

    python3 bench/fit_decode_plan.py OUT/decode-splits.json
    python3 bench/fit_decode_plan.py 1:OUT/dsplit1.json 2:OUT/dsplit2.json 4:OUT/dsplit4.json
    python3 bench/fit_decode_plan.py OUT/bench-f16.json 8:OUT/dsplit8.json --only LAUNCH_US

Input: `w4a16 bench --kernel decode --json FILE` output. "S:FILE" says the
rows were measured with W4A16_DECODE_SPLITS=S; in a bare FILE a row's own
"splits" (scripts/gpu-check's decode-splits set writes it) says so, or else
the row ran the model's own split (computed here with the C constants). Only the "decode"
rows are read (symmetric or not, f16 or bf16, any group; act-order rows are
not in bench's output). The model is the C code's, term for term; keep the
two in step. Prints the fitted constants, the rms of log(predicted /
measured) before and after, the worst points, and per (shape, M) the best
measured split against the picks of the old and the fitted constants. A
random search: deterministic for a --seed.
"""
import argparse
import json
import math
import random

# The C model's constants (decode_plan.c), the starting point of the fit.
START = {
    "DRAM_BYTES_PER_US": 1.265e7,
    "LOADED_LATENCY_US": 1.275,
    "WAVE_FILL_US": 3.624,
    "LAUNCH_US": 0.0,
    "CLUSTER_REDUCE_US": 0.117,
    "STAGE_BYTES_PER_US": 1.35e6,
}
WARPS, DEPTH, MAX_SPLITS, CTAS_BY_REGISTERS, SMEM_RESERVED = 8, 8, 8, 2, 1024
ROWS = 16 * WARPS
FEWER_SPLITS_MARGIN = 0.02


def cdiv(a, b):
    return -(-a // b)


class Device:
    def __init__(self, sms, smem_per_sm, smem_per_block, clusters):
        self.sms, self.smem_per_sm, self.smem_per_block = sms, smem_per_sm, smem_per_block
        self.clusters = clusters  # {S: (clusters at 1 CTA an SM, at 2)}; missing: SMs x CTAs / S


def parse_clusters(text):
    """"2:66/132,4:32/64" -> {2: (66, 132), 4: (32, 64)}."""
    table = {}
    for item in filter(None, (text or "").split(",")):
        size, _, counts = item.partition(":")
        one, _, two = counts.partition("/")
        table[int(size)] = (int(one), int(two))
    return table


def cta_slots(dev, splits, ctas_per_sm):
    """CTAs that run at once: whole clusters of `splits`, as the C code asks the driver."""
    if splits > 1 and splits in dev.clusters:
        return dev.clusters[splits][ctas_per_sm - 1] * splits
    return dev.sms * ctas_per_sm // splits * splits


def pad(x, to):
    return cdiv(x, to) * to


def groups_per_range(k_tiles_total, splits, group):
    if group < 0:
        return 1
    most = 0
    for s in range(splits):
        begin, end = k_tiles_total * s // splits, k_tiles_total * (s + 1) // splits
        most = max(most, (64 * end - 1) // group - 64 * begin // group + 1)
    return most


def smem_bytes(m, k_tiles, groups, splits, scale_bytes, asym):
    a_pitch = k_tiles * 64 * 2 + 16
    end = m * a_pitch + groups * ROWS * scale_bytes + (groups * ROWS if asym else 0)
    partial = WARPS * (2 if m > 8 else 1) * 32 * 16 if splits > 1 else 0
    return max(end, partial)


def predict(c, row, splits, dev):
    """The C model's time (µs) for `splits` K-ranges, or None when it does not fit."""
    m, n_padded, k_padded = row["m"], pad(row["n"], 64), pad(row["k"], 64)
    k_tiles_total, n_tiles = k_padded // 64, n_padded // 16
    k_tiles = cdiv(k_tiles_total, splits)
    groups = groups_per_range(k_tiles_total, splits, row["group"])
    smem = smem_bytes(m, k_tiles, groups, splits, 2, row["asym"])
    if smem > dev.smem_per_block:
        return None
    ctas_per_sm = min(CTAS_BY_REGISTERS, dev.smem_per_sm // (smem + SMEM_RESERVED))
    if ctas_per_sm < 1:
        return None
    ctas = cdiv(n_tiles, WARPS) * splits
    slots = cta_slots(dev, splits, ctas_per_sm)
    bytes_per_cta = WARPS * k_tiles * 512

    def wave(active):
        per_cta = WARPS * DEPTH * 512 / c["LOADED_LATENCY_US"]
        return active * bytes_per_cta / c["DRAM_BYTES_PER_US"] + bytes_per_cta / per_cta + c["WAVE_FILL_US"]

    us = c["LAUNCH_US"] + (ctas // slots) * wave(slots)
    if ctas % slots:
        us += wave(ctas % slots)
    if splits > 1:
        us += c["CLUSTER_REDUCE_US"]
    return us + ctas * m * k_tiles * 64 * 2 / c["STAGE_BYTES_PER_US"]


def choose(c, row, dev):
    k_tiles_total = pad(row["k"], 64) // 64
    best, best_us = 0, None
    for splits in range(1, min(MAX_SPLITS, max(k_tiles_total, 1)) + 1):
        us = predict(c, row, splits, dev)
        if us is not None and (best_us is None or us < best_us * (1 - FEWER_SPLITS_MARGIN)):
            best, best_us = splits, us
    return best


def load(args, dev):
    points = []
    for arg in args:
        forced, _, path = arg.rpartition(":")
        for row in json.load(open(path))["rows"]:
            if row["kernel"] != "decode" or row.get("us") is None:
                continue
            splits = int(forced) if forced else row.get("splits") or choose(START, row, dev)
            splits = min(splits, MAX_SPLITS, pad(row["k"], 64) // 64)
            points.append((row, splits, row["us"]))
    return points


def rms(c, points, dev):
    errors = [math.log(predict(c, row, s, dev) / us) for row, s, us in points]
    return math.sqrt(sum(e * e for e in errors) / len(errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", help="[SPLITS:]FILE")
    parser.add_argument("--sms", type=int, default=132)
    parser.add_argument("--smem-per-sm", type=int, default=233472)
    parser.add_argument("--smem-per-block", type=int, default=232448)
    parser.add_argument("--clusters", metavar="S:ONE/TWO,...",
                        help="clusters of S CTAs that run at once with one and two CTAs an SM "
                             "(cudaOccupancyMaxActiveClusters; scripts/gpu-check prints them)")
    parser.add_argument("--steps", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="fit only this constant (repeatable); the others stay as in START")
    args = parser.parse_args()
    dev = Device(args.sms, args.smem_per_sm, args.smem_per_block, parse_clusters(args.clusters))
    points = [p for p in load(args.json, dev) if predict(START, p[0], p[1], dev) is not None]
    if not points:
        raise SystemExit("fit_decode_plan: no decode rows in the input")
    names = args.only or list(START)
    unknown = [n for n in names if n not in START]
    if unknown:
        raise SystemExit(f"fit_decode_plan: no constant {unknown[0]} (one of {', '.join(START)})")
    rng = random.Random(args.seed)
    best, best_rms = dict(START), rms(START, points, dev)
    print(f"{len(points)} points; rms log error of the current constants: {best_rms:.3f}")
    for step in range(args.steps):
        trial = dict(best)
        name = rng.choice(names)
        trial[name] *= math.exp(rng.gauss(0, 0.15 if step < args.steps // 2 else 0.04))
        error = rms(trial, points, dev)
        if error < best_rms:
            best, best_rms = trial, error
    print(f"fitted: rms log error {best_rms:.3f}")
    for name, value in best.items():
        print(f"  {name} = {value:.4g}")
    worst = sorted(points, key=lambda p: -abs(math.log(predict(best, p[0], p[1], dev) / p[2])))
    print("worst points (n x k, M, splits: measured, predicted µs):")
    for row, splits, us in worst[:8]:
        print(f"  {row['n']}x{row['k']} M={row['m']} S={splits}: {us:.1f}, "
              f"{predict(best, row, splits, dev):.1f}")
    print("per call: the best measured split, and the picks (old constants, fitted):")
    calls = {}
    for row, splits, us in points:
        key = (row["n"], row["k"], row["m"], row["dtype"], row["asym"], row["group"])
        calls.setdefault(key, (row, {}))[1][splits] = us
    for key, (row, times) in sorted(calls.items()):
        fastest = min(times, key=times.get)
        old, new = choose(START, row, dev), choose(best, row, dev)
        show = lambda s: f"S={s} {times[s]:.1f}" if s in times else f"S={s} (not run)"
        print(f"  {key[0]}x{key[1]} M={key[2]}: best {show(fastest)}; old {show(old)}; "
              f"fitted {show(new)}")


if __name__ == "__main__":
    main()
