"""The ``fastnn`` command: ``fastnn info``, ``fastnn demo``, ``fastnn bench``."""
from __future__ import annotations

import argparse
import platform
import sys


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n % (1 << 20) == 0 else f"{n // 1024} KiB"


def info() -> str:
    import numpy as np

    from . import __version__, _C, backend

    lines = [
        f"fastnn {__version__}",
        f"python {platform.python_version()}, numpy {np.__version__}",
        f"cpu: {_C.cpu_model()}",
        f"cpu path: {_C.cpu_path()}",
        "cpu paths: " + ", ".join(p + (" (usable)" if not why else f" (not usable: {why})")
                                  for p, why in _C.cpu_paths().items()),
        f"vector extensions: {' '.join(_C.cpu_extensions()) or 'none'}",
        "caches: " + ", ".join(f"{k} {_size(v)}" for k, v in _C.cache_sizes().items()),
        f"cpu threads: {_C.get_num_threads()}",
        f"cuda built: {'yes' if backend.cuda_built() else 'no'}",
    ]
    n = backend.cuda_device_count()
    if n:
        names = ", ".join(backend.kernel_module("cuda").device_info(i)["name"] for i in range(n))
        lines.append(f"cuda available: yes ({n} device(s): {names})")
    else:
        reason = "" if backend.cuda_built() and backend._cupy() is not None else \
            " (cupy not installed)" if backend.cuda_built() else ""
        lines.append(f"cuda available: no{reason}")
    return "\n".join(lines)


def _bench_script():
    """bench/run.py of the source checkout this package runs from, or of the current directory."""
    from pathlib import Path

    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        script = root / "bench" / "run.py"
        if script.is_file():
            return script
    return None


def bench(argv) -> int:
    """``fastnn bench [args]``: run bench/run.py (same arguments) from a source checkout."""
    import importlib.util

    script = _bench_script()
    if script is None:
        print("fastnn bench: the benchmarks live in the bench/ folder of fastnn's source repository, which is not "
              "part of the installed package. Run `fastnn bench` (or `python bench/run.py`) from a checkout of "
              "the repository.", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("fastnn_bench_run", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(list(argv))


def demo(epochs=20, seed=0, verbose=1) -> int:
    """``fastnn demo``: train the digits MLP and print test accuracy, confusion matrix and report."""
    import time

    from . import metrics
    from .datasets import digits
    from .train import train_tabular

    try:
        X, y = digits()
    except ImportError as exc:
        print(f"fastnn demo: {exc}", file=sys.stderr)
        return 2
    print(f"fastnn demo: a dense network (64 -> 64 -> 10) on scikit-learn's handwritten digits "
          f"({len(X)} images of 8x8 pixels), 80/20 stratified split, standardised on the training part\n")
    start = time.perf_counter()
    result = train_tabular(X, y, "classification", hidden=(64,), epochs=epochs, lr=2e-3, batch_size=64, seed=seed,
                           verbose=verbose)
    elapsed = time.perf_counter() - start
    print(f"\ntrained {epochs} epochs in {elapsed:.1f}s")
    print(f"test accuracy: {result.scores['accuracy']:.4f} on {len(result.y_test)} held-out images\n")
    print("confusion matrix (rows: true digit, columns: predicted digit):")
    print(result.confusion)
    print()
    print(metrics.classification_report(result.y_test, result.y_pred, digits=3))
    return 0


def demo_text(epochs=10, seed=0, verbose=0) -> int:
    """``fastnn demo text``: the embedding classifier (EmbeddingBag mean of words and their character
    n-grams → Linear) on five categories of Debian's fortunes, 5-fold cross-validated; prints the test
    accuracy beside the majority-class baseline, the confusion matrix and the per-class report."""
    import time

    from .datasets import fortunes
    from .train.text import classify_texts

    try:
        texts, y, names = fortunes()
    except (FileNotFoundError, ImportError) as exc:
        print(f"fastnn demo text: {exc}", file=sys.stderr)
        return 2
    print(f"fastnn demo text: an EmbeddingBag(mean) -> Linear classifier on {len(texts)} quotations of Debian's "
          f"fortunes in {len(names)} categories ({', '.join(names)}); words plus their character 3-5-grams, "
          "stratified 5-fold cross-validation (every quotation predicted once)\n")
    start = time.perf_counter()
    r = classify_texts(texts, y, names, model="embedding", subwords=True, epochs=epochs, weight_decay=0.0, seed=seed,
                       verbose=verbose)
    print(f"trained 5 folds x {epochs} epochs in {time.perf_counter() - start:.1f}s")
    print(f"test accuracy: {r.accuracy:.4f}  (majority-class baseline {r.baseline_accuracy:.4f}, "
          f"chance {1 / len(names):.4f})\n")
    print("confusion matrix (rows: true category, columns: predicted):")
    print(r.confusion)
    print()
    print(r.report())
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command-line tool")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, CPU path, threads, CUDA status")
    demo_parser = sub.add_parser("demo", help="train an MLP on real handwritten digits and show its test results")
    demo_parser.add_argument("name", nargs="?", default="digits", choices=("digits", "text"),
                             help="digits (default): an MLP on handwritten digits; text: an embedding classifier "
                                  "on fortunes quotations")
    demo_parser.add_argument("--epochs", type=int, default=None,
                             help="training epochs (default 20 for digits, 10 per fold for text)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo_parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    sub.add_parser("bench", add_help=False,
                   help="run the microbenchmarks: bench/run.py of a source checkout, same arguments")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        # Everything after `bench`, --help included, belongs to bench/run.py.
        return bench(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    elif args.command == "demo":
        if args.epochs is not None and args.epochs < 1:
            parser.error(f"demo: --epochs must be at least 1, got {args.epochs}")
        if args.name == "text":
            return demo_text(epochs=args.epochs or 10, seed=args.seed)
        return demo(epochs=args.epochs or 20, seed=args.seed, verbose=0 if args.quiet else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
