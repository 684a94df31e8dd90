#!/usr/bin/env python3
"""Turns a small ELF shared object into a seed for the `decode` fuzz target (see the header
format in fuzz_targets/decode.rs): its PT_LOADs, PT_DYNAMIC and PT_GNU_RELRO become the header,
its pages laid out by virtual address become the image bytes.
usage: mkseed.py FILE.so OUT"""
import struct, sys

MACHINES = [62, 183, 3, 40, 243, 21, 258]
IMAGE = 64 * 1024

def main():
    path, out = sys.argv[1], sys.argv[2]
    f = open(path, 'rb').read()
    is64 = f[4] == 2
    machine = struct.unpack_from('<H', f, 18)[0]
    if is64:
        phoff, = struct.unpack_from('<Q', f, 32); phnum, = struct.unpack_from('<H', f, 56)
    else:
        phoff, = struct.unpack_from('<I', f, 28); phnum, = struct.unpack_from('<H', f, 44)
    loads, dyn, relro = [], (0, 0), (0, 0)
    for i in range(phnum):
        if is64:
            t, fl, off, va, pa, fs, ms, al = struct.unpack_from('<IIQQQQQQ', f, phoff + 56 * i)
        else:
            t, off, va, pa, fs, ms, fl, al = struct.unpack_from('<IIIIIIII', f, phoff + 32 * i)
        if t == 1:
            loads.append((off, va, fs, ms, fl))
        elif t == 2:
            dyn = (va, ms)
        elif t == 0x6474e552:
            relro = (va, ms)
    vbase = min(va & ~0xfff for _, va, _, _, _ in loads)
    img = bytearray(max(va + ms for _, va, _, ms, _ in loads) - vbase)
    if len(img) > IMAGE or len(loads) > 4:
        sys.exit('%s: too large for a seed' % path)
    for off, va, fs, ms, fl in loads:
        start = off & ~0xfff
        chunk = f[start:off + fs]
        at = (va & ~0xfff) - vbase
        img[at:at + len(chunk)] = chunk
    mode = (1 if is64 else 0) | (MACHINES.index(machine) << 1) | ((2 if is64 else 1) << 6)
    hdr = struct.pack('<BB', mode, len(loads))
    for i in range(4):
        if i < len(loads):
            off, va, fs, ms, fl = loads[i]
            hdr += struct.pack('<IIH', va - vbase, ms, fl)
        else:
            hdr += struct.pack('<IIH', 0, 0, 0)
    hdr += struct.pack('<QQ', dyn[0] - vbase, dyn[1])
    hdr += struct.pack('<II', (relro[0] - vbase) if relro[1] else 0, relro[1])
    hdr += struct.pack('<Q', vbase)
    assert len(hdr) == 74
    open(out, 'wb').write(hdr + bytes(img))

main()
