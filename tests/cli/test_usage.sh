#!/usr/bin/env bash
# Usage and failure paths of the checkpoint commands: --help, unknown
# subcommand / option / format (exit 2), missing arguments (2), bad input
# (1, one line on stderr), a non-empty OUT_DIR without --force (1).
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"

for cmd in inspect convert quantize demo; do
    expect_rc 0 "$W4A16" "$cmd" --help
    grep -q "usage: w4a16 $cmd" "$OUT" || fail "$cmd --help does not print its usage on stdout"
    [ -s "$ERR" ] && fail "$cmd --help wrote to stderr"
done
expect_rc 0 "$W4A16" --help
grep -q "quantize" "$OUT" || fail "w4a16 --help does not list the commands"

expect_rc 2 "$W4A16" frobnicate
expect_rc 2 "$W4A16"
expect_rc 2 "$W4A16" inspect --no-such-flag x
expect_rc 2 "$W4A16" inspect                     # missing CHECKPOINT
expect_rc 2 "$W4A16" inspect a b                 # one too many
expect_rc 2 "$W4A16" inspect x --from int3
expect_rc 2 "$W4A16" inspect x --from            # option without its value
expect_rc 2 "$W4A16" convert x -o "$SCRATCH/o"   # missing --to
expect_rc 2 "$W4A16" convert x --to int8 -o "$SCRATCH/o"
expect_rc 2 "$W4A16" convert x --to awq          # missing -o
expect_rc 2 "$W4A16" convert x --to dense --dtype f64 -o "$SCRATCH/o"
expect_rc 2 "$W4A16" quantize x -o "$SCRATCH/o"  # missing --format
expect_rc 2 "$W4A16" quantize x --format dense -o "$SCRATCH/o"
expect_rc 2 "$W4A16" quantize x --format awq --group 100 -o "$SCRATCH/o"
expect_rc 2 "$W4A16" quantize x --format awq --sym --asym -o "$SCRATCH/o"
expect_rc 2 "$W4A16" demo --bogus
[ -e "$SCRATCH/o" ] && fail "a usage error created the output folder"

# Bad input: a missing file, a truncated file, garbage.
expect_rc 1 "$W4A16" inspect "$SCRATCH/absent.safetensors" --from awq
expect_one_line_error
printf 'not a safetensors file at all' >"$SCRATCH/garbage.safetensors"
expect_rc 1 "$W4A16" inspect "$SCRATCH/garbage.safetensors" --from awq
expect_one_line_error
make_dense "$SCRATCH/dense"
head -c 100 "$SCRATCH/dense/model.safetensors" >"$SCRATCH/truncated.safetensors"
expect_rc 1 "$W4A16" inspect "$SCRATCH/truncated.safetensors" --from dense
expect_one_line_error
expect_rc 1 "$W4A16" quantize "$SCRATCH/garbage.safetensors" --format awq -o "$SCRATCH/q"
expect_one_line_error
expect_rc 1 "$W4A16" convert "$SCRATCH/garbage.safetensors" --from awq --to dense -o "$SCRATCH/c"
expect_one_line_error

# A quantized checkpoint needs quantized layers; a dense one is not one.
expect_rc 1 "$W4A16" convert "$SCRATCH/dense" --to awq -o "$SCRATCH/c2"
expect_one_line_error

# OUT_DIR exists and is not empty: refused without --force, accepted with it.
mkdir -p "$SCRATCH/full" && echo keep >"$SCRATCH/full/notes.txt"
expect_rc 1 "$W4A16" quantize "$SCRATCH/dense" --format awq -o "$SCRATCH/full"
expect_one_line_error
expect_stderr_has "not empty"
[ -e "$SCRATCH/full/model.safetensors" ] && fail "wrote into a non-empty folder without --force"
expect_rc 0 "$W4A16" quantize "$SCRATCH/dense" --format awq -o "$SCRATCH/full" --force
[ -s "$SCRATCH/full/model.safetensors" ] || fail "--force did not write model.safetensors"
[ -s "$SCRATCH/full/config.json" ] || fail "--force did not write config.json"
expect_rc 1 "$W4A16" convert "$SCRATCH/full" --to dense -o "$SCRATCH/full"
expect_one_line_error

# K not a multiple of the group: left dense by default and listed; named by
# --include, an error naming every layer the format cannot hold, with the
# --exclude that skips each.
make_dense "$SCRATCH/odd" --odd-layer --moe-router
expect_rc 0 "$W4A16" quantize "$SCRATCH/odd" --format gptq -o "$SCRATCH/odd_q"
grep -q "left dense: model.layers.0.mlp.odd_proj: K=200 is not a multiple of the group size 128" "$OUT" ||
    fail "odd_proj not listed as left dense: $(cat "$OUT")"
expect_rc 0 "$W4A16" inspect "$SCRATCH/odd_q" --json
python3 -c "import json, sys; s = {l['name']: l['status'] for l in json.load(open(sys.argv[1]))['layers']}; \
    assert s['model.layers.0.mlp.odd_proj'] == 'unquantized' and s['model.layers.0.mlp.up_proj'] == 'quantized', s" \
    "$OUT" || fail "odd_proj is not an unquantized layer"
expect_rc 1 "$W4A16" quantize "$SCRATCH/odd" --format awq --include '*proj' --include '*gate' -o "$SCRATCH/odd_q2"
expect_one_line_error
expect_stderr_has "3 layer(s) cannot be held by awq: model.layers.0.mlp.gate (awq needs N a multiple of 8, got N=4); "
expect_stderr_has "model.layers.0.mlp.odd_proj (K=200 is not a multiple of the group size 128); "
expect_stderr_has "leave them dense with --exclude 'model.layers.0.mlp.gate' --exclude 'model.layers.0.mlp.odd_proj' --exclude 'model.layers.0.mlp.shared_expert_gate'"
[ -e "$SCRATCH/odd_q2" ] && fail "a refused quantize created its output folder"
expect_rc 0 "$W4A16" quantize "$SCRATCH/odd" --format gptq --include '*proj' --exclude '*odd_proj*' -o "$SCRATCH/odd_q3"

echo "ok"
