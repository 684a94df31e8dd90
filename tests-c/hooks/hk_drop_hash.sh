#!/bin/sh
# Turns the DT_HASH entry of the shared object $1's dynamic section into DT_DEBUG (ignored in a
# shared object): the object then has no symbol hash table.  Needs a 64-bit little-endian object.
set -eu
dyn=$(readelf -SW "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == ".dynamic") print $(i + 3) }')
[ -n "$dyn" ] || { echo "$1: no .dynamic section" >&2; exit 1; }
idx=$(readelf -dW "$1" | awk '/^ *0x/ { if ($2 == "(HASH)") { print n; exit } n++ }')
[ -n "$idx" ] || { echo "$1: no DT_HASH entry" >&2; exit 1; }
printf '\025\000\000\000\000\000\000\000' | dd of="$1" bs=1 seek=$((0x$dyn + idx * 16)) conv=notrunc status=none
