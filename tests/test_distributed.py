"""fastnn.distributed: collectives, SyncBatchNorm, faults and the launcher on real MPI processes, plus the
world-size-1 group in this process and the NCCL path against a fake NCCL module.

Multi-process checks start ``python -m fastnn.distributed.run -n 2 <script>`` (or ``mpiexec`` directly);
the scripts assert against numpy on every rank. They need mpi4py and an mpiexec: skipped without them,
failed under CI=true (README's test command installs them).
"""
import ctypes
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import numpy as np
import pytest

import fastnn
from fastnn import backend, nn

pytest.importorskip("mpi4py")
import fastnn.distributed as dist  # noqa: E402
from fastnn.distributed import _comm, _mpi, run as launcher  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "distributed_scripts")
# The folder holding the fastnn these tests import (the source tree or site-packages), for the ranks.
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
MPIEXEC = _mpi.find_mpiexec()
if MPIEXEC is None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true: no mpiexec found; README's test command installs mpich", pytrace=False)
    pytest.skip("no mpiexec (pip install fastnn[distributed])", allow_module_level=True)


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "MPI_LOCAL", "HYDRA_")) and k not in ("RANK", "WORLD_SIZE",
                                                                                         "LOCAL_RANK")}
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def reports(folder):
    """What each rank wrote to REPORT_DIR/<rank> (mpiexec forwards the ranks' stdout in chunks that can
    interleave mid-line, so the checks read files instead)."""
    return {int(p.name): p.read_text() for p in folder.iterdir() if p.name.isdigit()}


def launch(args, timeout=60, **env):
    """Run the launcher with ``args``; returns (returncode, stdout, stderr, seconds)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "fastnn.distributed.run"] + list(args), capture_output=True,
                       text=True, timeout=timeout, env=_env(**env))
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


@pytest.fixture(autouse=True)
def _no_group_left():
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


# ------------------------------------------------------------------------------------------ several processes
def test_collectives_on_two_ranks_match_numpy(tmp_path):
    rc, out, err, _ = launch(["-n", "2", os.path.join(SCRIPTS, "collectives.py"), "--flag", "value"], EXPECT_OMP=str(
        max(1, (os.cpu_count() or 1) // 2)), REPORT_DIR=str(tmp_path))
    assert rc == 0, err[-3000:]
    assert reports(tmp_path) == {0: "ALL OK", 1: "ALL OK"}, out


THREE = """
import os, numpy as np, fastnn, fastnn.distributed as dist
dist.init_process_group("gloo")
r, n = dist.get_rank(), dist.get_world_size()
assert n == 3
t = fastnn.full((4,), float(r))
dist.all_reduce(t, op=dist.ReduceOp.AVG)
assert np.array_equal(t.numpy(), np.full(4, 1.0))
out = [fastnn.zeros(2, dtype=fastnn.int64) for _ in range(n)]
dist.all_gather(out, fastnn.full((2,), r, dtype=fastnn.int64))
assert [int(o.numpy()[0]) for o in out] == [0, 1, 2]
b = fastnn.full((3,), float(r))
dist.broadcast(b, src=2)
assert np.array_equal(b.numpy(), np.full(3, 2.0))
sub = dist.new_group([0, 2])  # rank 1 is not a member
if r == 1:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1 and dist.get_world_size(sub) == -1
    assert dist.all_reduce(fastnn.ones(2), group=sub) is None  # not a member: nothing happens, as in PyTorch
else:
    x = fastnn.full((2,), float(r))
    dist.all_reduce(x, group=sub)
    assert np.array_equal(x.numpy(), [2.0, 2.0]) and dist.get_rank(sub) == r // 2
    y = fastnn.full((2,), float(r))
    dist.broadcast(y, src=2, group=sub)  # src is a rank of the default group
    assert np.array_equal(y.numpy(), [2.0, 2.0])
dist.barrier()
open(f"{os.environ['REPORT_DIR']}/{r}", "w").write("THREE OK")
"""


def test_three_ranks_with_a_subgroup(tmp_path):
    script = tmp_path / "three.py"
    script.write_text(THREE)
    rc, out, err, _ = launch(["--nproc_per_node=3", "--standalone", str(script)], REPORT_DIR=str(tmp_path))
    assert rc == 0, err[-3000:]
    assert reports(tmp_path) == {0: "THREE OK", 1: "THREE OK", 2: "THREE OK"}, out


def test_sync_batchnorm_two_ranks_equals_batchnorm_on_whole_batch(tmp_path):
    rc, out, err, _ = launch(["--nproc-per-node", "2", os.path.join(SCRIPTS, "sync_batchnorm.py")],
                             REPORT_DIR=str(tmp_path))
    assert rc == 0, err[-3000:]
    assert reports(tmp_path) == {0: "SYNCBN OK", 1: "SYNCBN OK"}, out


def test_mpiexec_directly(tmp_path):
    script = tmp_path / "direct.py"
    script.write_text(textwrap.dedent("""
        import os, fastnn, fastnn.distributed as dist
        assert "RANK" not in os.environ  # no launcher: rank and size come from MPI
        dist.init_process_group()
        t = fastnn.full((3,), float(dist.get_rank() + 1))
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        open(os.path.join(os.environ["REPORT_DIR"], str(dist.get_rank())), "w").write(
            f"{dist.get_world_size()} {float(t.numpy()[0])}")
    """))
    out = tmp_path / "reports"
    out.mkdir()
    p = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], capture_output=True, text=True,
                       timeout=60, env=_env(REPORT_DIR=str(out)))
    assert p.returncode == 0, p.stderr[-3000:]
    assert reports(out) == {0: "2 2.0", 1: "2 2.0"}


FAULT = """
import sys, time
from datetime import timedelta
import fastnn, fastnn.distributed as dist
dist.init_process_group("gloo", timeout=timedelta(seconds=float(sys.argv[2])))
if dist.get_rank() == 1:
    if sys.argv[1] == "raise":
        raise ValueError("rank one broke on purpose")
    if sys.argv[1] == "hang":
        time.sleep(60)
    if sys.argv[1] == "exit":
        sys.exit(3)
t = fastnn.ones(4)
dist.all_reduce(t)
print("rank", dist.get_rank(), "finished", flush=True)
"""


@pytest.fixture
def fault_script(tmp_path):
    p = tmp_path / "fault.py"
    p.write_text(FAULT)
    return str(p)


def test_rank_that_raises_stops_every_rank(fault_script):
    # rank 0 waits in all_reduce with a long timeout: the abort from rank 1 must end it at once
    rc, out, err, secs = launch(["-n", "2", fault_script, "raise", "120"])
    assert rc != 0
    assert "rank 1 failed: ValueError: rank one broke on purpose" in err, err[-3000:]
    assert "finished" not in out
    assert secs < 30


def test_collective_timeout_names_the_missing_rank(fault_script):
    rc, out, err, secs = launch(["-n", "2", fault_script, "hang", "1"])
    assert rc != 0
    assert "all_reduce: timed out after" in err, err[-3000:]
    assert "these ranks did not join it: rank 1" in err
    assert "rank 0 failed: DistBackendError" in err
    assert secs < 30


def test_failed_exit_status_stops_the_job_with_that_status(fault_script):
    rc, out, err, secs = launch(["-n", "2", fault_script, "exit", "120"])
    assert rc == 3, err[-3000:]
    assert "rank 1 exited with status 3" in err
    assert secs < 30


def test_launcher_module_flag_and_no_python(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text("import os, sys\nopen(os.path.join(os.environ['REPORT_DIR'], os.environ['RANK']), "
                                  "'w').write(f\"{os.environ['WORLD_SIZE']} {sys.argv[1:]}\")\n")
    out = tmp_path / "reports"
    out.mkdir()
    rc, _, err, _ = launch(["-n", "2", "-m", "mypkg.train", "x"], PYTHONPATH=str(tmp_path) + os.pathsep + PYTHON_DIR,
                           REPORT_DIR=str(out))
    assert rc == 0, err
    assert reports(out) == {0: "2 ['x']", 1: "2 ['x']"}
    rc, _, err, _ = launch(["-n", "2", "--no-python", "sh", "-c", 'echo local=$LOCAL_RANK > "$REPORT_DIR/$RANK"'],
                           REPORT_DIR=str(out))
    assert rc == 0, err
    assert reports(out) == {0: "local=0\n", 1: "local=1\n"}


def test_older_launch_module_passes_local_rank(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import os, sys\nopen(os.path.join(os.environ['REPORT_DIR'], os.environ['RANK']), 'w')"
                      ".write(str(sys.argv[1:]))\n")
    p = subprocess.run([sys.executable, "-m", "fastnn.distributed.launch", "--nproc_per_node=2", str(script), "--use-env",
                        "a"], capture_output=True, text=True, timeout=60, env=_env(REPORT_DIR=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    assert reports(tmp_path) == {0: "['--use-env', 'a', '--local-rank=0']", 1: "['--use-env', 'a', '--local-rank=1']"}


# ------------------------------------------------------------------------------------------ the launcher's arguments
@pytest.mark.parametrize("args", [["-n", "2"], ["--nproc-per-node", "2"], ["--nproc_per_node=2"],
                                  ["--nproc-per-node=2", "--standalone"], ["--np", "2"]])
def test_launcher_command_line(args, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    cmd, env = launcher.command(args + ["train.py", "--lr", "0.1"])
    assert cmd[:3] == [MPIEXEC, "-n", "2"]
    assert cmd[-3:] == ["train.py", "--lr", "0.1"]
    assert env["WORLD_SIZE"] == "2" and env["LOCAL_WORLD_SIZE"] == "2"
    assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"] == "29500"
    assert env["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))


def test_launcher_keeps_omp_threads_and_reports_bad_arguments(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    _, env = launcher.command(["-n", "4", "--master-port", "1234", "t.py"])
    assert env["OMP_NUM_THREADS"] == "7" and env["MASTER_PORT"] == "1234"
    with pytest.raises(SystemExit, match="must be at least 1"):
        launcher.command(["-n", "0", "t.py"])
    with pytest.raises(SystemExit, match="must be an int"):
        launcher.command(["-n", "two", "t.py"])
    with pytest.raises(SystemExit, match="mpirun with a hostfile"):
        launcher.command(["--nnodes", "2", "-n", "2", "t.py"])
    monkeypatch.setattr(_mpi, "find_mpiexec", lambda: None)
    with pytest.raises(SystemExit, match=r"no mpiexec found.*pip install fastnn\[distributed\]"):
        launcher.command(["-n", "2", "t.py"])


def test_launcher_with_open_mpi(tmp_path, monkeypatch):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho 'mpiexec (Open MPI) 5.0.5'\n")
    fake.chmod(0o755)
    monkeypatch.delenv("OMPI_ALLOW_RUN_AS_ROOT", raising=False)
    cmd, env = launcher.command(["--mpiexec", str(fake), "-n", "2", "t.py"])
    assert cmd[:4] == [str(fake), "-n", "2", "--oversubscribe"]
    assert env["OMPI_ALLOW_RUN_AS_ROOT"] == "1" and env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1"
    cmd, env = launcher.command(["-n", "2", "t.py"])  # MPICH's hydra: nothing added
    assert "--oversubscribe" not in cmd and "OMPI_ALLOW_RUN_AS_ROOT" not in env


# ------------------------------------------------------------------------------------------ one process
def test_world_size_one_without_launcher():
    assert dist.is_available() and not dist.is_initialized()
    dist.init_process_group("gloo", timeout=timedelta(seconds=30))
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_backend() == "gloo" and dist.group.WORLD is dist.GroupMember.WORLD is not None
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64, np.int64):
        a = rng.standard_normal((3, 4)).astype(dtype) if dtype != np.int64 else rng.integers(-9, 9, (3, 4))
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT):
            if op == dist.ReduceOp.AVG and dtype == np.int64:
                continue
            t = fastnn.from_numpy(a.copy())
            dist.all_reduce(t, op=op)
            np.testing.assert_array_equal(t.numpy(), a)
    t = fastnn.ones(5)
    w = dist.all_reduce(t, async_op=True)
    assert w.wait() and w.is_completed() and w.result()[0] is t
    fut = dist.all_reduce(t, async_op=True).get_future().then(lambda f: f.value()[0] * 2)
    np.testing.assert_array_equal(fut.wait().numpy(), np.full(5, 2.0))
    ready = dist.Future()
    assert not ready.done()
    ready.set_result(t)
    assert ready.done() and ready.then(lambda f: f.value() + 1).done() and ready.wait() is t
    dist.broadcast(t, src=0)
    out = [fastnn.zeros(5)]
    dist.all_gather(out, fastnn.arange(5, dtype=fastnn.float32))
    np.testing.assert_array_equal(out[0].numpy(), np.arange(5))
    cat = fastnn.zeros(5)
    dist.all_gather_into_tensor(cat, fastnn.arange(5, dtype=fastnn.float32))
    np.testing.assert_array_equal(cat.numpy(), np.arange(5))
    red = fastnn.zeros(2)
    dist.reduce_scatter(red, [fastnn.full((2,), 4.0)])
    np.testing.assert_array_equal(red.numpy(), [4, 4])
    dist.reduce_scatter_tensor(red, fastnn.full((2,), 5.0), op=dist.ReduceOp.AVG)
    np.testing.assert_array_equal(red.numpy(), [5, 5])
    gl = [fastnn.zeros(5)]
    dist.gather(t, gather_list=gl, dst=0)
    np.testing.assert_array_equal(gl[0].numpy(), np.ones(5))
    got = fastnn.zeros(5)
    dist.scatter(got, scatter_list=[fastnn.full((5,), 2.0)], src=0)
    np.testing.assert_array_equal(got.numpy(), np.full(5, 2.0))
    objs = [None]
    dist.all_gather_object(objs, {"a": [1, 2]})
    assert objs == [{"a": [1, 2]}]
    lst = ["keep", 3]
    dist.broadcast_object_list(lst, src=0)
    assert lst == ["keep", 3]
    dist.barrier()
    assert dist.barrier(async_op=True).wait()
    sub = dist.new_group([0])
    assert dist.get_world_size(sub) == 1 and dist.get_rank(sub) == 0
    # array-level entry point used by DistributedDataParallel's buckets
    arr = np.arange(6.0)
    assert _comm.allreduce_array(arr, dist.ReduceOp.SUM) is arr
    w = _comm.allreduce_array(arr, dist.ReduceOp.AVG, async_=True)
    assert w.wait() and np.array_equal(arr, np.arange(6.0))
    dist.destroy_process_group()
    assert not dist.is_initialized() and dist.group.WORLD is None
    dist.init_process_group()  # again, with the default backend
    assert dist.get_backend() in ("gloo", "cpu:gloo,cuda:nccl")


def test_errors_before_init_and_bad_arguments():
    for call in (lambda: dist.all_reduce(fastnn.ones(2)), dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.new_group([0])):
        with pytest.raises(ValueError, match="Default process group has not been initialized, please make sure "
                                             "to call init_process_group."):
            call()
        with pytest.raises(RuntimeError, match="has not been initialized"):
            call()
    with pytest.raises(ValueError, match="Invalid backend: 'foo'"):
        dist.init_process_group("foo")
    with pytest.raises(TypeError, match="'timeout' must be a datetime.timedelta"):
        dist.init_process_group("gloo", timeout=5)
    with pytest.raises(ValueError, match=r"argument 'world_size' is 2 but MPI started 1 process.*fastnn\.distributed"
                                         r"\.run -n 2"):
        dist.init_process_group("gloo", world_size=2, rank=0)
    with pytest.raises(ValueError, match="argument 'rank' is 1 but MPI gave this process rank 0"):
        dist.init_process_group("gloo", rank=1)
    assert not dist.is_initialized()
    dist.init_process_group("gloo", world_size=1, rank=0)
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("gloo")
    with pytest.raises(TypeError, match="argument 'tensor' must be a Tensor"):
        dist.all_reduce(np.ones(3))
    with pytest.raises(TypeError, match="argument 'op'"):
        dist.all_reduce(fastnn.ones(3), op=object())
    with pytest.raises(TypeError, match="BAND needs an integer tensor"):
        dist.all_reduce(fastnn.ones(3), op=dist.ReduceOp.BAND)
    with pytest.raises(ValueError, match="'src'=3 is not a rank of the group"):
        dist.broadcast(fastnn.ones(3), src=3)
    with pytest.raises(ValueError, match="one tensor per rank of the group \\(1\\), got 2"):
        dist.all_gather([fastnn.ones(3), fastnn.ones(3)], fastnn.ones(3))
    with pytest.raises(ValueError, match=r"tensor_list\[0\] has shape \(2,\)"):
        dist.all_gather([fastnn.ones(2)], fastnn.ones(3))
    with pytest.raises(ValueError, match="world_size \\(1\\) times the elements"):
        dist.all_gather_into_tensor(fastnn.ones(4), fastnn.ones(3))
    with pytest.raises(ValueError, match="``gather_list`` must be specified on destination rank"):
        dist.gather(fastnn.ones(2), dst=0)
    with pytest.raises(ValueError, match="``scatter_list`` must be specified on source rank"):
        dist.scatter(fastnn.ones(2), src=0)


def test_env_rank_must_agree_with_mpi(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(ValueError, match="environment variable WORLD_SIZE is 4 but MPI started 1"):
        dist.init_process_group("gloo")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="environment variable RANK is 2"):
        dist.init_process_group("gloo")
    monkeypatch.setenv("RANK", "0")
    dist.init_process_group("mpi", init_method="env://")
    assert dist.get_backend() == "mpi"


def test_missing_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    _mpi._load.cache_clear()
    try:
        assert not dist.is_available()
        with pytest.raises(ImportError, match=r"pip install fastnn\[distributed\]"):
            dist.init_process_group("gloo")
    finally:
        monkeypatch.undo()
        _mpi._load.cache_clear()
    assert dist.is_available()


def test_sync_batchnorm_without_group_is_batchnorm():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4, 4))
    for initialised in (False, True):
        if initialised:
            dist.init_process_group("gloo")
        bn = nn.BatchNorm2d(3, dtype=fastnn.float64)
        sbn = nn.SyncBatchNorm(3, dtype=fastnn.float64)
        xa = fastnn.from_numpy(x.copy()).requires_grad_()
        xb = fastnn.from_numpy(x.copy()).requires_grad_()
        (bn(xa) ** 2).sum().backward()
        (sbn(xb) ** 2).sum().backward()
        np.testing.assert_allclose(xb.grad.numpy(), xa.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(sbn.weight.grad.numpy(), bn.weight.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(sbn.running_var.numpy(), bn.running_var.numpy(), atol=1e-14)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sbn(fastnn.ones(3))


def test_convert_sync_batchnorm_shares_parameters(torch):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2),
                          nn.BatchNorm1d(2), nn.InstanceNorm2d(4) if hasattr(nn, "InstanceNorm2d") else nn.ReLU())
    bn = model[1]
    bn.running_mean._data[...] = 0.5
    model.eval()
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert conv is model
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[5], nn.SyncBatchNorm)
    assert not isinstance(model[6], nn.SyncBatchNorm)  # instance norm is not batch norm
    assert model[1].weight is bn.weight and model[1].running_mean is bn.running_mean and not model[1].training
    ref = torch.nn.SyncBatchNorm(4)
    assert sorted(model[1].state_dict()) == sorted(ref.state_dict())


# ------------------------------------------------------------------------------------------ NCCL, faked
class FakeNccl:
    """cupy.cuda.nccl's interface over host memory for one rank: records each call."""
    NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_INT64, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 0, 1, 2, 4, 6, 7, 8
    NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
    SIZES = {0: 1, 1: 1, 2: 4, 4: 8, 6: 2, 7: 4, 8: 8}
    available = True

    def __init__(self):
        self.calls = []
        fake = self

        class NcclCommunicator:
            def __init__(self, n, uid, rank):
                assert (n, rank) == (1, 0) and uid == "uid"
                fake.calls.append(("init", n, rank))

            def allReduce(self, send, recv, count, dtype, op, stream):
                fake.calls.append(("allReduce", send, recv, count, dtype, op))

            def bcast(self, buf, count, dtype, root, stream):
                fake.calls.append(("bcast", buf, count, dtype, root))

            def allGather(self, send, recv, count, dtype, stream):
                ctypes.memmove(recv, send, count * FakeNccl.SIZES[dtype])
                fake.calls.append(("allGather", count, dtype))

            def reduceScatter(self, send, recv, count, dtype, op, stream):
                ctypes.memmove(recv, send, count * FakeNccl.SIZES[dtype])
                fake.calls.append(("reduceScatter", count, dtype, op))

            def destroy(self):
                fake.calls.append(("destroy",))

        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return "uid"


class _DoneEvent:
    done = True


@pytest.fixture
def fake_nccl(monkeypatch):
    nccl = FakeNccl()
    monkeypatch.setattr(backend, "nccl_unavailable_reason", lambda: None)
    monkeypatch.setattr(backend, "nccl_module", lambda: nccl)
    monkeypatch.setattr(backend, "cuda_record_event", lambda: _DoneEvent())
    return nccl


def test_nccl_backend_selection_without_nccl():
    if backend.nccl_unavailable_reason() is None:
        pytest.skip("NCCL is available here")
    with pytest.raises(RuntimeError, match="backend 'nccl' needs NCCL, which is not available here"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="CUDA tensors go through 'nccl'"):
        dist.init_process_group("cpu:gloo,cuda:gloo")
    dist.init_process_group(None)
    assert dist.get_backend() == "gloo"  # no GPU: NCCL is left out


def test_nccl_collectives_reduce_device_buffers_in_place(fake_nccl, monkeypatch, request):
    import importlib.util
    spec = importlib.util.spec_from_file_location("cupy", os.path.join(HERE, "cuda_emu", "fake_cupy", "cupy",
                                                                       "__init__.py"))
    cupy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cupy)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setattr(backend, "cuda_built", lambda: True)
    monkeypatch.setattr(backend, "cuda_device_count", lambda: 1)
    backend._cupy.cache_clear()
    request.addfinalizer(backend._cupy.cache_clear)
    dist.init_process_group("nccl", device_id=0)
    assert dist.get_backend() == "nccl"
    t = fastnn.arange(6, dtype=fastnn.float32).to("cuda")
    ptr = backend.data_ptr(t._data)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)  # one rank: the average is the value
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(6))
    assert fake_nccl.calls[0] == ("init", 1, 0)
    assert fake_nccl.calls[1] == ("allReduce", ptr, ptr, 6, FakeNccl.NCCL_FLOAT32, FakeNccl.NCCL_SUM)
    w = dist.all_reduce(fastnn.ones(3, dtype=fastnn.float64).to("cuda"), op=dist.ReduceOp.MAX, async_op=True)
    assert w.wait() and w.is_completed()
    assert fake_nccl.calls[-1][3:] == (3, FakeNccl.NCCL_FLOAT64, FakeNccl.NCCL_MAX)
    dist.broadcast(t, src=0)
    assert fake_nccl.calls[-1] == ("bcast", ptr, 6, FakeNccl.NCCL_FLOAT32, 0)
    out = [fastnn.zeros(6).to("cuda")]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0].cpu().numpy(), np.arange(6))
    with pytest.raises(ValueError, match="BAND is not supported on CUDA tensors"):
        dist.all_reduce(fastnn.ones(2, dtype=fastnn.int64).to("cuda"), op=dist.ReduceOp.BAND)
    # CPU tensors of an NCCL group go through MPI
    c = fastnn.ones(2)
    dist.all_reduce(c)
    np.testing.assert_array_equal(c.numpy(), [1, 1])
    dist.destroy_process_group()
    assert fake_nccl.calls[-1] == ("destroy",)
    # a gloo group refuses CUDA tensors with the reason
    dist.init_process_group("gloo")
    with pytest.raises(RuntimeError, match="CUDA tensors need a process group with the 'nccl' backend"):
        dist.all_reduce(fastnn.ones(2).to("cuda"))


def test_fastnn_info_reports_mpi_and_nccl():
    from fastnn import cli
    line = next(l for l in cli.info().splitlines() if l.startswith("distributed: "))
    assert "mpi4py " in line and f"mpiexec: {MPIEXEC}" in line and "nccl: " in line
