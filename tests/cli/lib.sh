# Helpers for the command-line tests; source it after setting W4A16 and SCRATCH.
#   expect_rc CODE CMD...   run CMD, keep stdout/stderr in $OUT/$ERR, fail unless it exits CODE
#   expect_one_line_error   stderr holds exactly one line, starting "w4a16 "
#   fail MESSAGE            print and exit 1

W4A16="$(cd "$(dirname "$W4A16")" && pwd)/$(basename "$W4A16")"
SCRATCH="$(mkdir -p "$SCRATCH" && cd "$SCRATCH" && pwd)"
OUT="$SCRATCH/stdout"
ERR="$SCRATCH/stderr"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

expect_rc() {
    local want=$1
    shift
    "$@" >"$OUT" 2>"$ERR"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "--- stdout:" >&2; head -c 2000 "$OUT" >&2
        echo "--- stderr:" >&2; head -c 2000 "$ERR" >&2
        fail "'$*' exited $rc, expected $want"
    fi
}

expect_one_line_error() {
    local lines
    lines=$(wc -l <"$ERR")
    [ "$lines" -eq 1 ] || { cat "$ERR" >&2; fail "expected one line on stderr, got $lines"; }
    grep -q '^w4a16 ' "$ERR" || fail "stderr does not start with 'w4a16 ': $(cat "$ERR")"
}

expect_stderr_has() {
    grep -q -- "$1" "$ERR" || fail "stderr lacks '$1': $(cat "$ERR")"
}

make_dense() {
    mkdir -p "$1"
    python3 "$HERE/make_dense_checkpoint.py" "$@" || fail "could not write the dense checkpoint"
}
