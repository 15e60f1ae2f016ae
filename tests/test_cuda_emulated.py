"""The CUDA GEMM and convolution kernels, run on the CPU: tests/cuda_emu/ compiles csrc/ops/gemm/cuda.cu
and conv.cu with a host stand-in for the CUDA runtime (one thread per CUDA thread, shared memory,
block and warp barriers emulated) and for the wmma TF32 fragments, and checks every case against a
float64 reference. This covers the kernels' indexing, tiling and synchronisation, the TF32 kernel
included, on machines without a GPU; its speed and the real fragment layouts need a GPU."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EMU = ROOT / "tests" / "cuda_emu"


def test_simt_gemm_and_conv_kernels_emulated_on_cpu(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    exe = tmp_path / "emulate_gemm_conv"
    build = subprocess.run([cxx, "-std=c++20", "-O1", "-w", "-pthread", "-I", str(EMU), "-I", str(ROOT / "csrc"),
                            str(EMU / "emulate_gemm_conv.cpp"), "-o", str(exe)], capture_output=True, text=True)
    if build.returncode != 0 and "barrier" in build.stderr and "No such file" in build.stderr:
        pytest.skip("the C++ library has no <barrier> (C++20)")
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, "\n".join(l for l in lines if l.startswith("FAIL")) or run.stdout[-3000:] + run.stderr
    assert lines[-1].startswith("0 failures"), lines[-1]
    assert sum(l.startswith("ok ") for l in lines) >= 75
    assert sum(l.startswith("ok ") and "tf32" in l for l in lines) >= 20
