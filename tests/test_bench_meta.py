"""bench/run.py records what a table was measured on (CPU, vector extensions, fastnn's CPU path,
the OpenBLAS kernel), and runs each bench script in a process without OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE, whose OpenBLAS kernel is the one recorded."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

import fastnn

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUN_PY = ROOT / "bench" / "run.py"
pytestmark = pytest.mark.skipif(not RUN_PY.is_file(), reason="bench/ is not part of an installed package")
HAS_THREADPOOLCTL = importlib.util.find_spec("threadpoolctl") is not None

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ht syscall pni ssse3 fma cx16 sse4_1 sse4_2 avx f16c rdrand avx2 avx512f avx512_vnni sha_ni

processor\t: 1
model name\t: something else
flags\t\t: fpu sse
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm sve sve2
CPU implementer\t: 0x41
CPU architecture: 8
"""


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("fastnn_bench_run_under_test", RUN_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cpu_info_parses_x86_and_arm(run):
    info = run.cpu_info(X86)
    assert info == {"model": "AMD EPYC 7B13", "family": "25",
                    "vector_extensions": ["sse", "sse2", "sse3", "ssse3", "fma", "sse4_1", "sse4_2", "avx", "f16c",
                                          "avx2", "avx512f", "avx512_vnni"]}
    info = run.cpu_info(ARM)
    assert info == {"model": None, "family": "8", "vector_extensions": ["asimd", "fphp", "asimdhp", "asimdrdm",
                                                                        "sve", "sve2"]}
    assert run.cpu_info("") == {"model": None, "family": None, "vector_extensions": []}


def test_metadata_fields_on_this_machine(run):
    openblas = [{"internal_api": "openblas", "version": "0.3.31", "architecture": "Zen", "num_threads": 2,
                 "filepath": "/x/libopenblas.so"}]
    meta = run.metadata("cpu", openblas)
    assert set(meta) >= {"cpu_model", "cpu_family", "vector_extensions", "cpu_path", "threads", "openblas",
                         "openblas_env_removed", "fastnn_version", "numpy"}
    assert meta["cpu_path"] == fastnn._C.cpu_path()
    assert meta["threads"] == fastnn.get_num_threads() and meta["openblas"] == openblas
    assert isinstance(meta["cpu_model"], str) and meta["cpu_model"]
    if os.path.exists("/proc/cpuinfo"):
        text = pathlib.Path("/proc/cpuinfo").read_text(errors="replace")
        model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                     None)
        if model:
            assert meta["cpu_model"] == model
        if "\nflags" in text and " sse2 " in text:
            assert {"sse", "sse2"} <= set(meta["vector_extensions"])
        if fastnn._C.cpu_path() == "avx2":
            assert {"avx2", "fma"} <= set(meta["vector_extensions"])
    lines = run.describe(meta)
    assert f"cpu path {meta['cpu_path']}" in lines[0] and lines[1].startswith("vector extensions: ")
    assert "OpenBLAS 0.3.31: kernel Zen, 2 threads (libopenblas.so)" in lines[2]
    assert "OpenBLAS kernel: unknown (threadpoolctl is not installed" in run.describe_openblas(None)


def test_bench_processes_run_without_the_openblas_variables(run, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "65536")
    monkeypatch.setenv("FASTNN_BENCH_TEST_MARK", "kept")
    env = run.bench_env()
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert env["FASTNN_BENCH_TEST_MARK"] == "kept"
    assert os.environ["OPENBLAS_CORETYPE"] == "Prescott"  # this process's environment is left as it was

    seen = run.probe()  # a real bench process
    assert seen["env"] == {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}
    assert seen["fastnn_file"] == str(pathlib.Path(fastnn.__file__).resolve())  # the fastnn this process uses
    assert seen["cpu_path"] == fastnn._C.cpu_path()
    meta = run.metadata("cpu", seen["openblas"])
    assert meta["openblas_env_removed"] == {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_L2_SIZE": "65536"}
    assert "OPENBLAS_CORETYPE=Prescott, OPENBLAS_L2_SIZE=65536 removed for the benchmark processes" in \
        run.describe(meta)[2]
    if not HAS_THREADPOOLCTL:
        assert seen["openblas"] is None
        return
    assert isinstance(seen["openblas"], list)
    for lib in seen["openblas"]:
        assert set(lib) == set(run.OPENBLAS_FIELDS) and lib["version"] and lib["num_threads"] >= 1
    if not seen["openblas"]:
        return
    # The kernel OpenBLAS picks by itself (variables removed here, independently of run.py) and the one
    # that OPENBLAS_CORETYPE forces: the bench process must have run the former.
    natural, forced = (_openblas_kernels({k: v for k, v in os.environ.items() if k not in run.OPENBLAS_ENV}),
                       _openblas_kernels(dict(os.environ)))
    assert [lib["architecture"] for lib in seen["openblas"]] == natural
    if forced == natural:
        pytest.skip(f"OPENBLAS_CORETYPE=Prescott does not change this OpenBLAS's kernel ({natural})")


def _openblas_kernels(env):
    code = ("import json, numpy, threadpoolctl; print(json.dumps([i['architecture'] for i in "
            "threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']))")
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     env=env).stdout)


def test_openblas_kernel_unknown_without_threadpoolctl(run, monkeypatch, tmp_path):
    (tmp_path / "threadpoolctl.py").write_text("raise ImportError('threadpoolctl hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p))
    seen = run.probe()
    assert seen["openblas"] is None
    assert "OpenBLAS kernel: unknown (threadpoolctl is not installed" in run.describe(run.metadata("cpu", None))[2]


def test_run_py_prints_and_saves_the_metadata(run, monkeypatch, tmp_path, capfd):
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    (bench_dir / "bench_probe.py").write_text(
        "import os\n\n"
        "def run(device, quick):\n"
        "    import fastnn\n"
        "    return [{'op': 'probe', 'shape': str(fastnn.get_num_threads()), 'fastnn_ms': 1.0, 'ref': 'none',\n"
        "             'ref_ms': 2.0, 'note': os.environ.get('OPENBLAS_CORETYPE', 'unset')}]\n")
    monkeypatch.setattr(run, "HERE", bench_dir)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")
    out = tmp_path / "table.json"
    threads = fastnn.get_num_threads()
    try:
        assert run.main(["--only", "probe", "--threads", "1", "--json", str(out)]) == 0
    finally:
        fastnn.set_num_threads(threads)
    printed = capfd.readouterr().out
    assert "cpu path " + fastnn._C.cpu_path() in printed and "vector extensions: " in printed
    assert "OpenBLAS" in printed and "OPENBLAS_CORETYPE=Prescott removed" in printed
    assert "| probe" in printed and "2.00x" in printed
    data = json.loads(out.read_text())
    assert data["rows"] == [{"op": "probe", "shape": "1", "fastnn_ms": 1.0, "ref": "none", "ref_ms": 2.0,
                             "note": "unset", "family": "probe"}]
    meta = data["meta"]
    assert meta["cpu_path"] == fastnn._C.cpu_path() and meta["threads"] == 1
    assert meta["openblas_env_removed"] == {"OPENBLAS_CORETYPE": "Prescott"}
    assert "vector_extensions" in meta and "cpu_model" in meta and "cpu_family" in meta
    assert (meta["openblas"] is None) == (not HAS_THREADPOOLCTL)
    assert data["header"].startswith(f"fastnn {fastnn.__version__} on cpu: ")
    with pytest.raises(SystemExit):
        run.main(["--only", "nosuchfamily"])
