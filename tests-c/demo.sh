#!/usr/bin/env bash
# The gothook demo, from a fresh clone: builds the library and ~20,000-relocation plugin
# libraries, then hooks malloc & co. in every library while three threads keep dlopening and
# dlclosing those plugins, and shows what happened.  Usage: bash tests-c/demo.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
GOTHOOK_MINIMAL_DEPS=1 bash tests-c/install-deps.sh >/dev/null
BUILD=${GOTHOOK_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target gothook_demo >/dev/null
mapfile -t plugins < "$BUILD/demo-plugins.txt"
exec "$BUILD/tests-c/demo/gothook_demo" "${1:-10}" "${plugins[@]}"
