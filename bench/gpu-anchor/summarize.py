#!/usr/bin/env python3
"""Ours / anchor from one device run of bench/gpu-run.sh: samples/s ratios paired by round, model, workload and
batch (never across runs), per anchor library; the median over rounds with [min-max]; then the teacher epochs; then
the quality at the reference budget (GpuCheck --quality: device against CPU, the check's bound), the correctness checks
(how many pass, each failure in full) and the stage times."""
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
        print()
    quality = {(r["model"], r["side"]): r for r in rows if r.get("workload") == "quality"}
    checks = {r["check"][len("quality_"):]: r for r in rows if str(r.get("check", "")).startswith("quality_")}
    if quality or checks:
        print("## Quality at the reference budget (tab18_test, mean log-likelihood per event in raw units ± SE)\n")
        print("| model | steps × batch | device LL | CPU LL | device − CPU | bound | pass | device train s (steps/s) | CPU train s (steps/s) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for model in sorted({m for m, _ in quality} | set(checks)):
            d, c, k = quality.get((model, "device")), quality.get((model, "cpu")), checks.get(model)
            first = d or c or k
            ll = lambda r: f"{r['test_log_likelihood']:.4f} ± {r['standard_error']:.4f}" if r else "—"
            tm = lambda r: f"{r['train_seconds']:.1f} ({r['steps_per_s']:.3g})" if r else "—"
            num = lambda v, f: format(v, f) if isinstance(v, (int, float)) else str(v)  # non-finite values arrive as strings
            judged = f"{num(k['difference'], '+.3g')} | {num(k['bound'], '.4f')} | {k['pass']}" if k else "— | — | —"
            cpu_threads = f", {c['threads']} threads" if c else ""
            print(f"| {model} | {first['steps']} × {first['batch']} | {ll(d)} | {ll(c)} | {judged} | {tm(d)} | {tm(c)}{cpu_threads} |")
        print("\nbound = 3·√(SE_paired² + 2σ²): SE_paired of the per-event difference, σ the CPU recipe's seed-to-seed spread\n")
    # correctness (GpuCheck --check / --families-only): every check line with a pass field, quality's excepted
    judged = [r for r in rows if "pass" in r and r.get("check") not in (None, "all") and not str(r["check"]).startswith("quality_")]
    if judged:
        failed = [r for r in judged if r["pass"] is not True]
        models = sorted({r.get("model", "?") for r in judged})
        print(f"## Correctness on the device: {len(judged) - len(failed)} of {len(judged)} checks pass ({len(models)} models: {', '.join(models)})\n")
        for r in failed:
            print(f"- FAILED {r.get('model')} {r['check']}: " + ", ".join(f"{k} {v}" for k, v in r.items() if k not in ("model", "check", "pass")))
        if failed:
            print()
    errors = [r for r in rows if "error" in r]
    for r in errors:
        print(f"error: {r}")
    stages = [r for r in rows if "stage" in r]
    if stages:
        print("## Stage times (s; skipped: the call's BUDGET ran out)\n")
        for r in stages:
            print("- " + ", ".join(f"{k} {v}" for k, v in r.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
