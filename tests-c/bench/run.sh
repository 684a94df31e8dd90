#!/usr/bin/env bash
# gothook benchmark.  Not part of ctest.  Usage, from anywhere in a clone:
#   bash tests-c/bench/run.sh [L ...]        (default: 10 100 1000)
# Env: BENCH_BUILD (build dir, default <repo>/build-bench), BENCH_STORM_SECS (interference
# window per configuration, default 1.5), BENCH_DLOPEN_SECS (window of each dlopen+dlclose
# line, default 1.0), BENCH_NO_PLOT=1 (skip matplotlib), BENCH_DOCS=1
# (write docs/bench/results.md and cost-vs-L.png), BENCH_ONLY=install,scan,... (only these
# sections), BENCH_CPU_TIME=1 (single-thread figures in thread CPU time; see README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD:-$repo/build-bench}
ls_=("$@"); [ ${#ls_[@]} -gt 0 ] || ls_=(10 100 1000)
lmax=0; for l in "${ls_[@]}"; do [ "$l" -gt "$lmax" ] && lmax=$l; done
mkdir -p "$build"

echo "== building libgothook (cargo release)" >&2
CARGO_TARGET_DIR="$build/cargo" cargo build --release -p gothook-capi --manifest-path "$repo/Cargo.toml" >&2
mkdir -p "$build/ghlib"
cp "$build/cargo/release/libgothook.so" "$build/ghlib/libgothook.so"
soname=$(readelf -dW "$build/ghlib/libgothook.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ "$soname" != libgothook.so ] && ln -sf libgothook.so "$build/ghlib/$soname"

echo "== generating and compiling $((lmax + 5)) libraries (cached in $build/libs)" >&2
t0=$(date +%s)
python3 "$here/gen.py" "$build/libs" $((lmax + 5))
make -C "$build/libs" -j2 -s >&2
echo "   libraries ready in $(( $(date +%s) - t0 )) s" >&2

echo "== building the benchmark (standalone cargo project, peers from crates.io)" >&2
GOTHOOK_LIB_DIR="$build/ghlib" CARGO_TARGET_DIR="$build/bench-target" \
  cargo build --release --manifest-path "$here/rs/Cargo.toml" >&2

echo "== running" >&2
out="$build/out"; mkdir -p "$out"
cd "$out"
GOTHOOK_SO="$build/ghlib/libgothook.so" "$build/bench-target/release/gothook-bench" "$build/libs" "${ls_[@]}" | tee "$out/table.md"

if [ "${BENCH_NO_PLOT:-0}" != 1 ]; then
  echo "== plotting" >&2
  if ! python3 -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv "$build/venv" >&2 && "$build/venv/bin/pip" -q install matplotlib >&2
    py="$build/venv/bin/python3"
  else
    py=python3
  fi
  "$py" "$here/plot.py" "$out/bench.csv" "$out/cost-vs-L.png" >&2 || echo "plot failed" >&2
fi

if [ "${BENCH_DOCS:-0}" = 1 ]; then
  docs="$repo/docs/bench"; mkdir -p "$docs"
  {
    echo "# gothook benchmark results"
    echo
    echo "Command: \`bash tests-c/bench/run.sh ${ls_[*]}\` (from the repository root; see tests-c/bench/README.md)."
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') (plus working tree)."
    echo
    echo "## Machine"
    echo
    echo '```'
    echo "nproc: $(nproc)"
    lscpu | head -n 15
    echo "kernel: $(uname -srm)"
    echo "glibc: $(ldd --version | head -n 1)"
    echo "rustc: $(rustc --version)"
    echo "gcc: $(gcc --version | head -n 1)"
    echo '```'
    echo
    cat "$out/table.md"
    [ -f "$here/analysis.md" ] && { echo; cat "$here/analysis.md"; }
    echo
    echo "![cost against L](cost-vs-L.png)"
  } > "$docs/results.md"
  [ -f "$out/cost-vs-L.png" ] && cp "$out/cost-vs-L.png" "$docs/cost-vs-L.png"
  echo "wrote $docs/results.md" >&2
fi
