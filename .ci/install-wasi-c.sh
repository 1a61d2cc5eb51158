#!/usr/bin/env bash
# Installs the C to WebAssembly toolchain the C samples need (clang, lld,
# wasi-libc, the wasm32 compiler runtime) from Debian's packages, unless a
# tiny program already builds. Idempotent and quiet on success.
set -euo pipefail

works() {
  local dir
  dir=$(mktemp -d)
  printf 'int main(void){return 0;}\n' > "$dir/t.c"
  clang --target=wasm32-wasi -O2 -o "$dir/t.wasm" "$dir/t.c" >/dev/null 2>&1
  local ok=$?
  rm -rf "$dir"
  return $ok
}

if command -v clang >/dev/null 2>&1 && works; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-wasi-c: run as root (sudo) to install clang, lld, wasi-libc, libclang-rt-14-dev-wasm32" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends clang lld wasi-libc libclang-rt-14-dev-wasm32 >/dev/null
works || { echo "install-wasi-c: clang still cannot build for wasm32-wasi" >&2; exit 1; }
