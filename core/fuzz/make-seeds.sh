#!/bin/sh
# Builds the seed corpus of the `decode` fuzz target: tests-c/cross/fixture.c compiled by every
# installed cross compiler in four shapes, each turned into a seed (see mkseed.py).
# usage: ./make-seeds.sh [CORPUS_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/corpus/decode}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
i=0
for t in x86_64-linux-gnu aarch64-linux-gnu i686-linux-gnu arm-linux-gnueabihf riscv64-linux-gnu powerpc64le-linux-gnu; do
  command -v "$t-gcc" >/dev/null || { echo "no $t-gcc, skipped"; continue; }
  for v in "-Wl,--hash-style=gnu" "-fno-plt -Wl,--hash-style=sysv" "-Wl,--hash-style=both -Wl,-z,now" "-nostdlib -Wl,--hash-style=gnu"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    "$t-gcc" -shared -fPIC -O1 -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code $v \
      -o "$tmp/s$i.so" "$here/../../tests-c/cross/fixture.c"
    python3 "$here/mkseed.py" "$tmp/s$i.so" "$out/seed-$t-$i"
  done
done
echo "$(ls "$out" | wc -l) files in $out"
