"""fastnn._atomic: one atomic-write helper for every writer, and the clean-up of the temporary files
that writers killed outright (kill -9) leave behind."""
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import _atomic

pytestmark = pytest.mark.skipif(os.name == "nt", reason="stale temporaries are found through POSIX process ids")

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
BIG = 8 * 1024 * 1024  # float32 elements: a 32 MiB tensor

# The child saves a large checkpoint over ``path`` and is stopped for good (SIGKILL) in the middle of
# the save: the big tensor is fully written to the temporary file, the rest of the archive is not.
# The pause after the first array makes the moment of the kill deterministic; everything else is
# the real fastnn.save.
CHILD = textwrap.dedent("""
    import sys, time, zipfile
    import numpy as np
    import fastnn

    real_writestr = zipfile.ZipFile.writestr

    def writestr(self, name, data, *args, **kwargs):
        real_writestr(self, name, data, *args, **kwargs)
        if name == "arrays/0.npy":
            self.fp.flush()
            print("first array written", flush=True)
            time.sleep(600)

    zipfile.ZipFile.writestr = writestr
    big = fastnn.from_numpy(np.full(int(sys.argv[2]), 2.0, dtype=np.float32))
    fastnn.save({"weight": big, "bias": fastnn.zeros(3), "step": 2}, sys.argv[1])
    print("save finished", flush=True)
""")


def _child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env


def _dead_pid():
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return proc.pid
    pytest.skip(f"pid {proc.pid} was reused at once")


def _temporaries(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def test_killed_save_leaves_old_checkpoint_and_next_save_removes_its_temporary(tmp_path):
    path = tmp_path / "ckpt.fnn"
    fastnn.save({"weight": fastnn.ones(4), "step": 1}, path)
    before = path.read_bytes()

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(BIG)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_child_env())
    try:
        line = child.stdout.readline()
        assert line == "first array written\n", (line, child.stderr.read() if child.poll() is not None else "")
        stale = _temporaries(tmp_path)
        assert len(stale) == 1 and re.fullmatch(rf"\.ckpt\.fnn\.{child.pid}\.[0-9a-f]{{12}}\.tmp", stale[0]), stale
        assert os.path.getsize(tmp_path / stale[0]) > BIG * 4  # the big tensor is on disk
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    # the kill damaged nothing, and the temporary stayed behind
    assert path.read_bytes() == before
    assert fastnn.load(path)["step"] == 1
    assert _temporaries(tmp_path) == stale
    assert _atomic.stale_temporaries(path) == [str(tmp_path / stale[0])]

    # the next successful save of the same file removes it
    fastnn.save({"weight": fastnn.full((4,), 3.0), "step": 3}, path)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.fnn"]
    ckpt = fastnn.load(path)
    assert ckpt["step"] == 3
    np.testing.assert_array_equal(ckpt["weight"].numpy(), np.full(4, 3.0, np.float32))


def test_temporaries_of_live_processes_and_other_files_are_left_alone(tmp_path):
    path = tmp_path / "model.fnn"
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = "0123456789ab"
        keep = [
            f".model.fnn.{live.pid}.{token}.tmp",          # a writer that is still running
            f".model.fnn.{os.getpid()}.{token}.tmp",       # this process (another thread may be writing)
            f".model.fnn.{dead}.0123456789a.tmp",          # 11 hex digits: not our pattern
            f".model.fnn.{dead}.0123456789AB.tmp",         # upper case: not our pattern
            f".model.fnn.{dead}.{token}.tmp.png",          # another suffix
            f"model.fnn.{dead}.{token}.tmp",               # no leading dot
            f".model.fnn.x{dead}.{token}.tmp",             # not a pid
            f".other.fnn.{dead}.{token}.tmp",              # another target's temporary
            f".model.fnn.{dead}.{dead}.{token}.tmp",       # the temporary of a target named model.fnn.<pid>
            ".model.fnn.tmp",
        ]
        for name in keep:
            (tmp_path / name).write_bytes(b"partial")
        not_a_file = tmp_path / f".model.fnn.{dead}.ba9876543210.tmp"
        not_a_file.mkdir()
        stale = tmp_path / f".model.fnn.{dead}.{token}.tmp"
        stale.write_bytes(b"partial")

        fastnn.save({"x": fastnn.arange(3)}, path)
        remaining = set(os.listdir(tmp_path))
        assert remaining == set(keep) | {"model.fnn", not_a_file.name}
        assert not stale.exists() and not_a_file.is_dir()
    finally:
        live.kill()
        live.wait()
    # once the writer has exited, its temporary is stale too
    fastnn.save({"x": fastnn.arange(3)}, path)
    assert f".model.fnn.{live.pid}.{token}.tmp" not in os.listdir(tmp_path)
    assert f".model.fnn.{os.getpid()}.{token}.tmp" in os.listdir(tmp_path)


def test_failed_write_keeps_the_old_file_and_leaves_stale_temporaries(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old\n")
    stale = tmp_path / f".log.csv.{_dead_pid()}.00000000abcd.tmp"
    stale.write_text("partial")
    with pytest.raises(RuntimeError, match="midway"):
        with _atomic.atomic_open(path, "w") as f:
            f.write("new\n")
            raise RuntimeError("midway")
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == [stale.name, "log.csv"]  # only a successful write cleans up
    with _atomic.atomic_open(path, "w") as f:
        f.write("new\n")
    assert path.read_text() == "new\n" and sorted(os.listdir(tmp_path)) == ["log.csv"]


def test_temporary_name_and_permissions(tmp_path):
    tmp = _atomic.temporary_name(tmp_path / "a.bin")
    assert os.path.dirname(tmp) == str(tmp_path)
    assert re.fullmatch(rf"\.a\.bin\.{os.getpid()}\.[0-9a-f]{{12}}\.tmp", os.path.basename(tmp))
    old = os.umask(0o022)
    try:
        with _atomic.atomic_open(tmp_path / "a.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "a.bin").st_mode & 0o777) == 0o644  # as open() would, not mkstemp's 0o600
    with pytest.raises(ValueError, match="'mode'"):
        with _atomic.atomic_open(tmp_path / "a.bin", "ab"):
            pass


def _write_checkpoint(path):
    fastnn.save({"a": 1}, path)


def _write_h5(path):
    pytest.importorskip("h5py")
    from fastnn.data import save_h5
    save_h5(path, x=np.zeros((2, 3), np.float32))


def _write_plot(path):
    if not fastnn.plot.available():
        pytest.skip("matplotlib is not installed")
    fastnn.plot.plot_curves({"loss": [3.0, 2.0, 1.0]}, path=path)


def _write_describe_plot(path):
    if not fastnn.plot.available():
        pytest.skip("matplotlib is not installed")
    from fastnn.data import describe
    describe(np.zeros((4, 1, 5, 5), np.uint8), np.array([0, 1, 0, 1])).plot(path)


def _write_csv_log(path):
    from fastnn.train import CSVLogger
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})


@pytest.mark.parametrize("writer, name", [(_write_checkpoint, "c.fnn"), (_write_h5, "s.h5"), (_write_plot, "p.png"),
                                          (_write_describe_plot, "d.png"), (_write_csv_log, "log.csv")])
def test_every_writer_goes_through_the_helper(tmp_path, writer, name):
    import fastnn.plot  # noqa: F401
    stale = tmp_path / f".{name}.{_dead_pid()}.0123456789ab.tmp"
    stale.write_bytes(b"left by a killed writer")
    writer(tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == [name]
