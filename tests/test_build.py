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


def _cpu_has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
    except OSError:
        return None
    return "avx2" in flags and "fma" in flags


def test_info_command():
    out = _run(["-m", "fastnn", "info"])
    lines = out.splitlines()
    assert lines[0] == f"fastnn {fastnn.__version__}"
    assert any(l.startswith("cpu path: ") and l.split(": ")[1] in ("avx2", "portable") for l in lines)
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
    has = _cpu_has_avx2()
    if has is not None:
        assert default == ("avx2" if has else "portable")
    assert "cpu path: portable" in _run(["-m", "fastnn", "info"], FASTNN_CPU_PATH="portable")


def test_refresh_cpu_path_switches_in_process():
    old = os.environ.get("FASTNN_CPU_PATH")
    try:
        os.environ["FASTNN_CPU_PATH"] = "portable"
        _C.refresh_cpu_path()
        assert _C.cpu_path() == "portable"
        os.environ.pop("FASTNN_CPU_PATH")
        _C.refresh_cpu_path()
        if _cpu_has_avx2():
            assert _C.cpu_path() == "avx2"
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
