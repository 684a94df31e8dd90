#!/usr/bin/env python3
"""Plots cost against L (log-log) for install, refresh-one and probe (gothook) and the peers'
install, from the bench.csv the benchmark writes.  Usage: plot.py bench.csv out.png"""
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
    ("gothook install-one", "gothook install into one library", "o:"),
    ("gothook refresh-one", "gothook refresh-one", "s-"),
    ("gothook probe", "gothook probe (nothing changed)", "^-"),
    ("plthook install", "plthook install (the L libraries)", "x--"),
    ("libdd-gotter install", "libdd-gotter install (all libraries)", "d--"),
]
plt.figure(figsize=(8, 5.5))
for key, label, style in series:
    if key in fig:
        plt.plot(ls, fig[key], style, label=label)
plt.xscale("log")
plt.yscale("log")
plt.xlabel("L (generated libraries loaded, each ~2,000 imports)")
plt.ylabel("median cost per call (µs)")
plt.title("gothook: cost against number of loaded libraries")
plt.grid(True, which="both", alpha=0.3)
plt.legend(fontsize=8)
plt.tight_layout()
plt.savefig(sys.argv[2], dpi=110)
