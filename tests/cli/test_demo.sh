#!/usr/bin/env bash
# w4a16 demo runs in seconds and exits 0: the checkpoint round trip is exact,
# the emulated 16-bit GEMM meets the criterion, and the GPU part runs or says
# it skipped. With --out the checkpoint stays and inspect reads it.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"

start=$(date +%s)
TMPDIR="$SCRATCH" expect_rc 0 "$W4A16" demo
elapsed=$(($(date +%s) - start))
grep -q "read back: equals the quantized weight exactly" "$OUT" || fail "no exact read-back: $(cat "$OUT")"
grep -q "max|C - C_ref| / max|C_ref| = .* PASS" "$OUT" || fail "no passing CPU check: $(cat "$OUT")"
grep -q "GPU" "$OUT" || fail "the GPU part said nothing"
[ -z "$(ls -A "$SCRATCH" | grep w4a16-demo)" ] || fail "the demo left its temporary folder"
# A guard against hangs: seconds normally, ~10x that under the sanitizers.
[ "$elapsed" -le 300 ] || fail "the demo took ${elapsed}s"

expect_rc 0 "$W4A16" demo --dtype bf16 --out "$SCRATCH/kept"
expect_rc 0 "$W4A16" inspect "$SCRATCH/kept" --json
python3 - "$OUT" <<'PY' || fail "the demo's checkpoint"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["format"] == "awq", j["format"]
[layer] = j["layers"]
assert (layer["n"], layer["k"], layer["group_size"], layer["symmetric"]) == (19456, 2560, 128, False), layer
PY
expect_rc 1 "$W4A16" demo --out "$SCRATCH/kept"
expect_one_line_error
echo "ok"
