"""The GPU benchmark scripts run end to end (on tiny shapes here; bench/gpu_check.sh takes the figures):
every row is produced, with a positive time for fastnn and, where the reference library is on the
GPU machine, for the reference."""
import math
import pathlib
import sys

import pytest

import fastnn

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not fastnn.cuda.is_available(), reason="needs a CUDA GPU and cupy")]

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_cuda
    import bench_train
    return bench_cuda, bench_train


def _check_rows(rows, want_ops):
    ops = [r["op"] for r in rows]
    for op in want_ops:
        assert op in ops, f"no row {op!r} in {ops}"
    for r in rows:
        assert math.isfinite(r["fastnn_ms"]) and r["fastnn_ms"] > 0, r
        if r["ref_ms"] is not None:
            assert math.isfinite(r["ref_ms"]) and r["ref_ms"] > 0 and r["ref"], r


def test_bench_cuda_kernel_rows(bench_modules, monkeypatch):
    bench_cuda, _ = bench_modules
    monkeypatch.setattr(bench_cuda, "GEMM_SIZES_QUICK", (64, 130))
    monkeypatch.setattr(bench_cuda, "DGEMM_N", 48)
    monkeypatch.setattr(bench_cuda, "CONVS", [(2, 3, 9, 8, 4), (1, 4, 5, 5, 2)])
    monkeypatch.setattr(bench_cuda, "POOL_INPUT", (2, 3, 12, 11))
    monkeypatch.setattr(bench_cuda, "UPSAMPLE_INPUT", (2, 3, 5, 6))
    monkeypatch.setattr(bench_cuda, "OPTIM_SHAPES", [(4, 3, 3, 3), (5,)])
    rows = bench_cuda.run("cuda", quick=True)
    _check_rows(rows, ["sgemm fp32", "sgemm tf32", "dgemm fp64", "conv2d fwd fp32", "conv2d dgrad fp32",
                       "conv2d wgrad fp32", "conv2d fwd+bwd fp32", "max_pool2d 3x3/2 fwd", "max_pool2d 3x3/2 bwd",
                       "avg_pool2d 2x2/2 fwd", "upsample bilinear x2 fwd"])
    assert sum(r["op"] == "sgemm fp32" for r in rows) == 2
    assert all(r["ref_ms"] for r in rows if r["op"] in ("sgemm fp32", "dgemm fp64")), "cupy's cuBLAS is the reference"


def test_bench_train_rows_on_cuda(bench_modules, monkeypatch):
    _, bench_train = bench_modules
    monkeypatch.setattr(bench_train, "CASES", [c._replace(batch=8) for c in bench_train.CASES])
    rows = bench_train.run("cuda", quick=True)
    _check_rows(rows, [c.name for c in bench_train.CASES])
    for r in rows[:len(bench_train.CASES)]:
        assert "samples/s" in r["note"], r


def test_bench_rnn_and_embedding_rows_on_cuda(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_embedding
    import bench_rnn
    monkeypatch.setattr(bench_rnn, "BATCH", 4)
    monkeypatch.setattr(bench_rnn, "STEPS", 3)
    rows = bench_rnn.run("cuda", quick=True)
    _check_rows(rows, ["LSTM Adam training step", "LSTM inference forward", "GRU Adam training step",
                       "GRU inference forward"])
    rows = bench_embedding.run("cuda", quick=True)
    _check_rows(rows, ["Embedding 4096 ids fwd+bwd dense", "Embedding 4096 ids fwd+bwd sparse",
                       "EmbeddingBag sum 512x20 fwd+bwd dense", "SparseAdam step, sparse grad 4096 ids"])
