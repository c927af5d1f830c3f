#!/usr/bin/env python3
"""Refits the constants of sm90_prefill's plan model (src/kernel_plan/sm90_plan.c)
to measured times of forced plans, and says how well the model predicts them.

    python3 bench/fit_sm90_plan.py bench/results/2026-12-07-h100-v8-plans-*.json
    python3 bench/fit_sm90_plan.py OUT/plans.json --sms 132 --steps 40000
    python3 bench/fit_sm90_plan.py OUT/plans.json --only UNIT_OVERHEAD_US

Input: JSON with rows {plan, n, k, m, kernel, us}, as `scripts/gpu-check OUT
bench` writes them with W4A16_BENCH_SETS=plans (plans.json), one row per
sm90_prefill time; plan is "BM,SPLITS", "BM,sk" or "BM,hy" ("model" rows are
skipped: their plan is not in the file). The model is the C code's, term for
term; keep the two in step. SPLIT_BYTES_PER_US stays fixed unless
--fit-split (the sweeps so far had no large split-K parts). Prints the
fitted constants, the rms of log(predicted / measured) before and after, and
the worst points. A random search: deterministic for a --seed.
"""
import argparse
import json
import math
import random

# The C model's constants (sm90_plan.c), the starting point of the fit.
START = {
    "BLOCK_FIXED_US": 0.124,
    "BLOCK_US_PER_TOKEN": 0.00222,
    "PAIRED_SLOWDOWN": 1.67,
    "UNIT_OVERHEAD_US": 3.2,
    "LAUNCH_US": 0.13,
    "FIXUP_BYTES_PER_SM_US": 48.7e3,
    "SPLIT_BYTES_PER_US": 2.0e6,
}
ROWS, BLOCK_K, PAIRED_MAX_BM = 128, 64, 64


def cdiv(a, b):
    return -(-a // b)


def predict(c, n, k, m, bm, splits, mode, sms):
    """The C model's time (µs) for one plan; mode "", "sk" or "hy"."""
    kb = k // BLOCK_K
    tiles = cdiv(n, ROWS) * cdiv(m, bm)
    slots = sms * (2 if bm <= PAIRED_MAX_BM else 1)

    def block(ctas):
        shared = bm <= PAIRED_MAX_BM and ctas > sms
        return (c["BLOCK_FIXED_US"] + c["BLOCK_US_PER_TOKEN"] * bm) * (
            c["PAIRED_SLOWDOWN"] if shared else 1.0)

    def shares(t, grid):
        share = cdiv(t * kb, grid)
        parts = 2 if t >= grid else cdiv(grid, t) + 1
        return (share * block(grid) + (share // kb + 2) * c["UNIT_OVERHEAD_US"] +
                (parts + 1) * ROWS * bm * 4 / c["FIXUP_BYTES_PER_SM_US"])

    if mode == "":
        units = tiles * splits
        t = c["LAUNCH_US"] + cdiv(units, slots) * (
            cdiv(kb, splits) * block(units) + c["UNIT_OVERHEAD_US"])
        if splits > 1:
            t += c["LAUNCH_US"] + splits * m * n * 8 / c["SPLIT_BYTES_PER_US"]
        return t
    rounds = tiles // slots if mode == "hy" else 0
    grid = slots if rounds else min(slots, tiles * kb // 2)
    return (c["LAUNCH_US"] + rounds * (kb * block(grid) + c["UNIT_OVERHEAD_US"]) +
            shares(tiles - rounds * grid, grid))


def load(paths):
    points = []
    for path in paths:
        for row in json.load(open(path))["rows"]:
            plan = row.get("plan", "model")
            if row["kernel"] != "sm90_prefill" or plan == "model":
                continue
            bm, rest = plan.split(",")
            mode = rest if rest in ("sk", "hy") else ""
            splits = 1 if mode else int(rest)
            points.append((row["n"], row["k"], row["m"], int(bm), splits, mode, row["us"]))
    return points


def rms(c, points, sms):
    errors = [math.log(predict(c, *p[:6], sms) / p[6]) for p in points]
    return math.sqrt(sum(e * e for e in errors) / len(errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+")
    parser.add_argument("--sms", type=int, default=132)
    parser.add_argument("--steps", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fit-split", action="store_true")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="fit only this constant (repeatable); the others stay as in START")
    args = parser.parse_args()
    points = load(args.json)
    if not points:
        raise SystemExit("fit_sm90_plan: no sm90_prefill rows with a forced plan in the input")
    rng = random.Random(args.seed)
    names = [n for n in START if args.fit_split or n != "SPLIT_BYTES_PER_US"]
    if args.only:
        unknown = [n for n in args.only if n not in START]
        if unknown:
            raise SystemExit(f"fit_sm90_plan: no constant {unknown[0]} (one of {', '.join(START)})")
        names = args.only
    best, best_rms = dict(START), rms(START, points, args.sms)
    print(f"{len(points)} points; rms log error of the current constants: {best_rms:.3f}")
    for step in range(args.steps):
        trial = dict(best)
        name = rng.choice(names)
        trial[name] *= math.exp(rng.gauss(0, 0.15 if step < args.steps // 2 else 0.04))
        error = rms(trial, points, args.sms)
        if error < best_rms:
            best, best_rms = trial, error
    print(f"fitted: rms log error {best_rms:.3f}")
    for name, value in best.items():
        print(f"  {name} = {value:.4g}")
    worst = sorted(points, key=lambda p: -abs(math.log(predict(best, *p[:6], args.sms) / p[6])))
    print("worst points (n, k, M, plan: measured, predicted µs):")
    for n, k, m, bm, splits, mode, us in worst[:8]:
        plan = f"{bm},{mode or splits}"
        print(f"  {n}x{k} M={m} {plan}: {us:.1f}, "
              f"{predict(best, n, k, m, bm, splits, mode, args.sms):.1f}")


if __name__ == "__main__":
    main()
