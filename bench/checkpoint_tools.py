#!/usr/bin/env python3
"""Throughput and peak memory of `w4a16 quantize` and `w4a16 convert` on a
checkpoint shaped like Llama-3-8B (a benchmark, not a test; it runs on the CPU).

usage: bench/checkpoint_tools.py WORKDIR [--w4a16 build/w4a16] [--layers 32]
                                 [--threads 1,2] [--repeats 2] [--keep]

Writes a synthetic dense F16 checkpoint (make_llama_checkpoint.py: 32 layers of
q, k, v, o, gate, up and down, embeddings, norms and lm_head, 16.1 GB in 5 GB
shards) to WORKDIR/dense, then for each thread count times

    quantize dense -> awq (group 128, asymmetric)
    convert  awq -> gptq_v2
    convert  awq -> dense f16

each --repeats times, the thread counts taking turns, after a sync (so that no
run waits on the previous one's writes). It prints one Markdown row per command
and thread count: the best run's seconds, MB/s of input (the input checkpoint's
bytes / wall time; 1 MB = 10^6 bytes) and CPU seconds (user + system), the
largest peak resident memory (ru_maxrss, which counts the input's mapped
pages), and the speedup over the first thread count. Each output is deleted
once measured, and WORKDIR's checkpoints at the end unless --keep. Needs about
40 GB of free disk. The page cache is left as it is: say in the results how
much of the input and output it could hold.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
               if f.endswith(".safetensors"))


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_gb = int(f.readline().split()[1]) / 1e6
    return "%s, %d cores, %.0f GB memory, %s" % (cpu, os.cpu_count(), memory_gb, platform.release())


def run(w4a16, args, input_folder):
    """Runs one command; returns (seconds, MB/s of input, CPU seconds, peak RSS
    in MB). Call it in a fresh process (measured), so that the children's
    figures are this run's alone."""
    start = time.monotonic()
    subprocess.run([w4a16] + args, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (seconds, folder_bytes(input_folder) / 1e6 / seconds, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024)


def measured(w4a16, args, input_folder):
    os.sync()
    code = ("import sys, json; sys.path.insert(0, %r); import checkpoint_tools as c; "
            "print(json.dumps(c.run(%r, %r, %r)))" % (HERE, w4a16, args, input_folder))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def same_files(a, b):
    names = sorted(f for f in os.listdir(a) if f.endswith(".safetensors") or f.endswith(".json"))
    if names != sorted(f for f in os.listdir(b) if f.endswith(".safetensors") or f.endswith(".json")):
        return False
    return all(subprocess.run(["cmp", "-s", os.path.join(a, f), os.path.join(b, f)]).returncode == 0
               for f in names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--w4a16", default=os.path.join(HERE, "..", "build", "w4a16"))
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    w4a16 = os.path.abspath(args.w4a16)
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    dense, awq = os.path.join(work, "dense"), os.path.join(work, "awq")

    print("machine: %s" % machine())
    tree = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty", "--abbrev=12"],
                          capture_output=True, text=True).stdout.strip() or "unknown"
    print("date: %s, tree: %s, w4a16: %s" % (datetime.date.today().isoformat(), tree,
                                             subprocess.run([w4a16, "--version"], capture_output=True,
                                                            text=True).stdout.strip()))
    if not os.path.exists(os.path.join(dense, "config.json")):
        start = time.monotonic()
        subprocess.run([sys.executable, os.path.join(HERE, "make_llama_checkpoint.py"), dense,
                        "--layers", str(args.layers)], check=True)
        print("generated in %.0f s" % (time.monotonic() - start))
    print("input: dense %.2f GB; load average %s" % (folder_bytes(dense) / 1e9,
                                                      os.getloadavg()))
    print()
    thread_counts = [int(t) for t in args.threads.split(",")]
    if not os.path.exists(awq):  # the input of the converts, and what later quantize runs must equal
        subprocess.run([w4a16, "quantize", dense, "--format", "awq", "-o", awq], check=True,
                       stdout=subprocess.DEVNULL)
    commands = [
        ("quantize dense -> awq", dense, ["quantize", dense, "--format", "awq"], "awq_again"),
        ("convert awq -> gptq_v2", awq, ["convert", awq, "--to", "gptq_v2"], "gptq_v2"),
        ("convert awq -> dense f16", awq, ["convert", awq, "--to", "dense"], "dense_out"),
    ]
    print("| command | threads | input GB | seconds | MB/s of input | CPU seconds | peak RSS MB | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    for name, source, command, out_name in commands:
        output = os.path.join(work, out_name)
        best = {}
        for _ in range(args.repeats):
            for threads in thread_counts:
                seconds, rate, cpu, peak = measured(w4a16, command + ["-o", output, "--threads", str(threads)], source)
                if out_name == "awq_again" and not same_files(awq, output):
                    sys.exit("quantize with %d threads wrote other bytes than before" % threads)
                shutil.rmtree(output)
                if threads not in best or seconds < best[threads][0]:
                    best[threads] = [seconds, rate, cpu, max(peak, best.get(threads, [0, 0, 0, 0])[3])]
                else:
                    best[threads][3] = max(best[threads][3], peak)
        for threads in thread_counts:
            seconds, rate, cpu, peak = best[threads]
            print("| %s | %d | %.2f | %.1f | %.0f | %.1f | %.0f | %.2f |" % (
                name, threads, folder_bytes(source) / 1e9, seconds, rate, cpu, peak,
                best[thread_counts[0]][0] / seconds), flush=True)
    print("\nload average at the end: %s" % (os.getloadavg(),))
    if not args.keep:
        for folder in (dense, awq):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
