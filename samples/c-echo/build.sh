#!/bin/sh
# Builds c-echo, a ferry reactor in C: sh build.sh OUT.wasm
# Needs clang, lld and wasi-libc (.ci/install-wasi-c.sh installs them).
set -eu
out=${1:?usage: build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
clang --target=wasm32-wasi -O2 -mexec-model=reactor -I"$here/../../hostabi/include" \
  -Wl,--strip-all -o "$out" "$here/echo.c"
