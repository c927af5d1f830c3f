#!/usr/bin/env bash
# What needs which library (docs/DESIGN.md §8): the program links no CUDA
# library at all, so the checkpoint commands and --help run where none is
# installed; the GPU commands' module (w4a16-gpu.so) and libw4a16.so link the
# CUDA runtime and cuBLAS but never libcuda (the driver). Then the commands
# run with the CUDA libraries out of the loader's reach (the dynamic loader
# started by hand, without its cache, on a folder holding only what the
# program needs): inspect, convert, quantize, --help and demo's CPU part
# work, demo says it skipped its GPU part, and check says in one line which
# library it misses.
W4A16="$1"
SCRATCH="$2"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
source "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || fail "no scratch dir"

command -v readelf >/dev/null || fail "readelf (binutils) is needed"
BUILD="$(dirname "$W4A16")"
MODULE="$BUILD/w4a16-gpu.so"
[ -e "$MODULE" ] || fail "no w4a16-gpu.so beside $W4A16"
[ -e "$BUILD/libw4a16.so" ] || fail "no libw4a16.so beside $W4A16"

readelf -d "$W4A16" >"$OUT" || fail "readelf cannot read $W4A16"
grep -q 'NEEDED' "$OUT" || fail "$W4A16 lists no needed libraries"
if grep -Eq 'libcuda|libcublas' "$OUT"; then
    fail "the program links a CUDA library: $(grep -E 'libcuda|libcublas' "$OUT")"
fi
for binary in "$MODULE" "$BUILD/libw4a16.so"; do
    readelf -d "$binary" >"$OUT" || fail "readelf cannot read $binary"
    grep -q 'libcuda\.so' "$OUT" && fail "$binary links the driver: $(grep 'libcuda\.so' "$OUT")"
done
for binary in "$W4A16" "$MODULE" "$BUILD/libw4a16.so"; do
    ldd "$binary" >"$OUT" 2>&1 || fail "ldd $binary: $(cat "$OUT")"
    if grep -q 'not found' "$OUT"; then fail "$binary needs what is missing: $(grep 'not found' "$OUT")"; fi
    grep -q 'libcuda\.so' "$OUT" && fail "$binary loads the driver: $(grep 'libcuda' "$OUT")"
done
expect_rc 0 "$W4A16" --version
if ! readelf -d "$MODULE" | grep -Eq 'libcu(dart|blas)'; then
    echo "a build without CUDA: its GPU module links no CUDA library, so there is nothing to hide"
    echo "ok"
    exit 0
fi

# The loader the program names, run by hand: no cache, and a library path of
# links to the libraries the program needs (the caller's LD_LIBRARY_PATH, which
# may hold CUDA's, is replaced).
loader=$(readelf -l "$W4A16" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
[ -x "$loader" ] || fail "no program interpreter in $W4A16"
mkdir libs
ldd "$W4A16" | awk '/=> \// {print $3}' | while read -r lib; do ln -sf "$lib" libs/; done
hidden() { "$loader" --inhibit-cache --library-path "$SCRATCH/libs" "$W4A16" "$@"; }
"$loader" --inhibit-cache --library-path "$SCRATCH/libs" --list "$MODULE" >"$OUT" 2>&1
if ! grep -Eq 'libcu(dart|blas)[^ ]*( => not found|: cannot open)' "$OUT"; then
    echo "the CUDA libraries are in the loader's default folders and cannot be hidden:" \
         "checked only that the program does not link them"
    echo "ok"
    exit 0
fi

expect_rc 0 hidden --help
grep -q "quantize" "$OUT" || fail "w4a16 --help without CUDA: $(cat "$OUT")"
for cmd in inspect convert quantize demo; do
    expect_rc 0 hidden $cmd --help
    grep -q "usage: w4a16 $cmd" "$OUT" || fail "$cmd --help without CUDA"
done
make_dense dense
expect_rc 0 hidden inspect dense
expect_rc 0 hidden quantize dense --format awq -o awq
expect_rc 0 hidden convert awq --to gptq_v2 -o gptq
expect_rc 0 hidden convert gptq --to dense -o back
expect_rc 0 hidden inspect gptq --json
grep -q '"format": "gptq_v2"' "$OUT" || fail "inspect without CUDA: $(cat "$OUT")"

TMPDIR="$SCRATCH" expect_rc 0 hidden demo
grep -q "max|C - C_ref| / max|C_ref| = .* PASS" "$OUT" || fail "demo's CPU part without CUDA: $(cat "$OUT")"
grep -q "GPU part skipped: the GPU commands cannot be loaded: libcu" "$OUT" ||
    fail "demo does not say why it skipped its GPU part: $(cat "$OUT")"

for cmd in check bench; do
    expect_rc 1 hidden $cmd --shapes 64,128 --m 1
    expect_one_line_error
    expect_stderr_has "w4a16 $cmd: the GPU commands cannot be loaded: libcu"
    expect_stderr_has "need the CUDA runtime and cuBLAS"
done
echo "ok"
