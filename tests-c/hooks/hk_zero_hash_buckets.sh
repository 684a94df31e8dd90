#!/bin/sh
# Sets nbucket, the first word of the DT_HASH table (section .hash) of the shared object $1, to 0.
set -eu
off=$(readelf -SW "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == ".hash") print $(i + 3) }')
[ -n "$off" ] || { echo "$1: no .hash section" >&2; exit 1; }
printf '\000\000\000\000' | dd of="$1" bs=1 seek=$((0x$off)) conv=notrunc status=none
