#!/usr/bin/env bash
# The writable static data of the release libgothook.so (.data and .bss, plus .tdata/.tbss if any:
# what tests-c/bench reports) fits in LIMIT bytes.  Every process that loads gothook pays it,
# whether or not it installs a hook.  Prints one summary line; on failure also the largest data
# symbols, which is where the bytes went.
# Usage: static_data.sh READELF NM LIB LIMIT
set -euo pipefail
readelf="$1" nm="$2" lib="$3" limit="$4"
[ -f "$lib" ] || { echo "FAIL: $lib does not exist"; exit 1; }

total=0
parts=()
# readelf -SW: "[Nr] Name Type Address Off Size ...", sizes in hex ("[ 1]" is made one field).
while read -r name hex; do
  size=$((16#$hex))
  total=$((total + size))
  parts+=("$name $size B")
done < <("$readelf" -SW "$lib" | sed 's/\[ */[/' |
         awk '$2 == ".data" || $2 == ".bss" || $2 == ".tdata" || $2 == ".tbss" { print $2, $6 }')
[ "${#parts[@]}" -gt 0 ] || { echo "FAIL: no .data or .bss section in $lib"; exit 1; }
summary="$(IFS=,; echo "${parts[*]}" | sed 's/,/ + /g') = $total B"

if [ "$total" -le "$limit" ]; then
  echo "static data: $summary of at most $limit ($((limit - total)) B left)"
  exit 0
fi
echo "FAIL: static data: $summary, over the $limit B limit by $((total - limit)) B"
echo "largest data symbols (bytes):"
"$nm" -S --size-sort -C "$lib" | while read -r _ hex kind sym; do
  case "$kind" in [bBdD]) printf '  %8d %s\n' "$((16#$hex))" "$sym" ;; esac
done | sort -n | tail -8
exit 1
