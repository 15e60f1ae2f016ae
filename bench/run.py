"""Run every bench/bench_*.py and print one comparison table, with what it was measured on.

    python bench/run.py [--device cpu|cuda] [--only gemm,conv] [--threads N] [--quick] [--json out.json]

The ratio is reference time / fastnn time: above 1 means fastnn is faster.

Beside the table (and in the --json output, under "meta") go the CPU model and family, the vector
extensions the CPU reports, fastnn's CPU path, and the OpenBLAS kernel that numpy's comparison runs
on (threadpoolctl's threadpool_info(): version, architecture, threads). Each bench script runs in
its own process whose environment lacks OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE: OpenBLAS reads them
when it is loaded, and some machines set them to force an old kernel, which would make the numpy
reference slower than it is. The OpenBLAS kernel recorded is the one those processes saw.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Read by OpenBLAS when it is loaded (at numpy's import): removed from the bench processes' environment.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
OPENBLAS_FIELDS = ("internal_api", "version", "architecture", "num_threads", "filepath")

# Vector-extension flags of /proc/cpuinfo, in the order they are listed (x86 "flags", Arm "Features").
_X86_VECTOR_PREFIXES = ("sse", "ssse", "avx", "amx")
_X86_VECTOR_FLAGS = {"pni": "sse3", "fma": "fma", "fma4": "fma4", "f16c": "f16c", "xop": "xop"}
_ARM_VECTOR_PREFIXES = ("asimd", "sve", "sme")
_ARM_VECTOR_FLAGS = {"neon": "neon", "fphp": "fphp"}


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fmt_ms(v):
    return "-" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def cpu_info(text=None):
    """CPU model, family and vector extensions from /proc/cpuinfo (or ``text``, its contents).

    Returns ``{"model": str | None, "family": str | None, "vector_extensions": [str, ...]}``; the
    fields are None (the list empty) where the file is missing or does not say.
    """
    if text is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if fields:
                break  # the first processor's block is enough
            continue
        fields.setdefault(key.strip().lower(), value.strip())
    model = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or None
    family = fields.get("cpu family") or fields.get("cpu architecture") or None
    extensions = []
    if "flags" in fields:
        for flag in fields["flags"].split():
            name = _X86_VECTOR_FLAGS.get(flag) or (flag if flag.startswith(_X86_VECTOR_PREFIXES) else None)
            if name and name not in extensions:
                extensions.append(name)
    elif "features" in fields:
        for flag in fields["features"].split():
            name = _ARM_VECTOR_FLAGS.get(flag) or (flag if flag.startswith(_ARM_VECTOR_PREFIXES) else None)
            if name and name not in extensions:
                extensions.append(name)
    return {"model": model, "family": family, "vector_extensions": extensions}


def openblas_info():
    """The OpenBLAS libraries loaded in this process, as threadpoolctl reports them: a list of dicts
    with ``OPENBLAS_FIELDS`` (empty when none is loaded), or None when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: lib.get(k) for k in OPENBLAS_FIELDS} for lib in threadpool_info()
            if lib.get("internal_api") == "openblas"]


def _site_folders():
    import site
    folders = list(getattr(site, "getsitepackages", lambda: [])())
    user = getattr(site, "getusersitepackages", lambda: None)()
    return {str(Path(f).resolve()) for f in folders + ([user] if user else [])}


def bench_env(environ=None):
    """The environment of a bench process: ``environ`` (default ``os.environ``) without
    ``OPENBLAS_ENV``. When the fastnn in use is not an installed package (a source tree built with
    tools/dev_build.sh), its folder goes first on PYTHONPATH, so the process times the fastnn that
    this one reports."""
    import fastnn

    env = dict(os.environ if environ is None else environ)
    for name in OPENBLAS_ENV:
        env.pop(name, None)
    parent = str(Path(fastnn.__file__).resolve().parent.parent)
    if parent not in _site_folders():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (parent, env.get("PYTHONPATH")) if p)
    return env


def _run_worker(extra, quiet=False):
    """Run this script as a worker process (``--worker ...``) in ``bench_env()``; returns its JSON."""
    with tempfile.TemporaryDirectory(prefix="fastnn-bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, str(Path(__file__).resolve()), *extra, "--worker-out", out]
        proc = subprocess.run(cmd, env=bench_env(), stdout=subprocess.PIPE if quiet else None)
        if proc.returncode != 0:
            raise RuntimeError(f"bench/run.py: {' '.join(extra)} failed in its own process (exit status "
                               f"{proc.returncode}); its error is printed above")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def probe():
    """What a bench process sees, without running a benchmark: its OpenBLAS libraries, the values
    of ``OPENBLAS_ENV`` in its environment (None: unset), and the fastnn it imports and its CPU path."""
    return _run_worker(["--worker", "-"], quiet=True)


def run_family(path, device="cpu", quick=False, threads=None):
    """Run ``path``'s ``run(device, quick)`` in a bench process; returns ``(rows, worker_report)``."""
    extra = ["--worker", str(path), "--device", device]
    if quick:
        extra.append("--quick")
    if threads is not None:
        extra += ["--threads", str(threads)]
    result = _run_worker(extra)
    return result.pop("rows"), result


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def worker(script, device, quick, threads, out):
    """Body of a bench process: run one bench script (``-``: none), report rows and what it saw."""
    import fastnn

    if threads is not None:
        fastnn.set_num_threads(threads)
    rows = [] if script == "-" else load(Path(script)).run(device, quick)
    result = {"rows": rows, "openblas": openblas_info(), "env": {k: os.environ.get(k) for k in OPENBLAS_ENV},
              "cpu_path": fastnn._C.cpu_path(), "threads": fastnn.get_num_threads(),
              "fastnn_file": str(Path(fastnn.__file__).resolve())}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, default=_json_default)
    return 0


def metadata(device="cpu", openblas=None, threads=None):
    """What a table was measured on (the "meta" of --json): CPU, fastnn's CPU path and threads,
    versions, and ``openblas`` (as reported by a bench process: ``openblas_info()``'s result)."""
    import numpy as np

    import fastnn

    cpu = cpu_info()
    return {
        "fastnn_version": fastnn.__version__,
        "device": device,
        "cpu_model": cpu["model"] or platform.processor() or platform.machine(),
        "cpu_family": cpu["family"],
        "vector_extensions": cpu["vector_extensions"],
        "cpu_path": fastnn._C.cpu_path(),
        "cpus": os.cpu_count(),
        "threads": fastnn.get_num_threads() if threads is None else threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openblas": openblas,
        "openblas_env_removed": {k: os.environ[k] for k in OPENBLAS_ENV if k in os.environ},
    }


def describe_openblas(openblas):
    """One line about the OpenBLAS kernel(s) of ``metadata()['openblas']``."""
    if openblas is None:
        return "OpenBLAS kernel: unknown (threadpoolctl is not installed: pip install threadpoolctl)"
    if not openblas:
        return "OpenBLAS kernel: no OpenBLAS library loaded (numpy uses another BLAS)"
    return "; ".join(f"OpenBLAS {lib['version']}: kernel {lib['architecture']}, {lib['num_threads']} threads "
                     f"({os.path.basename(lib['filepath'] or '?')})" for lib in openblas)


def describe(meta):
    """The lines printed above the table."""
    family = f" (family {meta['cpu_family']})" if meta["cpu_family"] else ""
    removed = meta["openblas_env_removed"]
    env_note = (", ".join(f"{k}={v}" for k, v in removed.items()) + " removed for the benchmark processes"
                if removed else f"{' and '.join(OPENBLAS_ENV)} unset in the benchmark processes")
    return [
        f"fastnn {meta['fastnn_version']} on {meta['device']}: {meta['cpu_model']}{family}, {meta['cpus']} cpus, "
        f"{meta['threads']} threads, cpu path {meta['cpu_path']}",
        "vector extensions: " + (" ".join(meta["vector_extensions"]) or "unknown"),
        f"{describe_openblas(meta['openblas'])}; {env_note}",
    ]


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", default="", help="comma-separated families, e.g. gemm,conv")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for fastnn (the references are given the same count)")
    p.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    p.add_argument("--json", default=None, help="also write the rows and the metadata to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker, args.device, args.quick, args.threads, args.worker_out)

    import fastnn
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    scripts = {path.stem[len("bench_"):]: path for path in sorted(HERE.glob("bench_*.py"))}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sorted(only - set(scripts))
    if unknown:
        p.error(f"--only: unknown famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} "
                f"(known: {', '.join(scripts)})")
    rows, reports = [], {}
    for family, path in scripts.items():
        if only and family not in only:
            continue
        print(f"# {family} ...", file=sys.stderr, flush=True)
        family_rows, reports[family] = run_family(path, args.device, args.quick, args.threads)
        for r in family_rows:
            r["family"] = family
            rows.append(r)
    seen = reports[next(iter(reports))] if reports else probe()
    meta = metadata(args.device, seen["openblas"], threads=seen["threads"])
    differing = {f: r["openblas"] for f, r in reports.items() if r["openblas"] != seen["openblas"]}
    if differing:  # not expected: every bench process loads the same numpy
        meta["openblas_by_family"] = {f: r["openblas"] for f, r in reports.items()}

    lines = describe(meta)
    header = lines[0]
    print("\n".join(lines))
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
        from fastnn._atomic import atomic_open
        with atomic_open(args.json, "w", encoding="utf-8") as f:
            json.dump({"header": header, "meta": meta, "rows": rows}, f, indent=1, default=_json_default)
    return 0


if __name__ == "__main__":
    sys.exit(main())
