#!/bin/sh
# Mutation testing of gothook's core (not part of the normal test run; see docs/mutation.md).
#
#   tests-c/mutation/run.sh [FILE...]      default: slot, loader (+ scope), hooks/*, dynamic/mod.rs, rtld
#
# Runs cargo-mutants (cargo install --locked cargo-mutants) one mutant at a time (-j1) over each
# FILE.  A mutant is caught when `cargo test -p gothook-core` fails or when one of the C tests
# chosen for that file (built against the mutated tree by core/tests/c_suite.rs) fails.
# Results go to $MUTANTS_OUT/<file>/mutants.out/ (outcomes.json, caught.txt, missed.txt, ...).
# Environment: CARGO_MUTANTS (the cargo-mutants binary), MUTANTS_ARGS (extra arguments, e.g.
# "--re Batch::swap" or "--iterate"), MUTANTS_OUT (output root, default ./build-mutants.out, ignored by git),
# MUTANTS_CTEST (the C tests to run instead of the per-file choice below; empty: none, the Rust
# tests alone judge), MUTANTS_TIMEOUT
# (seconds per mutant's tests instead of 1.5 times the baseline's; needed with --baseline=skip).
set -eu
cd "$(dirname "$0")/../.."
CM=${CARGO_MUTANTS:-cargo-mutants}
OUT=${MUTANTS_OUT:-$PWD/build-mutants.out}
[ $# -gt 0 ] || set -- core/src/slot.rs core/src/loader.rs core/src/hooks/mod.rs \
  core/src/hooks/set.rs core/src/hooks/libs.rs core/src/hooks/pass.rs core/src/hooks/focus.rs \
core/src/dynamic/mod.rs core/src/rtld.rs core/src/loader/scope.rs

# The C tests that exercise each module (ctest names that are also target names).
ctests_for() {
  case $1 in
    */slot.rs) echo "hooks_api_contract hooks_all_shapes adopter_swap_not_ready adopter_swap_first_call hooks_many_pages" ;;
    */rtld.rs) echo "hooks_refresh_lockfree hooks_refresh_lockfree_namespace_first hooks_refresh_foreign_load" ;;
    */loader.rs) echo "hooks_all_shapes hooks_reload hooks_reload_same_address adopter_swap_not_ready adopter_rtld_next_linked hooks_next_after" ;;
    */loader/*) echo "adopter_rtld_next_linked hooks_next_after" ;;
    */hooks/*) echo "hooks_all_shapes hooks_stacking hooks_binding hooks_uninstall_exact hooks_refresh_probe hooks_reload hooks_reload_same_address hooks_lazy_repair hooks_api_contract hooks_filters_shared hooks_optional_weak hooks_restore_targets hooks_canonical_plt hooks_next_after hooks_weak_unbound hooks_undecodable_once hooks_many_versions hooks_nohash hooks_addend_pointer hooks_not_ready_retried hooks_left_behind_retried hooks_refresh_foreign_load hooks_refresh_no_clock hooks_refresh_cached hooks_refresh_failed_load hooks_refresh_lockfree hooks_refresh_during_dlclose hooks_refresh_after_loading" ;;
    */dynamic/*) echo "hooks_all_shapes" ;;
    *) echo "" ;;
  esac
}

timeout="--timeout-multiplier 1.5"
[ -z "${MUTANTS_TIMEOUT:-}" ] || timeout="--timeout $MUTANTS_TIMEOUT"

status=0
for f in "$@"; do
  ctests=$(ctests_for "$f")
  [ "${MUTANTS_CTEST+set}" != set ] || ctests=$MUTANTS_CTEST
  name=$(echo "$f" | sed 's|^core/src/||; s|/|_|g; s|\.rs$||')
  mkdir -p "$OUT/$name"
  echo "== $f (C tests: $ctests)"
  # shellcheck disable=SC2086
  GOTHOOK_MUTANTS_CTEST=$ctests "$CM" mutants -j1 --package gothook-core \
    --file "$f" --output "$OUT/$name" $timeout ${MUTANTS_ARGS:-} || status=$?
  for k in caught missed unviable timeout; do
    printf '%s %s  ' "$k" "$(cat "$OUT/$name/mutants.out/$k.txt" 2>/dev/null | wc -l)"
  done
  echo
done
exit "$status"
