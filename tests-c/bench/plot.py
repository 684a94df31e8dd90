#!/usr/bin/env python3
"""Plots cost against L (log-log) for gothook's install, refresh right after install,
refresh-one and probe, the floor (one plain read of every relocation entry), the naive strcmp
patcher and the crates.io peers' install, from the bench.csv the benchmark writes.  Usage: plot.py bench.csv out.png"""
import csv
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.reader(open(sys.argv[1])))
ls = [int(x) for x in rows[0][1:]]
fig = {r[0]: [float(x) for x in r[1:]] for r in rows[1:]}
series = [
    ("gothook install", "gothook install (all libraries)", "o-"),
    ("gothook refresh right after install", "gothook refresh right after install", "o--"),
    ("gothook install-one", "gothook install into one library", "o:"),
    ("gothook refresh-one", "gothook refresh-one", "s-"),
    ("gothook probe", "gothook probe (nothing changed)", "^-"),
    ("gothook probe (dlopen intercepted)", "gothook probe (nothing changed, dlopen intercepted)", "^:"),
    ("floor: plain read of every JMPREL+RELA entry", "floor: one plain read of every JMPREL+RELA entry", "k:"),
    ("naive strcmp patcher install", "naive strcmp patcher install (all libraries)", "v-"),
    ("plthook install", "plthook install (the L libraries)", "x--"),
    ("libdd-gotter install", "libdd-gotter install (all libraries)", "d--"),
]
plt.figure(figsize=(10.5, 5.5))
for key, label, style in series:
    if key in fig:
        plt.plot(ls, fig[key], style, label=label)
plt.xscale("log")
plt.yscale("log")
plt.xlabel("L (generated libraries loaded, each ~2,000 imports)")
plt.ylabel("median cost per call (µs)")
plt.title("gothook: cost against number of loaded libraries")
plt.grid(True, which="both", alpha=0.3)
plt.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
plt.tight_layout()
plt.savefig(sys.argv[2], dpi=110)
