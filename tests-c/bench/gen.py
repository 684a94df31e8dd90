#!/usr/bin/env python3
"""Generates the benchmark workload: a provider library exporting NIMP functions and L distinct
libraries, each importing the six allocator functions (PLT calls, GOT address loads = GLOB_DAT,
and a pointer table = ABS64) plus NIMP other functions through the PLT, a malloc-heavy
library `libbchurn.so` (`bchurn_run(n)`: n malloc+free pairs through its PLT), and a Makefile that
builds them.  Usage: gen.py OUTDIR NLIBS [NIMP].  Files are rewritten only when they change, so
make's timestamps cache the compiled libraries."""
import os
import sys

ALLOC = ["malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc"]


# The malloc-heavy program: every iteration is one malloc and one free through this library's
# GOT, so a hook on its malloc slot runs once per iteration.
CHURN = """#include <stdlib.h>
void *volatile bchurn_sink;
void bchurn_run(long n) {
  for (long i = 0; i < n; i++) {
    void *p = malloc(16 + (size_t)(i & 63));
    bchurn_sink = p;
    free(p);
  }
}
"""


def write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)


def lib_source(k, nimp):
    p = "bl%04d" % k
    out = ["#include <stdlib.h>", ""]
    # ABS64 data relocations: a table of taken addresses.
    out.append("void *const %s_table[6] = {%s};" % (p, ", ".join("(void *)%s" % a for a in ALLOC)))
    # GLOB_DAT: addresses loaded through the GOT in code (even libraries only: with a GOT
    # entry, ld routes the PLT calls through it (.plt.got) and emits no JUMP_SLOT, so odd
    # libraries keep real JUMP_SLOT imports of the six).
    if k % 2 == 0:
        out.append("__attribute__((noinline)) void *%s_addr(int i) {" % p)
        out.append("  switch (i) {")
        for i, a in enumerate(ALLOC):
            out.append("  case %d: return (void *)&%s;" % (i, a))
        out.append("  default: return 0;\n  }\n}")
    # PLT calls to all six.
    out.append("void *volatile %s_sink;" % p)
    out.append("int %s_alloc(void) {" % p)
    out.append("  void *p = malloc(32); %s_sink = p; p = realloc(p, 64); %s_sink = p; free(p);" % (p, p))
    out.append("  p = calloc(2, 16); %s_sink = p; free(p);" % p)
    out.append("  void *q = 0; if (posix_memalign(&q, 64, 64)) return -1; %s_sink = q; free(q);" % p)
    out.append("  q = aligned_alloc(64, 64); %s_sink = q; free(q);" % p)
    out.append("  return %d;\n}" % k)
    # The other imports, in an order that differs per library.
    # (x86_64: as top-level assembly, which compiles ~5x faster than 2,000 C calls.)
    step = 7 + 2 * (k % 50)
    order = [(k * 13 + i * step) % nimp if nimp % step else (k + i) % nimp for i in range(nimp)]
    out.append("#if defined(__x86_64__)")
    out.append('__asm__(".text\\n.globl %s_run\\n.type %s_run,@function\\n%s_run:\\npush %%rbx\\n"' % (p, p, p))
    for g in order:
        out.append('  "call g%d@PLT\\n"' % g)
    out.append('  "pop %%rbx\\nret\\n.size %s_run,.-%s_run\\n");' % (p, p))
    out.append("#else")
    out.append('#include "imports.h"')
    out.append("void %s_run(void) {" % p)
    out.extend("  g%d();" % g for g in order)
    out.append("}")
    out.append("#endif")
    return "\n".join(out) + "\n"


def main():
    outdir, nlibs = sys.argv[1], int(sys.argv[2])
    nimp = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    os.makedirs(outdir, exist_ok=True)
    write_if_changed(os.path.join(outdir, "imports.h"),
                     "".join("void g%d(void);\n" % i for i in range(nimp)))
    write_if_changed(os.path.join(outdir, "prov.c"),
                     "".join("void g%d(void) { __asm__ volatile(\"\"); }\n" % i for i in range(nimp)))
    write_if_changed(os.path.join(outdir, "churn.c"), CHURN)
    names = []
    for k in range(nlibs):
        write_if_changed(os.path.join(outdir, "bl%04d.c" % k), lib_source(k, nimp))
        names.append("libbl%04d.so" % k)
    # Even libraries bind now (calls go through .plt.got and GLOB_DAT slots), odd ones bind
    # lazily (calls through JUMP_SLOT slots): both shapes real libraries have.
    cflags = "-O1 -fPIC -Wl,-z,relro -Wl,--hash-style=gnu"
    mk = ["CC ?= gcc", "CFLAGS = %s" % cflags, "all: libbprov.so libbchurn.so %s" % " ".join(names), "",
          "libbprov.so: prov.c\n\t$(CC) $(CFLAGS) -shared -o $@ $<\n",
          "libbchurn.so: churn.c\n\t$(CC) $(CFLAGS) -Wl,-z,now -shared -o $@ $<\n"]
    for k in range(nlibs):
        bind = "now" if k % 2 == 0 else "lazy"
        mk.append("libbl%04d.so: bl%04d.c imports.h libbprov.so\n\t$(CC) $(CFLAGS) -Wl,-z,%s -shared -o $@ $< -L. -lbprov -Wl,-rpath,'$$ORIGIN'\n" % (k, k, bind))
    write_if_changed(os.path.join(outdir, "Makefile"), "\n".join(mk))


if __name__ == "__main__":
    main()
