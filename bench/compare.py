#!/usr/bin/env python3
"""Compares `w4a16 bench --json` runs of two trees measured in the same device
call (rounds base, new, base, new, ...), as bench/NOTES.md's A/B entries do.

    python3 bench/compare.py --base OUT/maina/bench-f16.json OUT/mainb/bench-f16.json \\
                             --new OUT/newa/bench-f16.json OUT/newb/bench-f16.json
    python3 bench/compare.py --base A.json --new B.json --kernel decode --m 1,2,4,8,16

For each (shape, dtype, group, zeros, act-order, M) and kernel row it prints
the median time of the base rounds and of the new ones, new / base, and how
far the rounds of one tree spread (max / min - 1): a change smaller than the
spread is noise. cuBLAS runs in every round, so its new / base says how much
the machine itself moved. Then the issues' metrics over the rows both trees
have: the geometric mean of cuBLAS / kernel over M in {32, 64, 256, 1024,
2048, 8192} (issue 8's, f16 symmetric group 128), and the geometric mean of
the kernel's time over M <= 16 (issue 9's), each with its change: a gain is
>= 3%.

Only the standard library; rows are matched by their fields, not by order.
"""
import argparse
import json
import math
import statistics
import sys

ISSUE8_MS = (32, 64, 256, 1024, 2048, 8192)


def row_key(row):
    return (row["shape"], row["dtype"], row["group"], bool(row["asym"]), bool(row["act_order"]),
            row["m"])


def load(paths):
    """{(key, kernel): [us of each run]} over the runs in `paths`."""
    times = {}
    for path in paths:
        with open(path) as f:
            for row in json.load(f)["rows"]:
                if row["m"] <= 0:  # pack, copy and dequant rows: not a GEMM
                    continue
                times.setdefault((row_key(row), row["kernel"]), []).append(row["us"])
    return times


def spread(values):
    return max(values) / min(values) - 1.0 if len(values) > 1 else 0.0


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def describe(key):
    shape, dtype, group, asym, act_order, m = key
    extra = ("" if group == 128 else f" g{group}") + (" asym" if asym else "") + \
        (" act-order" if act_order else "")
    return f"{shape} {dtype}{extra}", m


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", nargs="+", required=True, help="the base tree's runs")
    parser.add_argument("--new", nargs="+", required=True, help="the new tree's runs")
    parser.add_argument("--kernel", default="auto",
                        help="the kernel row the metrics use (default auto)")
    parser.add_argument("--m", help="only these M (a comma list)")
    args = parser.parse_args()
    base, new = load(args.base), load(args.new)
    only_m = {int(m) for m in args.m.split(",")} if args.m else None

    shared = sorted(k for k in base if k in new and (only_m is None or k[0][5] in only_m))
    if not shared:
        sys.exit("compare.py: the two trees' runs have no row in common")
    print(f"{'shape':<22} {'M':>5} {'kernel':<13} {'base us':>9} {'new us':>9} {'new/base':>8} "
          f"{'spread b/n':>11}")
    for key, kernel in shared:
        b, n = statistics.median(base[key, kernel]), statistics.median(new[key, kernel])
        name, m = describe(key)
        print(f"{name:<22} {m:5} {kernel:<13} {b:9.2f} {n:9.2f} {n / b:8.3f} "
              f"{100 * spread(base[key, kernel]):4.1f}/{100 * spread(new[key, kernel]):4.1f}%")

    def metric(times, keys, value):
        return geomean([value(times, k) for k in keys])

    kernel = args.kernel
    vs_cublas = lambda t, k: statistics.median(t[k, "cublas"]) / statistics.median(t[k, kernel])
    time_of = lambda t, k: statistics.median(t[k, kernel])
    rows8 = [k for k, kern in shared if kern == kernel and (k, "cublas") in base and
             (k, "cublas") in new and k[1] == "f16" and k[2] == 128 and not k[3] and not k[4] and
             k[5] in ISSUE8_MS]
    rows9 = [k for k, kern in shared if kern == kernel and k[5] <= 16]
    print()
    if rows8:
        b8, n8 = metric(base, rows8, vs_cublas), metric(new, rows8, vs_cublas)
        print(f"issue 8: geometric mean of cublas/{kernel} over {len(rows8)} rows (M in "
              f"{sorted({k[5] for k in rows8})}): base {b8:.3f}, new {n8:.3f} "
              f"({100 * (n8 / b8 - 1):+.1f}%)")
    if rows9:
        b9, n9 = metric(base, rows9, time_of), metric(new, rows9, time_of)
        print(f"issue 9: geometric mean of {kernel}'s time over {len(rows9)} rows with M <= 16: "
              f"base {b9:.2f} us, new {n9:.2f} us ({100 * (n9 / b9 - 1):+.1f}%)")
    drift = [statistics.median(new[k, "cublas"]) / statistics.median(base[k, "cublas"])
             for k, kern in shared if kern == "cublas"]
    if drift:
        print(f"cublas new/base (the machine's own drift): geometric mean {geomean(drift):.3f}, "
              f"range {min(drift):.3f}-{max(drift):.3f}")


if __name__ == "__main__":
    main()
