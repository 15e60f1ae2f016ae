"""Shared fixtures: a seeded fastnn RNG for every test, ``torch`` (skips when PyTorch is missing), ``pyg`` and
``diffusers`` (likewise for PyTorch Geometric and Hugging Face diffusers) and
``cpu_path`` (runs a test on every CPU path: avx512, avx2 and portable, skipping those this machine
cannot run with the reason)."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import _C


IN_CI = os.environ.get("CI", "").lower() == "true"
# Absent on purpose on a machine without CUDA; every other importorskip names a test reference or a data
# source that README's test command installs.
OPTIONAL_IN_CI = ("fastnn._C_cuda", "cupy")

if IN_CI:
    _importorskip = pytest.importorskip

    def _importorskip_or_fail(modname, *args, **kwargs):
        """Under CI a missing reference fails the test (or the module's collection) instead of skipping."""
        try:
            return _importorskip(modname, *args, **kwargs)
        except pytest.skip.Exception as exc:
            if modname.startswith(OPTIONAL_IN_CI):
                raise
            pytest.fail(f"CI=true: {modname} is missing ({exc}); README's test command installs it", pytrace=False)

    pytest.importorskip = _importorskip_or_fail


@pytest.fixture(autouse=True)
def _seed():
    fastnn.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="session")
def diffusers():
    """Hugging Face diffusers, the reference of fastnn.diffusion's schedulers and models (it needs torch)."""
    pytest.importorskip("torch")
    return pytest.importorskip("diffusers")


@pytest.fixture(scope="session")
def pyg():
    """torch_geometric, the graph tests' reference (it needs torch)."""
    pytest.importorskip("torch")
    return pytest.importorskip("torch_geometric")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


CPU_PATHS = ("avx512", "avx2", "portable")


@pytest.fixture(params=CPU_PATHS)
def cpu_path(request):
    """Selects the CPU kernels for one test (FASTNN_CPU_PATH), restoring the previous choice afterwards."""
    why = _C.cpu_paths().get(request.param, "this build does not hold it")
    if why:
        pytest.skip(f"the {request.param} path cannot run here: {why}")
    old = os.environ.get("FASTNN_CPU_PATH")
    os.environ["FASTNN_CPU_PATH"] = request.param
    _C.refresh_cpu_path()
    try:
        assert _C.cpu_path() == request.param
        yield request.param
    finally:
        if old is None:
            os.environ.pop("FASTNN_CPU_PATH", None)
        else:
            os.environ["FASTNN_CPU_PATH"] = old
        _C.refresh_cpu_path()
