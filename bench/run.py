"""Run every bench/bench_*.py and print one comparison table.

    python bench/run.py [--device cpu|cuda] [--only gemm,conv] [--threads N] [--quick] [--json out.json]

The ratio is reference time / fastnn time: above 1 means fastnn is faster.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fmt_ms(v):
    return "-" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", default="", help="comma-separated families, e.g. gemm,conv")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for fastnn (the references are given the same count)")
    p.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)

    import fastnn
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        family = path.stem[len("bench_"):]
        if only and family not in only:
            continue
        mod = load(path)
        print(f"# {family} ...", file=sys.stderr, flush=True)
        for r in mod.run(args.device, args.quick):
            r["family"] = family
            rows.append(r)

    header = f"fastnn {fastnn.__version__} on {args.device}: {platform.processor() or platform.machine()}, " \
             f"{os.cpu_count()} cpus, {fastnn.get_num_threads()} threads, cpu path {fastnn._C.cpu_path()}"
    print(header)
    cols = ["op", "shape", "fastnn ms", "reference", "ref ms", "ratio", "note"]
    table = []
    for r in rows:
        ratio = "-" if not r.get("ref_ms") else f"{r['ref_ms'] / r['fastnn_ms']:.2f}x"
        table.append([r["op"], r["shape"], fmt_ms(r["fastnn_ms"]), r.get("ref") or "-", fmt_ms(r.get("ref_ms")),
                      ratio, r.get("note", "")])
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *table)] if table else [len(c) for c in cols]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(t, widths)) + " |")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"header": header, "rows": rows}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
