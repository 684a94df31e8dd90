#!/usr/bin/env bash
# Installs what gothook's demo and tests need on a Debian 12 machine (run as root, or with sudo
# available), then proves every toolchain by building a tiny program with it.
#
# Every Debian package is named here; nothing relies on Recommends (apt runs with
# --no-install-recommends).  A toolchain that cannot compile, link (and, where this machine can,
# run) its test program stops the script with the name of the package that provides the missing
# part: a test is never skipped because a tool silently failed to install.
#
#   GOTHOOK_MINIMAL_DEPS=1   only what the library, its install and the demo need
#                            (cargo, cmake, a C/C++ compiler, make, binutils)
set -euo pipefail

minimal=${GOTHOOK_MINIMAL_DEPS:-0}

# Cross-architecture decoder fixtures: "<gcc triple> <Debian arch> <qemu binary>".
CROSS=(
  "aarch64-linux-gnu arm64 qemu-aarch64-static"
  "i686-linux-gnu i386 qemu-i386-static"
  "arm-linux-gnueabihf armhf qemu-arm-static"
  "riscv64-linux-gnu riscv64 qemu-riscv64-static"
  "powerpc64le-linux-gnu ppc64el qemu-ppc64le-static"
)
# The Rust target the cross-architecture interception tests build for (run under qemu).
RUST_CROSS_TARGET=aarch64-unknown-linux-gnu

packages=(gcc g++ libc6-dev make binutils cmake)
if [ "$minimal" != 1 ]; then
  packages+=(pkg-config musl-tools qemu-user-static)
  for entry in "${CROSS[@]}"; do
    read -r triple arch _ <<<"$entry"
    packages+=("gcc-$triple" "libc6-dev-$arch-cross")
  done
fi

die() { echo "install-deps: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---- install what dpkg does not list as installed ------------------------------------------
missing=()
if have dpkg-query; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
else
  echo "install-deps: no dpkg-query (not Debian?); checking the tools only: ${packages[*]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    # apt installs all or nothing: retry without cmake, the one package with a fallback (PyPI's
    # wheel, for mirrors without Debian's cmake); any other failure stops here.
    rest=()
    for p in "${missing[@]}"; do [ "$p" = cmake ] || rest+=("$p"); done
    if [ ${#rest[@]} -gt 0 ]; then
      $SUDO apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null ||
        die "apt-get could not install: ${rest[*]}"
    fi
    if ! have cmake; then
      echo "install-deps: Debian's cmake could not be installed; installing cmake from PyPI"
      python3 -m pip install -q cmake || die "neither apt-get nor pip could install cmake"
    fi
  fi
fi
have cmake || die "cmake not found (Debian package cmake, or: python3 -m pip install cmake)"
have cargo || die "cargo (Rust) is required: https://rustup.rs"

# ---- prove every toolchain ---------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$work/hello.c"
printf '#include <iostream>\nint main() { std::cout << "hello" << std::endl; return 0; }\n' >"$work/hello.cpp"
proven=()

# prove NAME PACKAGE RUNNER COMPILER ARGS...: compile and link hello; run it with RUNNER
# ("-" = do not run, "native" = run directly) and expect "hello".
prove() {
  local name="$1" pkg="$2" runner="$3"; shift 3
  local out="$work/$name"
  if ! "$@" -o "$out" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2
    die "$name cannot compile and link a test program: install Debian package(s) $pkg"
  fi
  case "$runner" in
    -) proven+=("$name(link)"); return ;;
    native) set -- "$out" ;;
    *) set -- $runner "$out" ;;
  esac
  [ "$("$@" 2>&1)" = hello ] || die "$name: the test program it built does not run ($*): check package(s) $pkg"
  proven+=("$name")
}

prove gcc "gcc libc6-dev" native gcc "$work/hello.c"
prove g++ "g++" native g++ "$work/hello.cpp"
have make || die "make not found: install Debian package make"
have readelf && have nm || die "readelf/nm not found: install Debian package binutils"
if [ "$minimal" != 1 ]; then
  have pkg-config || die "pkg-config not found: install Debian package pkg-config"
  prove musl-gcc musl-tools native musl-gcc "$work/hello.c"
  for entry in "${CROSS[@]}"; do
    read -r triple arch qemu <<<"$entry"
    have "$qemu" || die "$qemu not found: install Debian package qemu-user-static"
    prove "$triple-gcc" "gcc-$triple libc6-dev-$arch-cross" "$qemu -L /usr/$triple" \
      "$triple-gcc" "$work/hello.c"
  done
  # Rust for aarch64: the target's standard library (rustup), linked by the cross gcc, run by qemu.
  if have rustup && ! rustup target list --installed | grep -qx "$RUST_CROSS_TARGET"; then
    rustup target add "$RUST_CROSS_TARGET"
  fi
  printf 'fn main() { println!("hello"); }\n' >"$work/hello.rs"
  prove "rustc-$RUST_CROSS_TARGET" "gcc-aarch64-linux-gnu libc6-dev-arm64-cross (and: rustup target add $RUST_CROSS_TARGET)" \
    "qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
    rustc --edition 2021 --target "$RUST_CROSS_TARGET" -C linker=aarch64-linux-gnu-gcc "$work/hello.rs"
fi

echo "install-deps: cmake $(cmake --version | head -1 | awk '{print $3}'), $(cargo --version); built and ran: ${proven[*]}"
