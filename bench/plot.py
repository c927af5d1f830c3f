#!/usr/bin/env python3
"""Draws `w4a16 bench --json` results: TFLOP/s against M (log scale), one
panel per shape (and dtype, group size, zero-point kind), one line per kernel
with cuBLAS as the baseline.

    python3 bench/plot.py RESULTS.json [MORE.json ...] -o out.png
    python3 bench/plot.py RESULTS.json --summary     # text only, no matplotlib

--summary prints, per configuration, the dispatched kernel's speed against
cuBLAS (cuBLAS time / auto time: above 1 is faster) for each shape and M.
"""
import argparse
import json
import math
import sys
from collections import OrderedDict

PER_SHAPE_ROWS = ("pack", "copy", "dequant")


def load(paths):
    """Every row of every file, and the files' headers (device, date, commit)."""
    rows, headers = [], []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        headers.append({key: data.get(key, "?") for key in ("device", "date", "commit")})
        rows.extend(data["rows"])
    return rows, headers


def panel_key(row):
    return (row["shape"], row["n"], row["k"], row["dtype"], row["group"], bool(row["asym"]))


def panel_title(key):
    shape, n, k, dtype, group, asym = key
    group_text = "per-channel" if group == -1 else "g%d" % group
    return "%s %dx%d  %s %s %s" % (shape, n, k, dtype, group_text, "asym" if asym else "sym")


def kernel_rows(rows):
    """Rows with a time at some M, grouped by panel, then kernel: [(m, row)]."""
    panels = OrderedDict()
    for row in rows:
        if row["kernel"] in PER_SHAPE_ROWS or row["m"] <= 0 or row.get("us") is None:
            continue
        kernels = panels.setdefault(panel_key(row), OrderedDict())
        kernels.setdefault(row["kernel"], []).append((row["m"], row))
    for kernels in panels.values():
        for points in kernels.values():
            points.sort(key=lambda point: point[0])
    return panels


def summary(rows, out=sys.stdout):
    """auto's ratio against cuBLAS as a shape x M table, per configuration."""
    configs = OrderedDict()
    for key, kernels in kernel_rows(rows).items():
        shape, n, k = key[:3]
        config = key[3:]
        table = configs.setdefault(config, OrderedDict())
        table[(shape, n, k)] = {m: row.get("ratio_vs_cublas") for m, row in kernels.get("auto", [])}
    for (dtype, group, asym), table in configs.items():
        ms = sorted({m for ratios in table.values() for m in ratios})
        group_text = "per-channel" if group == -1 else "group %d" % group
        print("auto vs cuBLAS (x, above 1 is faster): %s, %s, %s"
              % (dtype, group_text, "asym" if asym else "sym"), file=out)
        print("%-18s" % "shape" + "".join("%7d" % m for m in ms), file=out)
        for (shape, n, k), ratios in table.items():
            cells = "".join("%7s" % ("%.2f" % ratios[m] if ratios.get(m) is not None else "-")
                            for m in ms)
            print("%-18s" % ("%s %dx%d" % (shape, n, k))[:18] + cells, file=out)
    for row in rows:
        if row["kernel"] in PER_SHAPE_ROWS and row.get("us") is not None:
            print("%-8s %-10s %dx%d: %.1f us, %.0f GB/s"
                  % (row["kernel"], row["shape"], row["n"], row["k"], row["us"], row["gbps"]),
                  file=out)


def kernel_order(kernel):
    """cuBLAS first, then the kernels by name, the dispatched choice last."""
    return (kernel != "cublas", kernel == "auto", kernel)


def plot(rows, headers, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = kernel_rows(rows)
    if not panels:
        raise SystemExit("plot.py: no kernel rows to draw")
    columns = min(2, len(panels))
    lines = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(6.5 * columns, 4.2 * lines), squeeze=False)
    for ax, (key, kernels) in zip(axes.flat, panels.items()):
        for kernel in sorted(kernels, key=kernel_order):
            points = kernels[kernel]
            ms = [m for m, _ in points]
            tflops = [row["tflops"] for _, row in points]
            style = dict(color="black", linewidth=2.2) if kernel == "cublas" else {}
            if kernel == "auto":
                style = dict(linestyle="--", linewidth=1.6)
            ax.plot(ms, tflops, marker="o", markersize=3, label=kernel, **style)
        # Log on both axes: decode (M = 1) and prefill (M = 8192) differ by 10^4.
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: "%g" % x))
        ax.set_title(panel_title(key), fontsize=10)
        ax.set_xlabel("M (tokens)")
        ax.set_ylabel("TFLOP/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    header = headers[0] if headers else {}
    fig.suptitle("w4a16 bench: %s, %s, commit %s" % (header.get("device"), header.get("date"),
                                                      header.get("commit")))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="JSON files written by w4a16 bench --json")
    parser.add_argument("-o", "--output", help="PNG to write")
    parser.add_argument("--summary", action="store_true",
                        help="print auto's ratio against cuBLAS per shape and M")
    args = parser.parse_args(argv)
    if not args.output and not args.summary:
        parser.error("give -o OUT.png, --summary, or both")
    rows, headers = load(args.results)
    if args.summary:
        summary(rows)
    if args.output:
        plot(rows, headers, args.output)


if __name__ == "__main__":
    main()
