#!/usr/bin/env bash
# The program and the shared library never link libcuda (the driver): they
# link only the CUDA runtime and cuBLAS, which load without a driver, so
# both start on a machine without a GPU (docs/DESIGN.md §8). Every library
# they need is found.
W4A16="$1"
SCRATCH="$2"
source "$(dirname "$0")/lib.sh"

command -v readelf >/dev/null || fail "readelf (binutils) is needed"
libraries=("$(dirname "$W4A16")"/libw4a16.so)
[ -e "${libraries[0]}" ] || fail "no libw4a16.so beside $W4A16"
for binary in "$W4A16" "${libraries[0]}"; do
    readelf -d "$binary" >"$OUT" || fail "readelf cannot read $binary"
    grep -q 'NEEDED' "$OUT" || fail "$binary lists no needed libraries"
    if grep -q 'libcuda\.so' "$OUT"; then
        fail "$binary links the driver: $(grep 'libcuda' "$OUT")"
    fi
    ldd "$binary" >"$OUT" 2>&1 || fail "ldd $binary: $(cat "$OUT")"
    if grep -q 'not found' "$OUT"; then fail "$binary needs what is missing: $(grep 'not found' "$OUT")"; fi
    grep -q 'libcuda\.so' "$OUT" && fail "$binary loads the driver: $(grep 'libcuda' "$OUT")"
done
expect_rc 0 "$W4A16" --version
echo "ok"
