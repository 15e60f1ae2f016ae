"""DistributedDataParallel, DistributedSampler and fit across ranks.

The multi-process checks run scripts under ``mpiexec -n 2`` (tests/ddp/worker_*.py); they skip when
mpiexec or mpi4py is missing, except under CI=true where that is a failure.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.data import DataLoader, DistributedSampler, SequentialSampler

HERE = os.path.dirname(os.path.abspath(__file__))
IN_CI = os.environ.get("CI", "").lower() == "true"
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))


def _mpiexec():
    exe = shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        if IN_CI:
            pytest.fail("CI=true: mpiexec or mpi4py is missing; pip install fastnn[distributed] brings both")
        pytest.skip("mpiexec or mpi4py is missing (pip install mpi4py mpich)")
    return exe


def run_ranks(script, *args, n=2, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive",
               PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([_mpiexec(), "-n", str(n), sys.executable, os.path.join(HERE, "ddp", script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return proc.stdout


# ---------------------------------------------------------------- one process


@pytest.mark.parametrize("n", [0, 1, 7, 10, 11, 64, 1000])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_matches_torch(torch, n, replicas, drop_last, shuffle):
    """The same indices as PyTorch's DistributedSampler, shuffled orders included (same seed and epoch)."""
    from torch.utils.data.distributed import DistributedSampler as TorchDS
    if n == 0 and not drop_last:
        return
    for r in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=shuffle, seed=n + r,
                                  drop_last=drop_last)
        theirs = TorchDS(range(n), num_replicas=replicas, rank=r, shuffle=shuffle, seed=n + r, drop_last=drop_last)
        for epoch in (0, 3):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size
        assert ours.num_samples == theirs.num_samples


@pytest.mark.parametrize("n,seed", [(2, 0), (5, 2 ** 32 + 3), (100, 12345), (4096, 7)])
def test_randperm_like_torch(torch, n, seed):
    from fastnn.data.distributed import randperm_like_torch
    g = torch.Generator()
    g.manual_seed(seed)
    assert randperm_like_torch(n, seed).tolist() == torch.randperm(n, generator=g).tolist()


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (13, 4, False), (5, 8, False),
                                                  (64, 2, False)])
def test_sampler_shuffle_partitions_one_permutation(n, replicas, drop_last):
    shares = [DistributedSampler(range(n), replicas, r, shuffle=True, seed=3, drop_last=drop_last)
              for r in range(replicas)]
    for s in shares:
        s.set_epoch(2)
    lists = [list(s) for s in shares]
    assert all(len(x) == len(shares[0]) for x in lists)
    interleaved = [lists[r][i] for i in range(len(lists[0])) for r in range(replicas)]
    full = DistributedSampler(range(n), 1, 0, shuffle=True, seed=3)
    full.set_epoch(2)
    perm = list(full)
    assert sorted(perm) == list(range(n))
    if drop_last:
        assert interleaved == perm[:len(interleaved)]
    else:
        assert interleaved[:n] == perm and set(interleaved) == set(range(n))
    # same seed and epoch: same order; another epoch or seed: another order
    assert list(DistributedSampler(range(n), replicas, 0, seed=3)) == list(DistributedSampler(range(n), replicas, 0,
                                                                                              seed=3))
    if n > 8:
        other = DistributedSampler(range(n), 1, 0, seed=3)
        other.set_epoch(3)
        assert list(other) != perm
        assert list(DistributedSampler(range(n), 1, 0, seed=4)) != list(DistributedSampler(range(n), 1, 0, seed=3))


def test_sampler_errors_and_loader():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    s = DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    loader = DataLoader(fastnn.arange(10), batch_size=2, sampler=s)
    assert [b.tolist() for b in loader] == [[1, 3], [5, 7], [9]]
    assert len(loader) == 3
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(fastnn.arange(10), batch_size=2, sampler=s, shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(fastnn.arange(10), batch_sampler=[[0, 1]], sampler=SequentialSampler(range(10)))


# ---------------------------------------------------------------- two processes


def test_ddp_two_ranks_match_one_process():
    out = run_ranks("worker_core.py")
    for name in ("equivalence float64 {}", "equivalence float64 {'gradient_as_bucket_view': True}",
                 "equivalence float32 {}", "equivalence float64 {} allreduce_hook", "fp16_compress_hook",
                 "state_dict and arguments", "no_sync", "buffers",
                 "find_unused_parameters", "unused parameter error", "sparse gradients and mixed dtypes"):
        assert f"ok {name}" in out, out


def _load(out, tag):
    import json
    with open(os.path.join(out, tag + ".json")) as f:
        return json.load(f)


def test_fit_two_ranks_equals_one_rank_with_twice_the_batch_and_resumes(tmp_path):
    """fit(distributed=True): 2 ranks x batch 8 == 1 rank x batch 16 (weights, every logged number);
    rank 0 alone writes the checkpoints and the CSV; a 2-rank checkpoint resumes on 1 rank."""
    out = str(tmp_path)
    log = run_ranks("worker_fit.py", out, "two", n=2)
    assert log.count("Epoch 4/4") == 1               # one progress display
    run_ranks("worker_fit.py", out, "one", n=1)
    two, one = _load(out, "two"), _load(out, "one")
    assert two["ranks_equal"] and two["histories_equal"]
    np.testing.assert_allclose(two["weights"], one["weights"], rtol=0, atol=1e-10)
    for k, v in one["history"].items():
        np.testing.assert_allclose(two["history"][k], v, rtol=1e-12, atol=1e-14)
    assert two["writes"] == [[f"two_{e}.fnn" for e in range(1, 5)], []]
    assert os.path.exists(os.path.join(out, "two.csv"))
    ckpt = fastnn.train.load_checkpoint(os.path.join(out, "two_2.fnn"))
    assert all(not k.startswith("module.") for k in ckpt["model"])
    # on 1 rank with twice the batch (resuming on 2 ranks: the failure test below)
    run_ranks("worker_fit.py", out, "resumed1", "--resume", os.path.join(out, "two_2.fnn"), n=1)
    r = _load(out, "resumed1")
    np.testing.assert_allclose(r["weights"], two["weights"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["history"]["val_loss"], two["history"]["val_loss"], rtol=1e-12)
    assert r["writes"][0] == ["resumed1_3.fnn", "resumed1_4.fnn"]


def test_fit_custom_step_and_stop_decided_on_rank_0(tmp_path):
    out = str(tmp_path)
    run_ranks("worker_fit.py", out, "c2", "--custom", "--prewrap", "--stop-at", "3", n=2)
    run_ranks("worker_fit.py", out, "c1", "--custom", "--stop-at", "3", n=1)
    c2, c1 = _load(out, "c2"), _load(out, "c1")
    assert c2["epochs"] == [0, 1, 2] and c2["ranks_equal"] and c2["histories_equal"]
    np.testing.assert_allclose(c2["weights"], c1["weights"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(c2["history"]["val_loss"], c1["history"]["val_loss"], rtol=1e-12)
    # a model given already wrapped is saved unwrapped
    ckpt = fastnn.train.load_checkpoint(os.path.join(out, "c2_3.fnn"))
    assert list(ckpt["model"]) == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_example_on_two_processes_with_the_launcher(tmp_path):
    from fastnn._image_datasets import FASHION_MNIST_DIR
    if not os.path.exists(os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")):
        if IN_CI:
            pytest.fail("CI=true: Fashion-MNIST is missing (apt-get install dataset-fashion-mnist)")
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    _mpiexec()
    env = dict(os.environ, OMP_WAIT_POLICY="passive", FASTNN_EXAMPLES_OUTPUT=str(tmp_path),
               PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    example = os.path.join(os.path.dirname(HERE), "examples", "70_distributed_fashion_mnist.py")
    proc = subprocess.run([sys.executable, "-m", "fastnn.distributed.run", "-n", "2", example, "--epochs", "1",
                           "--subset", "400"], capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "2 process(es), 1 thread(s) each: 400 training images (200 per process)" in out, out
    assert out.count("Epoch 1/1") == 1 and out.count("test accuracy:") == 1, out
    assert os.path.exists(tmp_path / "70_distributed_best.fnn")


def test_ddp_world_size_one_in_process():
    """One process is a group of one: DDP trains exactly as the bare module (and checks its arguments)."""
    pytest.importorskip("mpi4py")
    import fastnn.distributed as dist
    from fastnn import nn
    from fastnn.nn.parallel import DistributedDataParallel as DDP
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DDP(model)
    dist.init_process_group("gloo")
    try:
        with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
            DDP(nn.Sequential(nn.Linear(2, 2).requires_grad_(False)))
        with pytest.raises(TypeError, match="Module"):
            DDP(lambda x: x)
        with pytest.raises(ValueError, match="bucket_cap_mb"):
            DDP(model, bucket_cap_mb=0)
        ref = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).double()
        ref.load_state_dict(model.state_dict())
        ddp = DDP(model, gradient_as_bucket_view=True)
        assert isinstance(ddp, nn.Module) and ddp.module is model
        x = fastnn.randn(5, 4, dtype=fastnn.float64)
        for _ in range(2):
            ddp(x).pow(2).sum().backward()
            ref(x).pow(2).sum().backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        assert ddp.comm_stats["iterations"] == 2
        sd = ddp.state_dict()
        assert list(sd) == ["module." + k for k in model.state_dict()]
        ddp.load_state_dict(sd)
        with ddp.no_sync():
            ddp(x).sum().backward()
        assert ddp.comm_stats["iterations"] == 2
        # fit across ranks refuses a sampler it cannot split
        from fastnn.data import TensorDataset, WeightedRandomSampler
        ds = TensorDataset(fastnn.randn(8, 4, dtype=fastnn.float64), fastnn.randint(0, 2, (8,)))
        other = nn.Sequential(nn.Linear(4, 2)).double()
        loader = DataLoader(ds, batch_size=4, sampler=WeightedRandomSampler(np.ones(8), 8))
        with pytest.raises(ValueError, match="WeightedRandomSampler"):
            fastnn.train.fit(other, loader, nn.CrossEntropyLoss(), fastnn.optim.SGD(other.parameters(), lr=0.1),
                             verbose=0, distributed=True)
        hist = fastnn.train.fit(other, ds, nn.CrossEntropyLoss(), fastnn.optim.SGD(other.parameters(), lr=0.1),
                                epochs=2, batch_size=4, verbose=0)          # a group of one: plain training
        assert len(hist.history["loss"]) == 2
        # a wrapper that is gone leaves no hook behind: the bare module trains alone again
        import gc
        del ddp
        gc.collect()
        assert not any(p._post_acc_hooks for p in model.parameters())
        from fastnn._autograd_engine import _state
        assert _state.post_hooks == 0
    finally:
        dist.destroy_process_group()


def test_rank_failure_stops_every_rank_and_keeps_the_last_checkpoint(tmp_path):
    """Rank 1 raises in epoch 3: the job ends quickly with rank 1's message and a non-zero status; the
    checkpoint of epoch 2 is intact and resumes."""
    import time
    out = str(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive",
               PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    proc = subprocess.run([_mpiexec(), "-n", "2", sys.executable, os.path.join(HERE, "ddp", "worker_fit.py"), out,
                           "failed", "--fail-at", "3", "--dropout"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode != 0
    assert "simulated failure on rank 1" in proc.stdout + proc.stderr
    assert time.perf_counter() - t < 60
    names = sorted(os.listdir(out))
    assert "failed_2.fnn" in names and "failed_3.fnn" not in names, names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    ck = fastnn.train.load_checkpoint(os.path.join(out, "failed_2.fnn"))
    assert ck["epoch"] == 2
    # resumed with its per-rank dropout streams, it ends where an uninterrupted run ends
    run_ranks("worker_fit.py", out, "after", "--resume", os.path.join(out, "failed_2.fnn"), "--dropout", n=2)
    run_ranks("worker_fit.py", out, "whole", "--dropout", n=2)
    after, whole = _load(out, "after"), _load(out, "whole")
    assert after["ranks_equal"]
    np.testing.assert_allclose(after["weights"], whole["weights"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(after["history"]["loss"], whole["history"]["loss"], rtol=1e-12)


def test_ddp_recovers_from_a_backward_that_raised():
    pytest.importorskip("mpi4py")
    import fastnn.distributed as dist
    from fastnn import nn
    from fastnn.autograd import Function
    from fastnn.nn.parallel import DistributedDataParallel as DDP
    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")

    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ArithmeticError("boom")

    dist.init_process_group("gloo")
    try:
        fastnn.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
        ddp = DDP(model, bucket_cap_mb=0.00001)     # one bucket per parameter: the last layer's start early
        x = fastnn.randn(5, 3)
        with pytest.raises(ArithmeticError):
            ddp(Boom.apply(x.requires_grad_())).sum().backward()
        model.zero_grad()
        ddp(x).sum().backward()
        ref = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
        ref.load_state_dict(model.state_dict())
        ref(x).sum().backward()
        for p, q in zip(model.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    finally:
        dist.destroy_process_group()
