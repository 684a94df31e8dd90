#!/usr/bin/env bash
# Installs what gothook's demo and tests need on a fresh Debian 12 machine (run as root, or with
# sudo available): cmake, a C/C++ toolchain, binutils (readelf, nm), pkg-config, musl-gcc and the
# cross compilers used by the cross-architecture decoder tests.  Already-present tools are kept.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have gcc || need+=(gcc)
have g++ || need+=(g++)
have make || need+=(make)
have readelf || need+=(binutils)
have pkg-config || need+=(pkg-config)
if [ "${GOTHOOK_MINIMAL_DEPS:-0}" != 1 ]; then
  have musl-gcc || need+=(musl-tools)
  for t in aarch64-linux-gnu i686-linux-gnu arm-linux-gnueabihf riscv64-linux-gnu powerpc64le-linux-gnu; do
    have "$t-gcc" || need+=("gcc-$t")
  done
fi
have cmake || need+=(cmake)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    # Debian's cmake may be unavailable on some mirrors; PyPI's works as well.
    if ! have cmake; then python3 -m pip install -q cmake; fi
  fi
fi
have cmake || python3 -m pip install -q cmake
have cargo || { echo "install-deps: cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
echo "install-deps: cmake $(cmake --version | head -1 | awk '{print $3}'), $(cargo --version)"
