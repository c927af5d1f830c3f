#!/usr/bin/env bash
# The installed library as its users see it: `cmake --install` into a scratch
# prefix, then a small C program built with `pkg-config --cflags --libs w4a16`
# alone, which quantizes a weight and reads an error message through the
# shared library; the installed program and its GPU module. Args: cmake, the
# build folder, the C compiler, a scratch folder.
set -euo pipefail
CMAKE="$1"
BUILD="$2"
CC="$3"
SCRATCH="$4"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
prefix="$SCRATCH/prefix"
"$CMAKE" --install "$BUILD" --prefix "$prefix" >"$SCRATCH/install.log" || fail "cmake --install failed"
pc=$(find "$prefix" -name w4a16.pc)
[ -n "$pc" ] || fail "no w4a16.pc under $prefix"
[ -f "$prefix/include/w4a16.h" ] || fail "w4a16.h is not installed"
[ -x "$prefix/bin/w4a16" ] || fail "the w4a16 program is not installed"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --variable=prefix w4a16)" = "$prefix" ] ||
    fail "w4a16.pc names prefix '$(pkg-config --variable=prefix w4a16)', not '$prefix'"

cat >"$SCRATCH/use_w4a16.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <w4a16.h>

int main(void) {
    enum { N = 16, K = 64 };
    float weight[N * K];
    for (int i = 0; i < N * K; i++) weight[i] = (float)((i * 37 % 101) - 50) / 64.0f;
    w4a16_unpacked q;
    if (w4a16_quantize(weight, W4A16_F32, N, K, 32, 0, W4A16_F16, &q) != W4A16_OK) {
        fprintf(stderr, "quantize: %s\n", w4a16_last_error());
        return 1;
    }
    w4a16_unpacked_free(&q);
    w4a16_format format;
    if (w4a16_format_parse("int3", &format) != W4A16_ERR_ARG ||
        strstr(w4a16_last_error(), "int3") == NULL) {
        fprintf(stderr, "format_parse accepted 'int3'\n");
        return 1;
    }
    printf("w4a16 %s\n", w4a16_version());
    return 0;
}
C
# -pedantic: the public header is plain C11.
read -r -a cflags <<<"$(pkg-config --cflags w4a16)"
read -r -a libs <<<"$(pkg-config --libs w4a16)"
"$CC" -std=c11 -pedantic -Wall -Wextra -Werror "${cflags[@]}" "$SCRATCH/use_w4a16.c" -o "$SCRATCH/use_w4a16" \
    "${libs[@]}" || fail "a program built with pkg-config's flags does not compile or link"

# The installed files carry no build-tree RPATH: find the CUDA libraries
# where Libs.private says they are.
library_path="$(pkg-config --variable=libdir w4a16)"
for flag in $(pkg-config --static --libs-only-L w4a16); do library_path="$library_path:${flag#-L}"; done
LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$SCRATCH/use_w4a16" >"$SCRATCH/out" ||
    fail "the program linked against the installed library failed"
grep -q "^w4a16 $(pkg-config --modversion w4a16)\$" "$SCRATCH/out" || fail "unexpected output: $(cat "$SCRATCH/out")"
LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$prefix/bin/w4a16" --version >/dev/null || fail "the installed w4a16 does not run"
# The GPU commands come from the module installed in <libdir>/w4a16/.
[ -f "$(pkg-config --variable=libdir w4a16)/w4a16/w4a16-gpu.so" ] || fail "the GPU module is not installed"
LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$prefix/bin/w4a16" check --help >"$SCRATCH/out" ||
    fail "the installed w4a16 does not load its GPU module"
grep -q "^usage: w4a16 check" "$SCRATCH/out" || fail "check --help: $(cat "$SCRATCH/out")"
echo "ok"
