"""The native module as installed: `fastnn info`, thread count, the CPU path switch, `fastnn bench`."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _C, cli


def _run(args, **env):
    full_env = dict(os.environ)
    full_env.pop("FASTNN_CPU_PATH", None)
    full_env.update(env)
    return subprocess.run([sys.executable, *args], env=full_env, capture_output=True, text=True, check=True).stdout


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(f.read().split())
    except OSError:
        return None


def _widest_path():
    """The path the CPU flags (as Linux reports them, OS support included) call for, or None."""
    flags = _cpu_flags()
    if flags is None:
        return None
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"} <= flags:
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= flags else "portable"


def test_info_command():
    out = _run(["-m", "fastnn", "info"])
    lines = out.splitlines()
    assert lines[0] == f"fastnn {fastnn.__version__}"
    assert any(l.startswith("cpu path: ") and l.split(": ")[1] in ("avx512", "avx2", "portable") for l in lines)
    assert any(l.startswith("cpu paths: ") and "portable (usable)" in l for l in lines)
    assert any(l.startswith("vector extensions: ") for l in lines)
    caches = next(l for l in lines if l.startswith("caches: "))
    assert "l1d" in caches and "l2" in caches and "l3" in caches
    assert any(l.startswith("cpu threads: ") and int(l.split(": ")[1]) >= 1 for l in lines)
    assert any(l.startswith("cuda built: ") for l in lines)
    assert any(l.startswith("cuda available: ") for l in lines)


def test_info_in_process(capsys):
    assert cli.main(["info"]) == 0
    assert f"fastnn {fastnn.__version__}" in capsys.readouterr().out


def test_cpu_path_from_environment():
    code = "from fastnn import _C; print(_C.cpu_path())"
    assert _run(["-c", code], FASTNN_CPU_PATH="portable").strip() == "portable"
    default = _run(["-c", code]).strip()
    if _widest_path() is not None:
        assert default == _widest_path()
    assert "cpu path: portable" in _run(["-m", "fastnn", "info"], FASTNN_CPU_PATH="portable")


@pytest.mark.parametrize("value,message", [
    ("avx1024", "FASTNN_CPU_PATH must be one of avx512, avx2, portable or auto, got 'avx1024'"),
    ("AVX2", "must be one of"),
])
def test_unknown_cpu_path_is_a_clear_error(value, message):
    env = dict(os.environ, FASTNN_CPU_PATH=value)
    r = subprocess.run([sys.executable, "-c", "import fastnn"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and message in r.stderr


def test_unusable_cpu_path_is_a_clear_error():
    unusable = [p for p, why in _C.cpu_paths().items() if why]
    if not unusable:
        pytest.skip("every path of this build runs on this CPU")
    env = dict(os.environ, FASTNN_CPU_PATH=unusable[0])
    r = subprocess.run([sys.executable, "-c", "import fastnn"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and f"FASTNN_CPU_PATH={unusable[0]} cannot run here" in r.stderr


def test_paths_and_caches_reported():
    paths = _C.cpu_paths()
    assert list(paths)[-1] == "portable" and paths["portable"] == ""
    assert _C.cpu_path() in paths and paths[_C.cpu_path()] == ""
    c = _C.cache_sizes()
    assert 4096 <= c["l1d"] <= c["l2"] <= max(c["l3"], c["l2"])


def test_refresh_cpu_path_switches_in_process():
    old = os.environ.get("FASTNN_CPU_PATH")
    try:
        os.environ["FASTNN_CPU_PATH"] = "portable"
        _C.refresh_cpu_path()
        assert _C.cpu_path() == "portable"
        os.environ.pop("FASTNN_CPU_PATH")
        _C.refresh_cpu_path()
        if _widest_path() is not None:
            assert _C.cpu_path() == _widest_path()
    finally:
        if old is not None:
            os.environ["FASTNN_CPU_PATH"] = old
        _C.refresh_cpu_path()


def test_num_threads():
    old = fastnn.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastnn.set_num_threads(n)
            assert fastnn.get_num_threads() == n == _C.get_num_threads()
            a = np.random.default_rng(n).standard_normal((1, 90, 70))
            b = np.random.default_rng(n + 1).standard_normal((1, 70, 80))
            c = np.empty((1, 90, 80))
            _C.gemm(a, b, c)
            np.testing.assert_allclose(c, a @ b, rtol=1e-12, atol=1e-12)
    finally:
        fastnn.set_num_threads(old)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", None])
def test_set_num_threads_rejects(bad):
    with pytest.raises(ValueError, match="set_num_threads: argument 'n' must be a positive int"):
        fastnn.set_num_threads(bad)


def test_bench_command_from_checkout(capsys):
    if cli._bench_script() is None:
        pytest.skip("not running from a source checkout")
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--help"])
    assert e.value.code == 0
    assert "--only" in capsys.readouterr().out


def test_bench_command_without_checkout(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_bench_script", lambda: None)
    assert cli.main(["bench"]) == 2
    assert "bench/ folder of fastnn's source repository" in capsys.readouterr().err
