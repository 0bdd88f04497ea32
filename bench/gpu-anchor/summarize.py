#!/usr/bin/env python3
"""Ours / anchor from one device run of bench/gpu-run.sh: samples/s ratios paired by round, model, workload and
batch (never across runs), per anchor library; the median over rounds with [min-max]; then the teacher epochs."""
import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    rows = [json.loads(l) for p in paths for l in open(p) if l.startswith("{")]
    ours, anchor = {}, defaultdict(dict)
    for r in rows:
        if "samples_per_s" not in r or "round" not in r:
            continue
        key = (r["round"], r["model"], r["workload"], r["batch"])
        if r["side"] == "ours":
            ours[key] = r["samples_per_s"]
        else:
            anchor[r["anchor"]][key] = r["samples_per_s"]
    for name, table in anchor.items():
        print(f"## ours / {name}\n")
        print("| model | workload | batch | ours samples/s (median) | anchor samples/s (median) | ratio median [min-max] | rounds |")
        print("|---|---|---|---|---|---|---|")
        cells = defaultdict(list)
        for key, a in table.items():
            if key in ours:
                cells[key[1:]].append((ours[key], a))
        for (model, workload, batch), pairs in sorted(cells.items()):
            ratios = [o / a for o, a in pairs]
            print(f"| {model} | {workload} | {batch} | {statistics.median(o for o, _ in pairs):,.0f} | "
                  f"{statistics.median(a for _, a in pairs):,.0f} | {statistics.median(ratios):.2f}× "
                  f"[{min(ratios):.2f}-{max(ratios):.2f}] | {len(pairs)} |")
        print()
    shapes = [r for r in rows if r.get("model") == "calo_flow2" and "samples_per_s" in r]
    if shapes:
        print("## CaloFlow flow II sampling (504 features, 8 MADE layers of 504)\n")
        print("| mode | batch | samples/s |")
        print("|---|---|---|")
        for r in shapes:
            print(f"| {r['mode']} | {r['batch']} | {r['samples_per_s']:,.0f} |")
        print()
    calo = [r for r in rows if r.get("model") == "calo_teacher" and "seconds_per_epoch" in r]
    if calo:
        print("## CaloFlow teacher, one epoch\n")
        print("| side | showers | steps | s/epoch | steps/s | loss | threads |")
        print("|---|---|---|---|---|---|---|")
        for r in calo:
            print(f"| {r['side']} ({r['device']}) | {r['showers']} | {r['steps']} | {r['seconds_per_epoch']:.2f} | "
                  f"{r['steps_per_s']:.2f} | {r['loss']:.3f} | {r['threads']} |")
        by = {r["side"]: r["seconds_per_epoch"] for r in calo}
        if "cpu" in by and "device" in by:
            print(f"\nCPU / device time per epoch: {by['cpu'] / by['device']:.2f}×")


if __name__ == "__main__":
    main(sys.argv[1:])
