#!/usr/bin/env bash
# Progress of quantize and convert: drawn on stderr when it is a terminal
# (here a pseudo-terminal from script(1)), absent when stderr is a file.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script(1) (bsdutils) is needed for a pseudo-terminal"

make_dense "$SCRATCH/dense"
expect_rc 0 "$W4A16" quantize "$SCRATCH/dense" --format gptq -o "$SCRATCH/piped"
grep -q $'\r' "$ERR" && fail "progress drawn on a stderr that is not a terminal"
grep -q "quantize: [0-9]" "$ERR" && fail "progress written to a stderr that is not a terminal"

on_terminal() {
    local command
    printf -v command '%q ' "$@"
    script -qec "$command" /dev/null >"$OUT" 2>&1 </dev/null
}
on_terminal "$W4A16" quantize "$SCRATCH/dense" --format gptq -o "$SCRATCH/tty" ||
    fail "quantize on a terminal failed: $(cat "$OUT")"
grep -q "quantize: 1/7 (14%) model.layers.0" "$OUT" || fail "no quantize progress on a terminal: $(cat -v "$OUT")"
on_terminal "$W4A16" convert "$SCRATCH/tty" --to dense -o "$SCRATCH/tty_dense" ||
    fail "convert on a terminal failed: $(cat "$OUT")"
grep -q "convert: [0-9]/[0-9] ([0-9]*%) model.layers.0" "$OUT" || fail "no convert progress on a terminal: $(cat -v "$OUT")"
echo "ok"
