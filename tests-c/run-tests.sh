#!/usr/bin/env bash
# gothook's whole test suite, from a fresh clone: installs what is missing, then runs the Rust
# checks (fmt, clippy, unit tests) and every C/C++ test through ctest (glibc and musl suites,
# cross-architecture decoding, mutation test, hook acceptance, race suite, package consumers,
# documentation snippets, demo).
# Usage: bash tests-c/run-tests.sh [extra ctest arguments, e.g. -R race]
#
# Whatever happens, the last line is "N passed, N failed, N skipped" (cargo tests, Rust checks and
# ctest tests together), preceded by one "FAILED: name" line per failure; the exit status is 0
# only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${GOTHOOK_BUILD_DIR:-build}
JOBS=$(nproc)
LOGS="$BUILD/test-logs"

passed=0
failed=0
skipped=0
failures=()

closing() {
  trap - EXIT
  local name
  echo
  for name in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $name"; done
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ] || exit 1
  exit 0
}
trap closing EXIT
trap 'failures+=("interrupted"); failed=$((failed + 1)); closing' INT TERM

fail() { failed=$((failed + 1)); failures+=("$1"); }

# check NAME CMD...: one pass/fail entry for a whole command (its output is shown as it runs)
check() {
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); else fail "$name"; fi
}

mkdir -p "$LOGS"
echo "== install-deps"
if ! bash tests-c/install-deps.sh; then
  fail "install-deps (see the message above)"
  exit 1
fi

echo "== cargo fmt / clippy / test"
check "cargo fmt --check" cargo fmt --all -- --check
check "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace 2>&1 | tee "$LOGS/cargo-test.log"
cargo_rc=${PIPESTATUS[0]}
# "test result: ok. 12 passed; 0 failed; 1 ignored; ..." per test binary
while read -r p f i; do
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + i))
done < <(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' \
           "$LOGS/cargo-test.log")
while read -r name; do failures+=("cargo test $name"); done < <(
  sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$LOGS/cargo-test.log")
if [ "$cargo_rc" -ne 0 ] && ! grep -q '\.\.\. FAILED$' "$LOGS/cargo-test.log"; then
  fail "cargo test (exit $cargo_rc before any test failed: see above)"
fi

echo "== cmake build"
if ! cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON; then
  fail "cmake configure"
  exit 1
fi
if ! cmake --build "$BUILD" -j"$JOBS"; then
  fail "cmake build"
  exit 1
fi

echo "== ctest (each test prints a Start line and a result line; the race storms run one at a time)"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@" 2>&1 | tee "$LOGS/ctest.log"
ctest_rc=${PIPESTATUS[0]}
# Result lines: "  3/120 Test   #7: name ..........   Passed    0.02 sec",
# "...***Skipped", "...***Failed", "...***Timeout", "...***Exception: SegFault", "***Not Run".
results="$LOGS/ctest-results.txt"
sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) \.* *\**\([A-Za-z]*\).*/\1 \2/p' "$LOGS/ctest.log" >"$results"
ctest_failed=0
while read -r name status; do
  case "$status" in
    Passed) passed=$((passed + 1)) ;;
    Skipped) skipped=$((skipped + 1)) ;;
    *) fail "ctest $name ($status)"; ctest_failed=$((ctest_failed + 1)) ;;
  esac
done <"$results"
if [ "$ctest_rc" -ne 0 ] && [ "$ctest_failed" -eq 0 ]; then
  fail "ctest (exit $ctest_rc without a failed test: see above)"
fi
