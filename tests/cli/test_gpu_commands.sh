#!/usr/bin/env bash
# Usage and no-GPU paths of bench, check and tune: --help on stdout, bad options
# (exit 2), and without a GPU one line on stderr saying no CUDA device was
# found (exit 1); bench/plot.py's text summary of a bench JSON file.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"

for cmd in bench check tune; do
    expect_rc 0 "$W4A16" "$cmd" --help
    grep -q "usage: w4a16 $cmd" "$OUT" || fail "$cmd --help does not print its usage on stdout"
    [ -s "$ERR" ] && fail "$cmd --help wrote to stderr"
    expect_rc 2 "$W4A16" "$cmd" --shapes 'qwen3-4b;12x34'
    expect_rc 2 "$W4A16" "$cmd" --shapes '0,64'
    expect_rc 2 "$W4A16" "$cmd" --shapes ''
    expect_rc 2 "$W4A16" "$cmd" --m 1,0
    expect_rc 2 "$W4A16" "$cmd" --m 1,,2
    expect_rc 2 "$W4A16" "$cmd" --dtype f32
    expect_rc 2 "$W4A16" "$cmd" --group 100
    expect_rc 2 "$W4A16" "$cmd" --bogus
done
for cmd in bench tune; do
    expect_rc 2 "$W4A16" "$cmd" --dtype f16,bf16  # one of each
    expect_rc 2 "$W4A16" "$cmd" --group 128,-1
    expect_rc 2 "$W4A16" "$cmd" --sym --asym
    expect_rc 2 "$W4A16" "$cmd" --json            # the option without its value
    expect_rc 2 "$W4A16" "$cmd" --m 17,x
done
expect_rc 2 "$W4A16" tune --kernel decode         # tune times every kernel
expect_rc 0 "$W4A16" tune --help
grep -q "qwen3-4b-unmerged" "$OUT" || fail "tune --help does not name the unmerged shapes"
expect_rc 2 "$W4A16" check --seed -3

if ! (command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'); then
    expect_rc 1 "$W4A16" bench --shapes '128,256' --m 1
    expect_one_line_error
    expect_stderr_has "no CUDA device was found"
    expect_rc 1 "$W4A16" bench --shapes 'qwen3-4b-unmerged;qwen3-4b' --m 1
    expect_stderr_has "no CUDA device was found"
    expect_rc 1 "$W4A16" check --shapes 'llama3-70b;64,128' --m 1,17 --group 32,-1 --asym
    expect_one_line_error
    expect_stderr_has "no CUDA device was found"
    expect_rc 1 "$W4A16" tune --shapes 'qwen3-4b-unmerged' --m 16,1,16 --dtype bf16 --asym \
        --json "$SCRATCH/tune.json"
    expect_one_line_error
    expect_stderr_has "w4a16 tune: no CUDA device was found"
    [ -e "$SCRATCH/tune.json" ] && fail "tune wrote its JSON without a GPU"
fi

# plot.py --summary reads a bench JSON without matplotlib.
cat >"$SCRATCH/bench.json" <<'JSON'
{"device": "test", "date": "2026-01-01", "commit": "unknown", "rows": [
 {"shape": "qkv", "n": 64, "k": 128, "group": 128, "dtype": "f16", "asym": false, "m": 0,
  "kernel": "pack", "us": 10.0, "tflops": null, "gbps": 1.5, "ratio_vs_cublas": null},
 {"shape": "qkv", "n": 64, "k": 128, "group": 128, "dtype": "f16", "asym": false, "m": 1,
  "kernel": "cublas", "us": 4.0, "tflops": 0.004, "gbps": 8.0, "ratio_vs_cublas": 1.0},
 {"shape": "qkv", "n": 64, "k": 128, "group": 128, "dtype": "f16", "asym": false, "m": 1,
  "kernel": "auto", "us": 2.0, "tflops": 0.008, "gbps": 4.0, "ratio_vs_cublas": 2.0, "host_us": 1.0}
]}
JSON
if command -v python3 >/dev/null; then
    expect_rc 0 python3 "$HERE/../../bench/plot.py" "$SCRATCH/bench.json" --summary
    grep -q "qkv 64x128 *2.00" "$OUT" || fail "plot.py --summary: $(cat "$OUT")"
    grep -q "^pack .*10.0 us" "$OUT" || fail "plot.py --summary lacks the pack row: $(cat "$OUT")"
    expect_rc 2 python3 "$HERE/../../bench/plot.py" "$SCRATCH/bench.json"
fi
echo "gpu commands: usage and no-GPU paths ok"
