#!/usr/bin/env python3
"""Turn bench/run.sh's measurements into the results table and check the targets.

Usage: table.py MEASUREMENTS.tsv CORPUS_FILES PEER_FILES BIG_ROWS DAY NIGHTLY_FILES
Each step's time is the median of its runs; memory is the largest peak seen.
"""
import platform
import statistics
import subprocess
import sys
from collections import OrderedDict
from datetime import datetime, timezone


def load(path):
    steps = OrderedDict()
    with open(path) as f:
        for line in f:
            name, seconds, kb, *cpu = line.rstrip("\n").split("\t")
            steps.setdefault(name, []).append((float(seconds), int(kb), float(cpu[0]) if cpu else 0.0))
    return {name: (statistics.median(s for s, _, _ in runs), max(k for _, k, _ in runs), len(runs),
                   statistics.median(c for _, _, c in runs))
            for name, runs in steps.items()}


def main():
    path, corpus_files, peer_files, big_rows, day, nightly_files = sys.argv[1:7]
    corpus_files, peer_files, big_rows = int(corpus_files), int(peer_files), int(big_rows)
    nightly_files = int(nightly_files)
    steps = load(path)
    floor = steps["floor"][0]
    find = steps["find"][0]
    peer = steps["duckdb SQL peer"][0]
    import_time = steps["import"][0]
    rows = []
    for name, (seconds, kb, runs, cpu_seconds) in steps.items():
        if name.startswith("import (for") or name == "parse (one thread)":
            continue
        files = nightly_files if name.startswith("nightly") else peer_files if name == "duckdb SQL peer" else corpus_files
        rate = "" if name.startswith("report") else f"{files / seconds:,.0f}"
        # Ratios to the floor only for work over the whole corpus.
        ratio = "" if name.startswith(("report", "nightly")) else f"{seconds / floor:.2f}"
        rows.append(f"| {name} | {runs} | {seconds:.2f} | {cpu_seconds:.2f} | {rate} | {ratio} | {kb / 1024:.0f} |")
    # `import` runs with the default of one worker thread per core (2 here).
    one, two = steps["import --threads 1"][0], import_time
    peak = steps["import"][1] / 1024
    targets = [
        ("import ≤ 2 × floor", import_time / floor, 2.0, "≤"),
        ("import ≥ 10 × faster than the DuckDB SQL peer (per file)",
         (peer / peer_files) / (import_time / corpus_files), 10.0, "≥"),
        ("import faster than the Python lxml peer (×)", steps["python lxml peer"][0] / import_time, 1.0, "≥"),
        ("no-op import ≤ 1.5 × find", steps["import no-op"][0] / find, 1.5, "≤"),
        ("2 threads ≥ 1.7 × faster than 1", one / two, 1.7, "≥"),
        ("peak memory of the import < 300 MB", peak, 300.0, "<"),
    ]
    for size in ("1M", "10M"):
        if f"nightly import ({size})" in steps and "nightly import (empty)" in steps:
            targets.append((f"nightly into {size} ≤ 1.2 × into an empty archive",
                            steps[f"nightly import ({size})"][0] / steps["nightly import (empty)"][0], 1.2, "≤"))
    storage = steps["storage floor"][0]
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} "
          f"({cpu} cores, {platform.machine()}), warm page cache.")
    print(f"Corpus: {corpus_files:,} files ({peer_files:,} plain .xml read by the peer); "
          f"report daily on {big_rows:,} postbacks for {day}; the nightly import adds "
          f"{nightly_files:,} new files to that archive.\n")
    print("| step | runs | seconds (median) | CPU-s (median) | files/s | × floor | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\n| target | measured | goal | met |")
    print("|---|---:|---:|:---:|")
    for name, value, goal, op in targets:
        met = value <= goal if op == "≤" else value >= goal if op == "≥" else value < goal
        print(f"| {name} | {value:.2f} | {op} {goal:g} | {'yes' if met else 'NO'} |")
    parse = steps["parse (one thread)"][0]
    cores = int(cpu)
    bound = (cores * floor + storage + parse) / cores
    print(f"\nWhere the time goes: reading takes both cores for {floor:.2f} s; DuckDB alone stores the "
          f"rows in {storage:.2f} s on one thread; parsing and normalizing alone take {parse:.2f} s on one "
          f"thread. With perfect overlap on {cpu} cores an import needs at least "
          f"({cores} × {floor:.2f} + {storage:.2f} + {parse:.2f}) / {cores} = {bound:.2f} s ({bound / floor:.2f} × floor); "
          f"this import took {import_time:.2f} s ({import_time / bound:.2f} × that bound).")

if __name__ == "__main__":
    main()
