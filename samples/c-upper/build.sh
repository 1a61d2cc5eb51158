#!/bin/sh
# Builds c-upper, a plain WASI command: sh build.sh OUT.wasm
set -eu
out=${1:?usage: build.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
clang --target=wasm32-wasi -O2 -Wl,--strip-all -o "$out" "$here/upper.c"
